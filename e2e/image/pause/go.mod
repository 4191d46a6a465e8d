module manofwar.local/e2e/image/pause

go 1.22

// The pod sandbox ("pause") image's one program, for nodes that cannot pull
// registry.k8s.io/pause (e2e/image/oci.sh builds it static and packs it as /pause).
// It holds the pod's namespaces open: it sleeps until SIGINT or SIGTERM and then exits 0,
// and, being PID 1 of the pod when the pod shares its process namespace, it reaps the
// orphans re-parented to it, as the upstream pause.c does.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (manofwar e2e) 3.10")
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}

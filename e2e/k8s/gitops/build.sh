#!/usr/bin/env bash
# Builds gitops-judge (this directory's Go module) once per change of its sources and prints the
# binary's path: ${MANOFWAR_K8S_CACHE:-$HOME/.cache/manofwar/k8s}/bin/gitops-judge. The hash of
# go.mod, go.sum and *.go is kept next to it (.gitops-judge.sha256); a warm run only hashes.
# Build output goes to stderr, the path alone to stdout:  judge=$(e2e/k8s/gitops/build.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${MANOFWAR_K8S_CACHE:-$HOME/.cache/manofwar/k8s}/bin
out=$bin/gitops-judge
stamp=$bin/.gitops-judge.sha256

sources_hash() {
  local f
  (
    cd "$here"
    for f in go.mod go.sum $(LC_ALL=C ls -- *.go); do
      printf '%s\n' "$f"
      cat -- "$f"
    done
  ) | sha256sum | cut -d' ' -f1
}

want=$(sources_hash)
if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$bin"
# One build at a time (two test scripts may start together).
exec 9>"$bin/.gitops-judge.lock"
flock 9
if ! [ -x "$out" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "gitops-judge: building ($here)" >&2
  tmp=$bin/.gitops-judge.$$
  (
    cd "$here"
    GOWORK=off CGO_ENABLED=0 nice -n 19 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp" .
  ) >&2 || { rm -f "$tmp"; exit 1; }
  mv -f "$tmp" "$out"
  echo "$want" >"$stamp"
fi
echo "$out"

#!/usr/bin/env bash
# `make e2e-k8s`: build (once, cached) a Kubernetes v1.34 control plane from Go modules, then run
# the CRD tests against it. The first run builds etcd and the Kubernetes binaries (10-25 minutes
# on 2 cores, under nice); later runs take about a minute. See control-plane.sh for the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/control-plane.sh" build
exec "$here/crd_test.sh"

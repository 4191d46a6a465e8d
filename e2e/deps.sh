#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks need on a fresh Debian 12
# machine. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev pkg-config clang libclang-dev
  chromium nginx-light wrk jq curl python3-pip python3-venv iproute2 openssl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
if ! command -v node >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

# The OpenID provider the single sign-on tests sign in at: zitadel/oidc's example provider, a
# real OP (discovery, JWKS, code flow with PKCE, userinfo), built from its Go module.
OIDC_OP=$HOME/.cache/manofwar/bin/oidc-example-op
if [ ! -x "$OIDC_OP" ]; then
  command -v go >/dev/null || { echo "go not found: install Go (1.22 or newer) first" >&2; exit 1; }
  echo "building the example OpenID provider (github.com/zitadel/oidc/v3/example/server@v3.52.0)"
  mkdir -p "$(dirname "$OIDC_OP")"
  tmp=$(mktemp -d)
  GOBIN=$tmp go install github.com/zitadel/oidc/v3/example/server@v3.52.0
  mv "$tmp/server" "$OIDC_OP"
  rm -rf "$tmp"
fi

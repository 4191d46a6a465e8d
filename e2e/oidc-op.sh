#!/usr/bin/env bash
# Builds the OpenID provider the single sign-on tests sign in at (node/tests/e2e/sso.rs,
# web/test/sso.test.mjs): zitadel/oidc's example provider, a real OP (discovery, JWKS, code flow
# with PKCE, userinfo), from its Go module, into ~/.cache/manofwar/bin. Idempotent. Needs Go
# (as the Kubernetes end-to-end tests do); `make run` does not.
set -euo pipefail
OIDC_OP=$HOME/.cache/manofwar/bin/oidc-example-op
[ -x "$OIDC_OP" ] && exit 0
command -v go >/dev/null || { echo "go not found: the single sign-on tests need Go 1.22 or newer (https://go.dev/dl)" >&2; exit 1; }
echo "building the example OpenID provider (github.com/zitadel/oidc/v3/example/server@v3.52.0)"
mkdir -p "$(dirname "$OIDC_OP")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN=$tmp go install github.com/zitadel/oidc/v3/example/server@v3.52.0
mv "$tmp/server" "$OIDC_OP"

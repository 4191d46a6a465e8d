#!/usr/bin/env bash
# Static checks of what manofwar ships to Kubernetes, no cluster needed (`make test-k8s-static`):
#   1. helm lint --strict charts/manofwar, with default and non-default values;
#   2. helm template | kubernetes-validate --strict -k 1.34.0 for several value sets, the CRDs
#      included (the hub's HTTPRoute, like the ServiceMonitor, has no offline schema: its wiring
#      is checked by validate.py hub); the chart's CRDs equal the generated ones and carry the
#      keep annotation iff crds.keep; the RBAC is least privilege; no Deployment selects another's
#      pods; the front door (hub.enabled, the default) is wired to the operator's directory and
#      absent without it; values.schema.json refuses bad values;
#   3. every manifest in examples/: core kinds with kubernetes-validate, manofwar.io kinds with
#      the CRDs' schemas (their CEL rules: cargo test -p manofwar-crds --test examples), Flux /
#      Argo CD / kustomize kinds skipped for want of an offline schema;
#   4. the API server's validation code (Go, apiserver-check/): the CRDs are accepted (structural,
#      CEL compiled within cost budget), examples pass and every resource in invalid/ is refused;
#   5. examples/argocd/health.lua under Lua 5.1 and 5.4, and argocd-cm.yaml embeds it verbatim.
# Tools come from PyPI (and lua from Debian), cached under ${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=e2e/k8s-static
chart=charts/manofwar
crds=$chart/crds-generated
# shellcheck source=e2e/k8s-static/tools.sh
source "$here/tools.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL $*"; failed=1; }
validate() { "$KV_PYTHON" "$here/validate.py" "$@" || failed=1; }

# The front door reached from outside: Ingress, HTTPRoute, OIDC, the user's admin Secret.
hub_routes="--set hub.ingress.enabled=true --set hub.ingress.host=media.example.org \
--set hub.ingress.className=nginx --set hub.ingress.tls.secretName=media-tls \
--set hub.httpRoute.enabled=true --set hub.httpRoute.parentRefs[0].name=gateway \
--set hub.httpRoute.parentRefs[0].namespace=gateway-system \
--set hub.httpRoute.hostnames[0]=media.example.org --set hub.publicUrl=https://media.example.org \
--set hub.oidc.enabled=true --set hub.oidc.issuer=https://auth.example.org/realms/home \
--set hub.oidc.clientId=manofwar --set hub.oidc.clientSecret.name=manofwar-oidc \
--set hub.trustedProxies={10.42.0.0/16} --set hub.initialAdmin.existingSecret=my-admin \
--set hub.persistence.enabled=false"

step "helm lint --strict"
helm lint --strict "$chart" || failed=1
helm lint --strict "$chart" --set metrics.serviceMonitor.enabled=true --set crds.keep=false \
  --set operator.replicas=2 --set image.digest="sha256:$(printf '%064d' 0)" || failed=1
# shellcheck disable=SC2086 # a word list
helm lint --strict "$chart" $hub_routes || failed=1

# name | helm flags | expected CRD mode
renders=(
  "defaults||--keep"
  "no-keep-servicemonitor|--set crds.keep=false --set metrics.serviceMonitor.enabled=true --set metrics.grafanaDashboard.enabled=true|--no-keep"
  "no-crds-no-rbac|--set crds.install=false --set rbac.create=false --set serviceAccount.create=false --set operator.leaderElection=false --set metrics.service.enabled=false|--absent"
  "coordinator|--set coordinator.enabled=true --set coordinator.identitySecret=coordinator-identity --set coordinator.members[0].peerId=12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA --set coordinator.members[0].name=ann --set coordinator.externalAddresses[0]=/ip4/203.0.113.7/udp/4001/quic-v1|--keep"
  "hub-routes|$hub_routes|--keep"
  "no-hub|--set hub.enabled=false|--keep"
)
for render in "${renders[@]}"; do
  IFS='|' read -r name flags mode <<<"$render"
  step "helm template ($name) | kubernetes-validate --strict -k 1.34.0"
  # shellcheck disable=SC2086 # flags are word lists
  if ! helm template manofwar "$chart" --namespace manofwar-system $flags >"$tmp/$name.yaml"; then
    fail "helm template ($name)"
    continue
  fi
  # kubernetes-validate itself, as the issue asks; it only warns on kinds it has no schema for,
  # so its output is checked too: the only such kinds the chart renders are the ServiceMonitor
  # and the hub's HTTPRoute.
  kubernetes-validate --strict -k 1.34.0 "$tmp/$name.yaml" | tee "$tmp/$name.kv" || failed=1
  if grep -v -e '^INFO' -e 'kind ServiceMonitor with api version monitoring.coreos.com' \
    -e 'kind HTTPRoute with api version gateway.networking.k8s.io' \
    "$tmp/$name.kv" | grep -q .; then
    fail "kubernetes-validate reported more than INFO for ($name)"
  fi
  validate manifests --skip-group monitoring.coreos.com --skip-group gateway.networking.k8s.io \
    "$tmp/$name.yaml" >/dev/null
  validate chart-crds --crds "$crds" "$mode" "$tmp/$name.yaml"
  validate selectors "$tmp/$name.yaml"
  if [ "$name" = no-hub ]; then
    validate hub --absent "$tmp/$name.yaml"
  else
    validate hub "$tmp/$name.yaml"
  fi
done
validate rbac "$tmp/defaults.yaml"
grep -q 'kind: ServiceMonitor' "$tmp/no-keep-servicemonitor.yaml" || fail "no ServiceMonitor rendered"
if grep -q 'kind: ServiceMonitor' "$tmp/defaults.yaml"; then fail "ServiceMonitor rendered by default"; fi
if grep -q 'grafana_dashboard' "$tmp/defaults.yaml"; then fail "Grafana dashboard rendered by default"; fi
# With monitoring on: the ServiceMonitor selects the operator's and the hub's metrics Services
# (the hub serves /metrics on its own port), and the dashboard ConfigMap holds a dashboard whose
# every panel queries Prometheus. (That its metrics exist: the operator's and node's tests.)
"$KV_PYTHON" - "$tmp/no-keep-servicemonitor.yaml" <<'PY' || fail "monitoring wiring (above)"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = lambda kind: [d for d in docs if d["kind"] == kind]
monitor = by("ServiceMonitor")[0]
wanted = monitor["spec"]["selector"]["matchLabels"]
selected = sorted(d["metadata"]["name"] for d in by("Service")
                  if all(d["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items()))
assert selected == ["manofwar-hub-metrics", "manofwar-metrics"], selected
hub = next(d for d in by("Deployment") if d["metadata"]["name"] == "manofwar-hub")
args = hub["spec"]["template"]["spec"]["containers"][0]["args"]
assert "--metrics-listen" in args, args
[cm] = [d for d in by("ConfigMap") if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
dashboard = json.loads(cm["data"]["manofwar.json"])
exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
assert len(exprs) >= 10 and all("manofwar_" in e for e in exprs), exprs
print(f"ok   ServiceMonitor selects {selected}; dashboard {dashboard['title']!r}: {len(dashboard['panels'])} panels")
PY
for kind in Ingress HTTPRoute; do
  grep -q "^kind: $kind" "$tmp/hub-routes.yaml" || fail "no hub $kind rendered"
  if grep -q "^kind: $kind" "$tmp/defaults.yaml"; then fail "hub $kind rendered by default"; fi
done

step "values.schema.json refuses bad values"
for bad in "operator.replicas=-1" "image.pullPolicy=Sometimes" "crds.install=maybe" \
  "bogus=1" "operator.logFormat=xml" "metrics.serviceMonitor.interval=soon" \
  "hub.enabled=maybe" "hub.service.type=Public" "hub.persistence.size=lots" \
  "hub.ingress.enabled=true" "hub.httpRoute.enabled=true" "hub.oidc.enabled=true" \
  "hub.publicUrl=media.example.org" "hub.bogus=1" "metrics.grafanaDashboard.enabled=maybe"; do
  if helm template manofwar "$chart" --set "$bad" >/dev/null 2>&1; then
    fail "values.schema.json accepted --set $bad"
  else
    echo "ok   refused --set $bad"
  fi
done

step "examples/"
mapfile -t examples < <(find examples -name '*.yaml' -o -name '*.yml' | sort)
validate manifests --crds "$crds" \
  --skip-group source.toolkit.fluxcd.io --skip-group kustomize.toolkit.fluxcd.io \
  --skip-group helm.toolkit.fluxcd.io --skip-group argoproj.io \
  --skip-group kustomize.config.k8s.io "${examples[@]}"
step "examples/kustomization.yaml builds"
kubectl kustomize examples >"$tmp/kustomized.yaml" || fail "kubectl kustomize examples"
validate manifests --crds "$crds" "$tmp/kustomized.yaml" >/dev/null

step "the API server's own validation code (apiserver-check, Go)"
# k8s.io/apiextensions-apiserver v0.34 run in-process: CRD validation as on create (structural
# schema, CEL compiled, cost estimates within budget), then every example resource and every
# resource in invalid/ through pruning, defaulting, OpenAPI, list-map and CEL validation.
# Built once per source change and cached; needs Go and the Go module proxy.
if [ "${MANOFWAR_SKIP_APISERVER_CHECK:-0}" = 1 ]; then
  echo "SKIP apiserver-check: MANOFWAR_SKIP_APISERVER_CHECK=1"
elif ! command -v go >/dev/null; then
  echo "SKIP apiserver-check: no Go toolchain on PATH (the schema and CEL checks above still ran)"
else
  src=$here/apiserver-check
  sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
  checker=$CACHE/apiserver-check-$sum
  if [ ! -x "$checker" ]; then
    echo "k8s-static: building apiserver-check (first run: a few minutes)" >&2
    if (cd "$src" && go build -o "$checker.part" .); then
      mv "$checker.part" "$checker"
    else
      fail "building apiserver-check"
    fi
  fi
  if [ -x "$checker" ]; then
    mapfile -t manifests < <(grep -l '^apiVersion: manofwar.io/' "${examples[@]}")
    "$checker" "$crds" "${manifests[@]}" || failed=1
    "$checker" -invalid "$crds" "$here"/invalid/*.yaml || failed=1
  fi
fi

step "Argo CD health.lua"
"$KV_PYTHON" - examples/argocd/argocd-cm.yaml examples/argocd/health.lua <<'PY' || failed=1
import sys, yaml
cm, lua = yaml.safe_load(open(sys.argv[1])), open(sys.argv[2]).read()
kinds = ["MediaLibrary", "TranscodeProfile", "PeerGroup"]
bad = [k for k in kinds if cm["data"].get("resource.customizations.health.manofwar.io_" + k) != lua]
print("FAIL argocd-cm.yaml differs from health.lua for %s" % bad if bad else
      "ok   argocd-cm.yaml embeds health.lua for %s" % ", ".join(kinds))
sys.exit(1 if bad else 0)
PY
if ! command -v lua5.1 >/dev/null || ! command -v lua5.4 >/dev/null; then
  echo "k8s-static: installing lua5.1 and lua5.4 (Debian)" >&2
  apt-get install -y -qq lua5.1 lua5.4 >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq lua5.1 lua5.4 >/dev/null; }
fi
for lua in lua5.1 lua5.4; do
  "$lua" "$here/health_test.lua" examples/argocd/health.lua || failed=1
done

echo
if [ "$failed" -ne 0 ]; then
  echo "k8s-static: FAILED"
  exit 1
fi
echo "k8s-static: all checks passed"

#!/usr/bin/env bash
# The manofwar CRDs against a real API server (`e2e/k8s/run.sh`, `make e2e-k8s`): starts the
# control plane from control-plane.sh in a temp dir, then
#   1. applies the generated CRDs (charts/manofwar/crds-generated/, or `crdgen --stdout` when
#      they are missing) and waits for Established; no NonStructuralSchema; the chart's rendered
#      CRDs pass a server-side dry run too (when helm is at hand);
#   2. discovery: short names, the `manofwar` category;
#   3. applies every example custom resource in examples/, checks the defaults the server fills
#      in, printer columns (`kubectl get tp|ml|pg`, also -o wide) and the status subresource
#      (Ready column, list-map conditions keyed by type, status ignored on the main resource);
#   4. invalid resources are refused with the CEL rule's message (named cases below, and every
#      document in e2e/k8s-static/invalid/), unknown fields refused (strict field validation);
#   5. the controllers the operator relies on: garbage collection of a MediaLibrary's dependents,
#      the Job controller creating a Pod and the scheduler binding it to a registered Node;
# then tears everything down. MANOFWAR_CRDS=DIR|FILE tests other CRDs than the chart's. Prints `N passed, M failed`; exits 1 on any failure.
# MANOFWAR_K8S_KEEP=1 leaves the control plane running (and says where) for a look afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
CP=$here/control-plane.sh

# shellcheck source=e2e/k8s/lib.sh
source "$here/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-k8s-e2e.XXXXXX")
cpdir=$tmp/control-plane
trap 'finish_cluster $?' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
control_plane_up
echo "kubectl: $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -1))"
echo "server:  $(k version 2>/dev/null | grep Server)"

# expect_ok NAME command...: passes when the command succeeds; shows its output when not.
expect_ok() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name"; indent <<<"$out"; fi
}

# ---------------------------------------------------------------------------------------------
step "CRDs"
# MANOFWAR_CRDS: another directory (or file) of CRDs to test instead of the chart's.
crd_dir=${MANOFWAR_CRDS:-charts/manofwar/crds-generated}
mapfile -t crd_files < <(find "$crd_dir" -maxdepth 1 -name '*.yaml' 2>/dev/null | sort)
if ((${#crd_files[@]} == 0)); then
  echo "no CRDs in $crd_dir: generating them with crdgen --stdout"
  if cargo run -q -p manofwar-crds --bin crdgen -- --stdout >"$tmp/crds.yaml" 2>"$tmp/crdgen.log"; then
    crd_files=("$tmp/crds.yaml")
  else
    indent <"$tmp/crdgen.log"
    bad "crdgen --stdout"
  fi
fi
for f in "${crd_files[@]}"; do
  expect_ok "CRD accepted: ${f#"$root"/}" \
    k apply --server-side --field-manager=manofwar-e2e -f "$f"
done
crds=(medialibraries.manofwar.io transcodeprofiles.manofwar.io peergroups.manofwar.io)
for crd in "${crds[@]}"; do
  if out=$(k wait --for condition=established --timeout=60s "crd/$crd" 2>&1); then
    ok "$crd Established"
  else
    bad "$crd Established"
    indent <<<"$out"
    k get "crd/$crd" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' 2>&1 | indent
    continue
  fi
  conds=$(k get "crd/$crd" -o jsonpath='{range .status.conditions[*]}{.type}={.status};{end}')
  case "$conds" in
  *NonStructuralSchema=True*) bad "$crd has a structural schema: $conds" ;;
  *NamesAccepted=True*) ok "$crd structural, names accepted ($conds)" ;;
  *) bad "$crd names accepted: $conds" ;;
  esac
done
# Every CEL message in the installed CRDs (for the generic invalid-resource checks below).
k get crd "${crds[@]}" -o json 2>/dev/null |
  jq -r '.. | objects | select(has("x-kubernetes-validations")) | ."x-kubernetes-validations"[].message' |
  sort -u >"$tmp/cel-messages"
echo "$(wc -l <"$tmp/cel-messages") CEL messages in the installed CRDs"

helm=$(command -v helm || find "$HOME/.cache/manofwar" -maxdepth 2 -path '*/k8s-tools-*/helm' 2>/dev/null | sort | tail -1)
if [ -n "$helm" ] && [ -x "$helm" ]; then
  if "$helm" template manofwar charts/manofwar --namespace manofwar-system \
    --show-only templates/crds.yaml >"$tmp/chart-crds.yaml" 2>"$tmp/helm.log"; then
    expect_ok "chart-rendered CRDs (labels, keep annotation) pass a server-side dry run" \
      k apply --server-side --force-conflicts --dry-run=server --field-manager=helm -f "$tmp/chart-crds.yaml"
  else
    bad "helm template --show-only templates/crds.yaml"
    indent <"$tmp/helm.log"
  fi
else
  echo "skip chart-rendered CRDs: no helm (e2e/k8s-static/tools.sh installs it)"
fi

# ---------------------------------------------------------------------------------------------
step "discovery"
got=$(k api-resources --api-group=manofwar.io --no-headers 2>&1 | awk '{print $1" "$2}' | sort | tr '\n' ';')
if [ "$got" = "medialibraries ml,medialib;peergroups pg;transcodeprofiles tp;" ]; then
  ok "api-resources: $got"
else
  bad "api-resources (resource shortnames): $got"
fi
expect_ok "kubectl get manofwar (category) -A" k get manofwar -A

# ---------------------------------------------------------------------------------------------
step "examples"
expect_ok "apply examples/namespace.yaml" k apply -f examples/namespace.yaml
mapfile -t example_files < <(grep -lE '^kind: (MediaLibrary|TranscodeProfile|PeerGroup)$' -r examples \
  --include='*.yaml' | sort)
# Profiles first: libraries name them (the API server does not care, a reader might).
for f in $(printf '%s\n' "${example_files[@]}" | grep profiles/) \
  $(printf '%s\n' "${example_files[@]}" | grep -v profiles/); do
  expect_ok "example accepted: $f" k apply -f "$f"
done
expect_ok "kubectl apply -k examples --dry-run=server (the GitOps unit)" \
  k apply -k examples --dry-run=server

want_count() { # kind expected-count
  local n
  n=$(k get "$1" -n media --no-headers 2>/dev/null | wc -l)
  if [ "$n" = "$2" ]; then ok "kubectl get $1 -n media: $n objects"; else bad "kubectl get $1 -n media: $n objects, want $2"; fi
}
want_count tp "$(cat "${example_files[@]}" | grep -cE '^kind: TranscodeProfile$')"
want_count ml "$(cat "${example_files[@]}" | grep -cE '^kind: MediaLibrary$')"
want_count pg "$(cat "${example_files[@]}" | grep -cE '^kind: PeerGroup$')"

# header KIND WANT [flags]: the printer columns kubectl shows.
header() {
  local kind=$1 want=$2 got
  shift 2
  got=$(k get "$kind" -n media "$@" 2>&1 | head -1 | tr -s ' ')
  local cmd="kubectl get $kind${*:+ $*}"
  if [ "$got" = "$want" ]; then ok "$cmd: columns $got"; else bad "$cmd: columns '$got', want '$want'"; fi
}
header tp "NAME READY SEGMENT HARDWARE WORKERS AGE"
header tp "NAME READY SEGMENT HARDWARE WORKERS LIBRARIES AGE" -o wide
header ml "NAME READY ITEMS PENDING URL AGE"
header ml "NAME READY ITEMS PENDING FAILED URL AGE" -o wide
header pg "NAME READY PEER ID CONNECTED AGE"
header pg "NAME READY PEER ID CONNECTED SERVICE AGE" -o wide

# Server-side defaults (the API server fills them in from the schema).
tp_min=$(cat <<'Y'
apiVersion: manofwar.io/v1alpha1
kind: TranscodeProfile
metadata: {name: minimal, namespace: media}
spec: {}
Y
)
if out=$(k apply -f - <<<"$tp_min" 2>&1); then
  got=$(k get tp minimal -n media -o jsonpath='{.spec.segmentSeconds}/{.spec.hardware}/{.spec.audioBitrateKbps}/{.spec.renditions[*].name}/{.spec.workers.parallelism}')
  if [[ "$got" =~ ^[0-9]+/[a-z0-9]+/[0-9]+/[^/]+/[0-9]+$ ]]; then
    ok "TranscodeProfile with an empty spec gets server-side defaults: $got (segment/hardware/audio/renditions/workers)"
  else
    bad "TranscodeProfile defaults: got '$got'"
  fi
  got=$(k get tp minimal -n media --no-headers | tr -s ' ')
  ok "kubectl get tp minimal: $got"
else
  bad "TranscodeProfile with an empty spec (all defaults) accepted"
  indent <<<"$out"
fi

# ---------------------------------------------------------------------------------------------
step "status subresource"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
status_patch='{"status":{"observedGeneration":1,"libraries":["movies","home-videos"],"conditions":[
 {"type":"Ready","status":"True","reason":"Valid","message":"profile is valid","lastTransitionTime":"'$now'"},
 {"type":"Reconciling","status":"False","reason":"Done","message":"","lastTransitionTime":"'$now'"}]}}'
if out=$(k patch tp standard -n media --subresource=status --type=merge -p "$status_patch" 2>&1); then
  ok "status patched through the status subresource"
  row=$(k get tp standard -n media -o wide --no-headers | tr -s ' ')
  read -r _ ready _ _ _ libs _ <<<"$row"
  if [ "$ready" = True ] && [ "$libs" = '["movies","home-videos"]' ]; then
    ok "printer columns read status: READY=$ready LIBRARIES=$libs"
  else
    bad "printer columns from status: row '$row'"
  fi
else
  bad "status patch via --subresource=status"
  indent <<<"$out"
fi
dup='{"status":{"conditions":[
 {"type":"Ready","status":"True","reason":"A","message":"","lastTransitionTime":"'$now'"},
 {"type":"Ready","status":"False","reason":"B","message":"","lastTransitionTime":"'$now'"}]}}'
if out=$(k patch tp standard -n media --subresource=status --type=merge -p "$dup" 2>&1); then
  bad "two Ready conditions accepted (conditions must be a list-map keyed by type)"
else
  if grep -q 'Duplicate value' <<<"$out"; then ok "conditions are a list-map keyed by type (duplicate type refused)"; else bad "duplicate condition type refused for another reason"; indent <<<"$out"; fi
fi
gen=$(k get tp standard -n media -o jsonpath='{.metadata.generation}')
k patch tp standard -n media --type=merge -p '{"status":{"observedGeneration":99}}' >/dev/null 2>&1
og=$(k get tp standard -n media -o jsonpath='{.status.observedGeneration}')
gen2=$(k get tp standard -n media -o jsonpath='{.metadata.generation}')
if [ "$og" = 1 ] && [ "$gen" = "$gen2" ]; then
  ok "status written through the main resource is ignored (generation stays $gen)"
else
  bad "status via the main resource: observedGeneration=$og generation $gen -> $gen2"
fi
k patch tp standard -n media --type=merge -p '{"spec":{"segmentSeconds":4}}' >/dev/null 2>&1
gen3=$(k get tp standard -n media -o jsonpath='{.metadata.generation}')
if [ "$gen3" = $((gen + 1)) ]; then ok "a spec change bumps metadata.generation ($gen -> $gen3)"; else bad "generation after a spec change: $gen -> $gen3"; fi

# ---------------------------------------------------------------------------------------------
step "invalid resources are refused"
# refused NAME EXPECTED-MESSAGE MANIFEST: the create must fail with the message, and store nothing.
refused() {
  local name=$1 want=$2 manifest=$3 out
  if out=$(k apply -f - <<<"$manifest" 2>&1); then
    bad "$name: accepted, want refusal with '$want'"
    k delete -f - --wait=false <<<"$manifest" >/dev/null 2>&1
    return
  fi
  if grep -qF -- "$want" <<<"$out"; then
    ok "$name: $(grep -F -- "$want" <<<"$out" | head -1 | sed 's/^The //')"
  else
    bad "$name: refused without '$want'"
    indent <<<"$out"
  fi
}
refused "TranscodeProfile with duplicate rendition names" "rendition names must be unique" '
apiVersion: manofwar.io/v1alpha1
kind: TranscodeProfile
metadata: {name: dup-renditions, namespace: media}
spec:
  renditions:
  - {name: 720p, height: 720, videoBitrateKbps: 3000}
  - {name: 720p, height: 720, videoBitrateKbps: 2500}'
refused "TranscodeProfile with height 10" "rendition height must be 144..4320" '
apiVersion: manofwar.io/v1alpha1
kind: TranscodeProfile
metadata: {name: tiny, namespace: media}
spec:
  renditions:
  - {name: tiny, height: 10, videoBitrateKbps: 300}'
refused "MediaLibrary with no media source" "media must set exactly one of pvc, nfs or hostPath" '
apiVersion: manofwar.io/v1alpha1
kind: MediaLibrary
metadata: {name: nomedia, namespace: media}
spec:
  media: {}
  profiles: [standard]'
refused "MediaLibrary without spec.media at all" 'spec.media: Required value' '
apiVersion: manofwar.io/v1alpha1
kind: MediaLibrary
metadata: {name: nomedia2, namespace: media}
spec:
  profiles: [standard]'
refused "TranscodeProfile with an unknown field (strict field validation)" 'unknown field "spec.bogus"' '
apiVersion: manofwar.io/v1alpha1
kind: TranscodeProfile
metadata: {name: bogus, namespace: media}
spec:
  bogus: 1'
refused "PeerGroup with duplicate peers" "peers must not repeat a peerId" '
apiVersion: manofwar.io/v1alpha1
kind: PeerGroup
metadata: {name: dup-peers, namespace: media}
spec:
  peers:
  - {peerId: 12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA, name: a}
  - {peerId: 12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA, name: b}'
# An update is validated too (CEL rules run on updates, not only creates).
refused "update of an accepted TranscodeProfile to segmentSeconds 0" "segmentSeconds must be 1..30" '
apiVersion: manofwar.io/v1alpha1
kind: TranscodeProfile
metadata: {name: minimal, namespace: media}
spec: {segmentSeconds: 0}'

# Every document in e2e/k8s-static/invalid/ (the offline checks' set): refused, with one of the
# CRDs' CEL messages or an OpenAPI schema error (enum, type) in the answer.
for f in e2e/k8s-static/invalid/*.yaml; do
  [ -f "$f" ] || continue
  rm -rf "$tmp/docs" && mkdir -p "$tmp/docs"
  awk -v d="$tmp/docs" 'BEGIN{n=1} /^---/{n++; next} {print > (d "/" sprintf("%03d", n) ".yaml")}' "$f"
  for doc in "$tmp/docs"/*.yaml; do
    grep -q '^kind:' "$doc" || continue
    what=$(grep -m1 '^# ' "$doc" | sed 's/^# //')
    name="${f#e2e/k8s-static/invalid/} $(grep -m1 '^kind:' "$doc" | awk '{print $2}') ($what)"
    if out=$(k apply -f "$doc" 2>&1); then
      bad "$name: accepted"
      k delete -f "$doc" --wait=false >/dev/null 2>&1
      continue
    fi
    if grep -qFf "$tmp/cel-messages" <<<"$out"; then
      ok "$name: $(grep -oFf "$tmp/cel-messages" <<<"$out" | head -1)"
    elif grep -qE 'Unsupported value|should be (greater|less) than|Invalid value: "(string|integer|object|array)"|must be of type|Required value' <<<"$out" &&
      grep -q 'is invalid' <<<"$out"; then
      ok "$name: schema: $(grep -oE '(spec|metadata)[^ ]*: (Unsupported|Invalid|Required).*' <<<"$out" | head -1 | cut -c1-120)"
    else
      bad "$name: refused, but not by validation"
      indent <<<"$out"
    fi
  done
done

# ---------------------------------------------------------------------------------------------
step "controllers the operator relies on"
# Garbage collection: a dependent owned by a MediaLibrary goes when the library goes.
uid=$(k get ml home-videos -n media -o jsonpath='{.metadata.uid}' 2>/dev/null)
if [ -n "$uid" ] && k apply -f - >/dev/null 2>&1 <<Y
apiVersion: v1
kind: ConfigMap
metadata:
  name: home-videos-child
  namespace: media
  ownerReferences:
  - {apiVersion: manofwar.io/v1alpha1, kind: MediaLibrary, name: home-videos, uid: "$uid", controller: true, blockOwnerDeletion: true}
data: {a: b}
Y
then
  k delete ml home-videos -n media --wait=true --timeout=60s >/dev/null 2>&1
  deadline=$((SECONDS + 60))
  while k get configmap home-videos-child -n media >/dev/null 2>&1 && ((SECONDS < deadline)); do sleep 1; done
  if k get configmap home-videos-child -n media >/dev/null 2>&1; then
    bad "garbage collector removed the MediaLibrary's dependent ConfigMap (still there after 60s)"
  else
    ok "garbage collector removed the MediaLibrary's dependent ConfigMap"
  fi
else
  bad "create a ConfigMap owned by MediaLibrary home-videos (uid '$uid')"
fi

# Job controller + scheduler: a Job's Pod is created and bound to the one (fake) Node.
if k apply -f - >/dev/null 2>&1 <<'Y'
apiVersion: v1
kind: Node
metadata:
  name: e2e-node
  labels: {kubernetes.io/hostname: e2e-node}
---
apiVersion: batch/v1
kind: Job
metadata: {name: e2e-job, namespace: media}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      tolerations: [{operator: Exists}]
      containers: [{name: c, image: registry.invalid/none:0, command: ["true"]}]
Y
then
  # No kubelet: give the Node the capacity a kubelet would report, or nothing fits on it.
  k patch node e2e-node --subresource=status --type=merge -p '{"status":{
    "capacity":{"cpu":"4","memory":"8Gi","pods":"20"},
    "allocatable":{"cpu":"4","memory":"8Gi","pods":"20"}}}' >/dev/null
  deadline=$((SECONDS + 90))
  node=""
  while ((SECONDS < deadline)); do
    node=$(k get pods -n media -l job-name=e2e-job -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
    [ -n "$node" ] && break
    sleep 1
  done
  pods=$(k get pods -n media -l job-name=e2e-job --no-headers 2>/dev/null | wc -l)
  if ((pods > 0)); then ok "Job controller created the Job's Pod"; else bad "Job controller created no Pod in 90s"; fi
  if [ "$node" = e2e-node ]; then ok "scheduler bound the Pod to node $node"; else bad "scheduler did not bind the Job's Pod (nodeName '$node')"; k describe pods -n media -l job-name=e2e-job 2>&1 | tail -8 | indent; fi
else
  bad "create a Node and a Job"
fi

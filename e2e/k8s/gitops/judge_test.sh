#!/usr/bin/env bash
# gitops-judge against a real API server: what Flux (kstatus) and Argo CD (examples/argocd/
# health.lua under gopher-lua) say about a MediaLibrary while its status goes through the
# lifecycle the operator writes (operator/src/reconcile/health.rs: Ready, Reconciling and
# Stalled, always all three, with status.observedGeneration). No operator runs here: the status
# is patched by hand through the status subresource, as the operator would write it.
#   1. builds the tool (build.sh), runs its offline checks (go test, --file);
#   2. starts the control plane (e2e/k8s/control-plane.sh up), applies the CRDs;
#   3. a MediaLibrary from examples/ through: no status, ServerStarting, Transcoding, Ready,
#      spec edited (stale observedGeneration), Stalled (ProfileNotFound), fixed, terminating,
#      deleted; --wait-for (success, timeout, an object that appears later); other kinds;
#      API errors;
#   4. lifecycle.sh's gitops_lifecycle (what cluster_test.sh runs with the real operator on a
#      node) with a stand-in for the operator: a loop writing the status the operator would;
# then stops the control plane. Prints `N passed, M failed`; exits 1 on any failure.
# MANOFWAR_K8S_KEEP=1 leaves the control plane running (and says where) for a look afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
k8s=$(cd "$here/.." && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
CP=$k8s/control-plane.sh
lua=$root/examples/argocd/health.lua

# shellcheck source=e2e/k8s/lib.sh
source "$k8s/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gitops-judge-test.XXXXXX")
cpdir=$tmp/control-plane
trap 'finish_cluster $?' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
step "build"
t0=$SECONDS
if judge=$("$here/build.sh" 2>"$tmp/build.log"); then
  ok "gitops-judge built in $((SECONDS - t0))s: $judge"
else
  indent <"$tmp/build.log"
  bad "build.sh"
  exit 1
fi
t0=$(date +%s%N)
"$here/build.sh" >/dev/null 2>&1
ok "warm build.sh: $((($(date +%s%N) - t0) / 1000000)) ms"

step "offline checks"
if command -v go >/dev/null; then
  if out=$(cd "$here" && GOWORK=off nice -n 19 go test -count=1 ./... 2>&1); then
    ok "go test: $(tail -1 <<<"$out")"
  else
    bad "go test"
    indent <<<"$out"
  fi
fi
got=$("$judge" --health-lua "$lua" --file examples/libraries/movies-nfs.yaml 2>&1)
want="kstatus=Current argo=Progressing message=Waiting for the manofwar operator"
if [ "$got" = "$want" ]; then ok "--file examples/libraries/movies-nfs.yaml: $got"; else bad "--file movies-nfs.yaml: got '$got'"; fi
"$judge" --health-lua "$lua" MediaLibrary media >/dev/null 2>&1
rc=$?
if [ "$rc" = 2 ]; then ok "two arguments: usage error, exit 2"; else bad "two arguments: exit $rc, want 2"; fi
"$judge" MediaLibrary media movies >/dev/null 2>&1
rc=$?
if [ "$rc" = 2 ]; then ok "no --health-lua: usage error, exit 2"; else bad "no --health-lua: exit $rc, want 2"; fi

# ---------------------------------------------------------------------------------------------
control_plane_up

step "CRDs and examples"
for f in charts/manofwar/crds-generated/*.yaml; do
  check "CRD applied: $f" k apply --server-side --field-manager=manofwar-e2e -f "$f"
done
check "CRDs Established" k wait --for condition=established --timeout=60s \
  crd/medialibraries.manofwar.io crd/transcodeprofiles.manofwar.io crd/peergroups.manofwar.io
check "examples/namespace.yaml applied" k apply -f examples/namespace.yaml
for f in examples/profiles/standard.yaml examples/profiles/mobile.yaml examples/peergroup.yaml; do
  check "$f applied" k apply -f "$f"
done

# ---------------------------------------------------------------------------------------------
J() { "$judge" --kubeconfig "$KUBECONFIG" --health-lua "$lua" "$@"; }

# expect WHAT WANT-LINE KIND NAMESPACE NAME: one judgement, the whole line compared.
expect() {
  local what=$1 want=$2 got rc
  shift 2
  got=$(J "$@" 2>"$tmp/judge.err")
  rc=$?
  if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
    ok "$what: $got"
  else
    bad "$what: got '$got' (exit $rc), want '$want'"
    indent <"$tmp/judge.err"
  fi
}

# set_status KIND NAME OBSERVED-GENERATION HEALTH REASON MESSAGE: the status the operator writes
# for HEALTH (ready|progressing|stalled), every condition at OBSERVED-GENERATION, in namespace
# $NS (media).
set_status() {
  local kind=$1 name=$2 gen=$3 health=$4 reason=$5 message=$6 patch
  patch=$(jq -cn --argjson g "$gen" --arg h "$health" --arg r "$reason" --arg m "$message" \
    --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    def c(type; on): {type: type, status: (if on then "True" else "False" end), reason: $r,
      message: (if on or type == "Ready" then $m else "" end), observedGeneration: $g,
      lastTransitionTime: $t};
    {status: {observedGeneration: $g, conditions: [
      c("Ready"; $h == "ready"), c("Reconciling"; $h == "progressing"),
      c("Stalled"; $h == "stalled")]}}')
  k patch "$kind" "$name" -n "${NS:-media}" --subresource=status --type=merge -p "$patch" >/dev/null
}

gen() { k get ml "$1" -n media -o jsonpath='{.metadata.generation}'; }

step "MediaLibrary lifecycle"
check "examples/libraries/movies-nfs.yaml applied" k apply -f examples/libraries/movies-nfs.yaml
expect "created, no status yet (kstatus: no conditions is Current)" \
  "kstatus=Current argo=Progressing message=Waiting for the manofwar operator" MediaLibrary media movies

set_status ml movies 1 progressing ServerStarting \
  "waiting for the library server Deployment to have an available pod"
expect "first reconcile: Reconciling=True (ServerStarting)" \
  "kstatus=InProgress argo=Progressing message=waiting for the library server Deployment to have an available pod" \
  MediaLibrary media movies

set_status ml movies 1 progressing Transcoding "2 of 3 items waiting or being transcoded"
expect "Reconciling=True (Transcoding)" \
  "kstatus=InProgress argo=Progressing message=2 of 3 items waiting or being transcoded" ml media movies

set_status ml movies 1 ready Ready "library server up; 3 items ready, 0 failed"
expect "Ready=True, observedGeneration == generation (1)" \
  "kstatus=Current argo=Healthy message=library server up; 3 items ready, 0 failed" MediaLibrary media movies

k patch ml movies -n media --type=merge -p '{"spec":{"profiles":["standard","missing"]}}' >/dev/null
g=$(gen movies)
expect "spec edited (generation $g), status still Ready at generation 1" \
  "kstatus=InProgress argo=Progressing message=Waiting for the operator to observe generation $g" \
  MediaLibrary media movies

stalled='TranscodeProfile "missing" not found in namespace "media": create it or remove it from spec.profiles'
set_status ml movies "$g" stalled ProfileNotFound "$stalled"
expect "Stalled=True (ProfileNotFound)" "kstatus=Failed argo=Degraded message=$stalled" \
  MediaLibrary media movies

k patch ml movies -n media --type=merge -p '{"spec":{"profiles":["standard","mobile"]}}' >/dev/null
g=$(gen movies)
expect "spec fixed (generation $g), status still Stalled at generation $((g - 1))" \
  "kstatus=InProgress argo=Progressing message=Waiting for the operator to observe generation $g" \
  MediaLibrary media movies
set_status ml movies "$g" progressing ServerStarting \
  "waiting for the library server Deployment to have an available pod"

# --wait-for: the operator's Ready arrives 2 s later.
(sleep 2 && set_status ml movies "$g" ready Ready "library server up; 3 items ready, 0 failed") &
t0=$SECONDS
got=$(J --wait-for 'kstatus=Current argo=Healthy' --timeout 30s MediaLibrary media movies 2>"$tmp/wait.err")
rc=$?
wait
if [ "$rc" = 0 ] && [ "$got" = "kstatus=Current argo=Healthy message=library server up; 3 items ready, 0 failed" ]; then
  ok "fixed: --wait-for 'kstatus=Current argo=Healthy' returned in $((SECONDS - t0))s: $got"
else
  bad "--wait-for Current/Healthy: exit $rc, '$got'"
fi
if head -1 "$tmp/wait.err" | grep -q 'kstatus=InProgress argo=Progressing' &&
  grep -q 'kstatus=Current argo=Healthy' "$tmp/wait.err"; then
  ok "--wait-for reports what it saw on stderr (InProgress, then Current)"
else
  bad "--wait-for's stderr"
fi
indent <"$tmp/wait.err"

t0=$SECONDS
got=$(J --wait-for 'kstatus=Failed' --timeout 3s MediaLibrary media movies 2>"$tmp/wait.err")
rc=$?
if [ "$rc" = 1 ] && [ "$got" = "kstatus=Current argo=Healthy message=library server up; 3 items ready, 0 failed" ]; then
  ok "--wait-for timing out: exit 1 after $((SECONDS - t0))s, last line printed"
else
  bad "--wait-for timing out: exit $rc, '$got'"
  indent <"$tmp/wait.err"
fi

# Deletion, held by a finalizer: kstatus Terminating, Argo CD "Pending deletion".
k patch ml movies -n media --type=merge -p '{"metadata":{"finalizers":["manofwar.io/e2e-hold"]}}' >/dev/null
k delete ml movies -n media --wait=false >/dev/null
expect "deleted, held by a finalizer" "kstatus=Terminating argo=Progressing message=Pending deletion" \
  MediaLibrary media movies
J --wait-for 'kstatus=NotFound argo=Missing' --timeout 30s MediaLibrary media movies \
  >"$tmp/gone.out" 2>"$tmp/gone.err" &
waiter=$!
sleep 1
k patch ml movies -n media --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
if wait "$waiter"; then
  ok "--wait-for 'kstatus=NotFound argo=Missing' while the finalizer goes: $(cat "$tmp/gone.out")"
else
  bad "--wait-for NotFound: $(cat "$tmp/gone.out")"
  indent <"$tmp/gone.err"
fi
expect "deleted" "kstatus=NotFound argo=Missing message=" MediaLibrary media movies

# --wait-for started before the object exists (as after `kubectl apply` of a new library).
J --wait-for 'kstatus=Current argo=Healthy' --timeout 30s MediaLibrary media movies \
  >"$tmp/late.out" 2>"$tmp/late.err" &
waiter=$!
sleep 1
k apply -f examples/libraries/movies-nfs.yaml >/dev/null
sleep 1
set_status ml movies 1 progressing ServerStarting "waiting for the library server Deployment to have an available pod"
sleep 1
set_status ml movies 1 ready Ready "library server up; 0 items ready, 0 failed"
if wait "$waiter"; then
  ok "--wait-for from before creation: $(cat "$tmp/late.out")"
  if [ "$(sed 's/^gitops-judge: +[0-9.]*s //' "$tmp/late.err" | cut -d' ' -f1-2 | paste -sd'|')" = \
    "kstatus=NotFound argo=Missing|kstatus=Current argo=Progressing|kstatus=InProgress argo=Progressing|kstatus=Current argo=Healthy" ]; then
    ok "it saw every state: NotFound, Current/Progressing (no status), InProgress, Current/Healthy"
  else
    bad "the states --wait-for saw"
  fi
else
  bad "--wait-for from before creation: $(cat "$tmp/late.out")"
fi
indent <"$tmp/late.err"

# ---------------------------------------------------------------------------------------------
step "other kinds"
set_status tp standard 1 ready Ready "profile is valid"
expect "TranscodeProfile, Ready" "kstatus=Current argo=Healthy message=profile is valid" TranscodeProfile media standard
expect "TranscodeProfile by short name tp" "kstatus=Current argo=Healthy message=profile is valid" tp media standard
set_status pg friends 1 stalled IdentityInvalid "Secret friends-identity holds no valid key"
expect "PeerGroup, Stalled" "kstatus=Failed argo=Degraded message=Secret friends-identity holds no valid key" \
  PeerGroup media friends
expect "PeerGroup by Kind.group" "kstatus=Failed argo=Degraded message=Secret friends-identity holds no valid key" \
  PeerGroup.manofwar.io media friends
expect "ConfigMap (health.lua does not apply)" \
  "kstatus=Current argo=Unknown message=the health.lua does not apply to ConfigMap (Argo CD would use its built-in check, if any)" \
  ConfigMap media kube-root-ca.crt
expect "Namespace (cluster-scoped, NAMESPACE ignored)" \
  "kstatus=Current argo=Unknown message=the health.lua does not apply to Namespace (Argo CD would use its built-in check, if any)" \
  Namespace - media
expect "missing TranscodeProfile" "kstatus=NotFound argo=Missing message=" TranscodeProfile media nope

step "API errors"
J NoSuchKind media x >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 1 ]; then ok "unknown kind: exit 1 ($(head -1 "$tmp/err"))"; else bad "unknown kind: exit $rc, want 1"; fi
k config view --raw | sed 's|server: https://.*|server: https://127.0.0.1:1|' >"$tmp/dead.kubeconfig"
"$judge" --kubeconfig "$tmp/dead.kubeconfig" --health-lua "$lua" MediaLibrary media movies >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 1 ]; then ok "unreachable API server: exit 1"; else bad "unreachable API server: exit $rc, want 1"; indent <"$tmp/err"; fi

# ---------------------------------------------------------------------------------------------
step "lifecycle.sh: gitops_lifecycle with a stand-in operator (no node here)"
# stand_in NAMESPACE NAME: what the operator writes for a library, with no children to wait for:
# Stalled while a profile is missing, else Progressing (ServerStarting) for 2 s, then Ready.
stand_in() {
  local ns=$1 name=$2 json gen p missing state="" since=0
  while :; do
    if json=$(kubectl get ml "$name" -n "$ns" -o json 2>/dev/null); then
      gen=$(jq -r .metadata.generation <<<"$json")
      missing=""
      for p in $(jq -r '.spec.profiles[]' <<<"$json"); do
        kubectl get tp "$p" -n "$ns" >/dev/null 2>&1 || missing=$p
      done
      if [ -n "$missing" ]; then
        [ "$state" = "$gen/stalled" ] || NS=$ns set_status ml "$name" "$gen" stalled ProfileNotFound \
          "TranscodeProfile \"$missing\" not found in namespace \"$ns\": create it or remove it from spec.profiles"
        state=$gen/stalled
      elif [ "$state" != "$gen/progressing" ] && [ "$state" != "$gen/ready" ]; then
        NS=$ns set_status ml "$name" "$gen" progressing ServerStarting \
          "waiting for the library server Deployment to have an available pod"
        state=$gen/progressing since=$SECONDS
      elif [ "$state" = "$gen/progressing" ] && ((SECONDS - since >= 2)); then
        NS=$ns set_status ml "$name" "$gen" ready Ready "library server up; 0 items ready, 0 failed"
        state=$gen/ready
      fi
    else
      state=""
    fi
    sleep 0.3
  done
}
# shellcheck source=e2e/k8s/gitops/lifecycle.sh
source "$here/lifecycle.sh"
stand_in gitops-dry home-videos >/dev/null 2>&1 &
operator=$!
t0=$SECONDS
MANOFWAR_NODE=fake-node GITOPS_TIMEOUT=60 gitops_lifecycle gitops-dry
rc=$?
kill "$operator" 2>/dev/null
wait "$operator" 2>/dev/null
if [ "$rc" = 0 ]; then ok "gitops_lifecycle returned 0 in $((SECONDS - t0))s"; else bad "gitops_lifecycle returned $rc"; fi

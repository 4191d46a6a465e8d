#!/usr/bin/env bash
# manofwar-operator against a real control plane (e2e/k8s/control-plane.sh): no kubelet runs
# pods, so the library server is stood in for by (a) a patched Deployment status and (b) a tiny
# stats server the operator reads through MANOFWAR_STATS_URL_TEMPLATE. Checks:
#   1. the operator runs with the chart's least-privilege RBAC (ServiceAccount token), takes the
#      leader Lease, serves /readyz and /metrics;
#   2. examples/: a MediaLibrary gets its Deployment, Service, Ingress, PVC, token Secret and
#      profiles ConfigMap, all owned by it; a PeerGroup its identity Secret, peers ConfigMap,
#      gateway Deployment and TCP+UDP Service, and a PeerId in its status; profiles list users;
#   3. once the server is "available" and reports queued items: one transcoder Job per profile,
#      status Transcoding with counts; queue empty: Ready=True and a Ready Event;
#   4. a missing profile stalls the library with a clear message; creating it resumes;
#   5. a profile edit replaces that profile's Job; deleting the library garbage-collects all;
#   6. a second replica waits; SIGTERM releases the Lease and the standby takes over.
# Prints `N passed, M failed`; exits 1 on any failure. MANOFWAR_K8S_KEEP=1 keeps the cluster.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
CP=$root/e2e/k8s/control-plane.sh

# shellcheck source=e2e/k8s/lib.sh
source "$root/e2e/k8s/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-operator-e2e.XXXXXX")
cpdir=$tmp/control-plane
pids=()
finish() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  finish_cluster "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

step "build and control plane"
cargo build --quiet -p manofwar-operator || { bad "cargo build"; exit 1; }
operator=$root/target/debug/manofwar-operator
"$CP" up "$cpdir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; bad "control plane up"; exit 1; }
# shellcheck disable=SC1091
source "$cpdir/env"
k apply --server-side -f charts/manofwar/crds-generated/ >/dev/null &&
  k wait --for condition=established crd --all --timeout=60s >/dev/null
check "CRDs established" k get crd medialibraries.manofwar.io

step "operator with the chart's RBAC"
k create namespace manofwar-system >/dev/null
helm=$(command -v helm || echo "$HOME/.cache/manofwar/k8s-tools-2.2.2/helm")
kubeconfig=$KUBECONFIG
if [ -x "$helm" ]; then
  "$helm" template manofwar charts/manofwar -n manofwar-system --set crds.install=false \
    -s templates/rbac.yaml -s templates/serviceaccount.yaml | k apply -f - >/dev/null
  token=$(k create token manofwar -n manofwar-system --duration=1h)
  kubectl config view --raw --minify >"$tmp/sa.kubeconfig"
  KUBECONFIG=$tmp/sa.kubeconfig kubectl config set-credentials sa --token="$token" >/dev/null
  KUBECONFIG=$tmp/sa.kubeconfig kubectl config set-context --current --user=sa >/dev/null
  kubeconfig=$tmp/sa.kubeconfig
  ok "running as system:serviceaccount:manofwar-system:manofwar"
else
  echo "skip RBAC: no helm (run make test-k8s-static once to fetch it)"
fi

stats=$tmp/stats.json
echo '{"total":0,"ready":0,"pending":0,"transcoding":0,"failed":0}' >"$stats"
read -r stats_port op_port op2_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
python3 - "$stats_port" "$stats" >"$tmp/stats.log" 2>&1 <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.headers.get("Authorization", "").startswith("Bearer ") or len(self.headers["Authorization"]) < 40:
            self.send_response(401); self.end_headers(); return
        body = open(path, "rb").read()
        self.send_response(200); self.send_header("content-type", "application/json"); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
pids+=($!)

start_operator() { # name port
  KUBECONFIG=$kubeconfig MANOFWAR_LISTEN=127.0.0.1:$2 MANOFWAR_LEADER_ELECTION=true \
    MANOFWAR_NAMESPACE=manofwar-system MANOFWAR_POD_NAME=$1 MANOFWAR_LOG_FORMAT=json \
    MANOFWAR_STATS_URL_TEMPLATE="http://127.0.0.1:$stats_port/{namespace}/{name}" \
    RUST_LOG=info "$operator" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
start_operator op-a "$op_port"
op_a=${pids[-1]}
eventually 30 "op-a ready" curl -fsS "http://127.0.0.1:$op_port/readyz"
eventually 30 "op-a holds the Lease" bash -c "kubectl get lease manofwar-operator -n manofwar-system -o jsonpath='{.spec.holderIdentity}' | grep -qx op-a"

step "children of the examples"
k apply -f examples/namespace.yaml -f examples/profiles/standard.yaml \
  -f examples/profiles/mobile.yaml -f examples/libraries/movies-nfs.yaml \
  -f examples/peergroup.yaml >/dev/null
for child in deployment/movies service/movies ingress/movies pvc/movies-data \
  secret/movies-worker-token configmap/movies-profiles secret/friends-identity \
  configmap/friends-peers deployment/friends-gateway service/friends-gateway; do
  eventually 30 "$child exists" k get -n media "$child"
done
owner() { k get -n media "$1" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller}'; }
check "the Deployment is controlled by the MediaLibrary" bash -c "[ \"\$(kubectl get -n media deploy/movies -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller}')\" = MediaLibrary/true ]"
echo "     owners: deploy/movies $(owner deploy/movies), secret/friends-identity $(owner secret/friends-identity)"
check "media mounted read-only" bash -c "kubectl get -n media deploy/movies -o jsonpath='{.spec.template.spec.volumes[0].nfs.readOnly}' | grep -qx true"
check "gateway Service has UDP" bash -c "kubectl get -n media svc/friends-gateway -o jsonpath='{.spec.ports[*].protocol}' | grep -qx 'TCP UDP'"
eventually 30 "PeerGroup status has a PeerId" bash -c "kubectl get pg friends -n media -o jsonpath='{.status.peerId}' | grep -Eq '^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$'"
check "the identity Secret names the same PeerId" bash -c "[ \"\$(kubectl get secret friends-identity -n media -o jsonpath='{.data.peer-id}' | base64 -d)\" = \"\$(kubectl get pg friends -n media -o jsonpath='{.status.peerId}')\" ]"
eventually 30 "profile status lists its library" bash -c "kubectl get tp standard -n media -o jsonpath='{.status.libraries}' | grep -q movies"
# No node runs pods here: the server's pod is waiting, or already seen as unschedulable.
eventually 30 "library Ready=False from the first reconcile (ServerStarting or Unschedulable)" bash -c "kubectl get ml movies -n media -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status} {.status.conditions[?(@.type==\"Ready\")].reason}' | grep -Eqx 'False (ServerStarting|Unschedulable)'"

step "queued items start one transcoder Job per profile"
kcm=$(cat "$cpdir/pids/kube-controller-manager.pid")
kill -STOP "$kcm" # keep the Deployment controller from resetting the status we fake
echo '{"total":5,"ready":2,"pending":2,"transcoding":1,"failed":0}' >"$stats"
available='{"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1}}'
k patch deploy movies -n media --subresource=status --type=merge -p "$available" >/dev/null
eventually 30 "Job for profile standard" bash -c "kubectl get jobs -n media -l manofwar.io/profile=standard -o name | grep -q ."
eventually 30 "Job for profile mobile" bash -c "kubectl get jobs -n media -l manofwar.io/profile=mobile -o name | grep -q ."
check "standard's Job has parallelism 2" bash -c "kubectl get jobs -n media -l manofwar.io/profile=standard -o jsonpath='{.items[0].spec.parallelism}' | grep -qx 2"
eventually 30 "status: Transcoding, pending 3 of 5" bash -c "[ \"\$(kubectl get ml movies -n media -o jsonpath='{.status.conditions[?(@.type==\"Reconciling\")].reason} {.status.items.pending}/{.status.items.total}')\" = 'Transcoding 3/5' ]"
old_job=$(k get jobs -n media -l manofwar.io/profile=standard -o jsonpath='{.items[0].metadata.name}')
k patch tp standard -n media --type=merge -p '{"spec":{"segmentSeconds":4}}' >/dev/null
eventually 30 "a profile edit replaces its Job" bash -c "! kubectl get job $old_job -n media && kubectl get jobs -n media -l manofwar.io/profile=standard -o name | grep -q ."
echo '{"total":5,"ready":5,"pending":0,"transcoding":0,"failed":0}' >"$stats"
eventually 40 "queue empty: Ready=True" bash -c "kubectl get ml movies -n media -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
check "a Ready Event" bash -c "kubectl get events.events.k8s.io -n media --field-selector reason=Ready -o jsonpath='{.items[*].regarding.name}' | grep -qw movies"
kill -CONT "$kcm"

step "a missing profile stalls the library"
k patch ml movies -n media --type=merge -p '{"spec":{"profiles":["standard","hevc-4k"]}}' >/dev/null
eventually 30 "Stalled=True ProfileNotFound" bash -c "kubectl get ml movies -n media -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].message}' | grep -q 'TranscodeProfile \"hevc-4k\" not found'"
k apply -f examples/profiles/hevc-4k.yaml >/dev/null
eventually 30 "creating it clears Stalled" bash -c "kubectl get ml movies -n media -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].status}' | grep -qx False"

step "leader election"
start_operator op-b "$op2_port"
eventually 30 "op-b ready as a standby" curl -fsS "http://127.0.0.1:$op2_port/readyz"
check "op-b does not lead" bash -c "curl -fsS http://127.0.0.1:$op2_port/metrics | grep -qx 'manofwar_operator_leader 0'"
kill -TERM "$op_a"
if wait "$op_a"; then ok "op-a exits 0 on SIGTERM"; else bad "op-a exit status"; fi
eventually 30 "op-b takes the Lease" bash -c "kubectl get lease manofwar-operator -n manofwar-system -o jsonpath='{.spec.holderIdentity}' | grep -qx op-b"

step "deleting the library garbage-collects its children"
k delete ml movies -n media >/dev/null
for child in deployment/movies service/movies ingress/movies secret/movies-worker-token configmap/movies-profiles; do
  eventually 60 "$child deleted" bash -c "! kubectl get -n media $child"
done
if grep -q '"level":"ERROR"' "$tmp"/op-*.log; then
  bad "operator logged errors"; grep '"level":"ERROR"' "$tmp"/op-*.log | head -5
else
  ok "no ERROR in the operator logs"
fi

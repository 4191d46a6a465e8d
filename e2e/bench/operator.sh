#!/usr/bin/env bash
# operator: manofwar-operator (release build) against a real control plane
# (e2e/k8s/control-plane.sh; built once and cached, 10-25 minutes the first time).
#   1. apply -> library Deployment created: N MediaLibraries created one at a time; p50 / p99 of
#      the time from the create request to the watch delivering the Deployment  -> p50 < 100 ms.
#      Baseline in the same run: Deployments created one at a time, until the watch delivers the
#      ReplicaSet kube-controller-manager's Deployment controller makes (the same kind of work:
#      one watch event in, one object out).
#   2. M MediaLibraries created back to back -> every one has all its children
#      (Deployment, Service, Secret, ConfigMap, PVC)                                -> < 20 s.
#   3. the operator's RSS once the burst has settled                                -> < 64 MiB.
# No pods run (no kubelet): this measures the operator and the API server only.
#
# Env: BENCH_OPERATOR_SAMPLES (default 50), BENCH_OPERATOR_LIBRARIES (default 200), plus lib.sh's.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SAMPLES=${BENCH_OPERATOR_SAMPLES:-50}
LIBRARIES=${BENCH_OPERATOR_LIBRARIES:-200}
CP=$BENCH_REPO/e2e/k8s/control-plane.sh
OPERATOR=$BENCH_REPO/target/release/manofwar-operator
need jq jq
bench_init operator

log "control plane (cached build) and the operator's release build"
"$CP" build >"$WORK/build.log" 2>&1 || { tail -n 20 "$WORK/build.log"; die "control plane build failed"; }
(cd "$BENCH_REPO" && cargo build --release -p manofwar-operator) || die "operator build failed"
"$CP" up "$WORK/cp" >"$WORK/up.log" 2>&1 || { tail -n 20 "$WORK/up.log"; die "control plane did not come up"; }
stop_cp() { "$CP" down "$WORK/cp" >/dev/null 2>&1 || true; bench_cleanup; }
trap stop_cp EXIT
# shellcheck disable=SC1091
source "$WORK/cp/env"
kubectl apply --server-side -f "$BENCH_REPO/charts/manofwar/crds-generated/" >/dev/null
kubectl wait --for condition=established crd --all --timeout=60s >/dev/null

port=$(free_port)
MANOFWAR_LISTEN=127.0.0.1:$port MANOFWAR_LOG_FORMAT=json RUST_LOG=warn \
  "$OPERATOR" >"$WORK/operator.log" 2>&1 &
OP_PID=$!
BENCH_PIDS+=("$OP_PID")
wait_http "http://127.0.0.1:$port/readyz" 60 || die "operator not ready: $(tail -n 5 "$WORK/operator.log")"

log "load: $SAMPLES timed creates each (libraries, then Deployments), then $LIBRARIES libraries at once"
python3 "$(dirname "${BASH_SOURCE[0]}")/operator_load.py" --server "$MANOFWAR_K8S_SERVER" \
  --token-file "$MANOFWAR_K8S_TOKEN_FILE" --ca "$MANOFWAR_K8S_CA" --operator-pid "$OP_PID" \
  --samples "$SAMPLES" --libraries "$LIBRARIES" >"$WORK/result.json" || die "load failed"
r() { jq -r "$1" "$WORK/result.json"; }
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
P50=$(f1 "$(r .operator.p50_ms)"); P99=$(f1 "$(r .operator.p99_ms)"); MAX=$(f1 "$(r .operator.max_ms)")
B50=$(f1 "$(r .baseline.p50_ms)"); B99=$(f1 "$(r .baseline.p99_ms)")
ALL=$(f1 "$(r .burst.all_children_s)"); CREATES=$(f1 "$(r .burst.creates_s)")
RSS=$(f1 "$(r .rss_mib.VmRSS)"); HWM=$(f1 "$(r .rss_mib.VmHWM)")
errors=$(grep -c '"level":"ERROR"' "$WORK/operator.log" || true)

verdict "$P50" '<' 100; V_P50=$VERDICT
verdict "$ALL" '<' 20; V_ALL=$VERDICT
verdict "$RSS" '<' 64; V_RSS=$VERDICT
X=$(ratio "$P50" "$B50")
printf '  %-52s p50 %6s ms, p99 %6s ms, max %s ms\n' "MediaLibrary -> Deployment (manofwar-operator)" "$P50" "$P99" "$MAX"
printf '  %-52s p50 %6s ms, p99 %6s ms\n' "Deployment -> ReplicaSet (kube-controller-manager)" "$B50" "$B99"
printf '  %-52s %6s s (creates took %s s)\n' "$LIBRARIES libraries -> all children" "$ALL" "$CREATES"
printf '  %-52s %6s MiB (peak %s MiB); %s ERROR lines in its log\n' "operator RSS after the burst" "$RSS" "$HWM" "$errors"
result_line "apply -> Deployment p50 = ${P50} ms, p99 = ${P99} ms (target p50 < 100 ms) $V_P50; ${X}x the Deployment controller's p50 (${B50} ms)"
result_line "$LIBRARIES libraries -> all children = ${ALL} s (target < 20 s) $V_ALL"
result_line "operator RSS = ${RSS} MiB, peak ${HWM} MiB (target < 64 MiB) $V_RSS"
frag "| Measure | Result | Baseline (same run) | Target | Verdict | Date | Machine |" \
  "|---|---|---|---|---|---|---|" \
  "| MediaLibrary create → its Deployment seen by a watch ($SAMPLES, one at a time) | **p50 $P50 ms**, p99 $P99 ms, max $MAX ms | Deployment create → its ReplicaSet (kube-controller-manager): p50 $B50 ms, p99 $B99 ms; ratio ${X}× | p50 < 100 ms | $V_P50 | $(today) | $(machine) |" \
  "| $LIBRARIES MediaLibraries created back to back → all have Deployment, Service, Secret, ConfigMap, PVC | **$ALL s** (the creates themselves: $CREATES s) | — | < 20 s | $V_ALL | $(today) | $(machine) |" \
  "| Operator RSS after that burst, 5 s later | **$RSS MiB** (peak $HWM MiB) | — | < 64 MiB | $V_RSS | $(today) | $(machine) |" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "e2e/k8s/control-plane.sh up \$WORK/cp   # etcd, kube-apiserver, controller manager, scheduler v1.34" \
  "MANOFWAR_LISTEN=127.0.0.1:PORT RUST_LOG=warn target/release/manofwar-operator &   # admin kubeconfig, no leader election" \
  "python3 e2e/bench/operator_load.py --samples $SAMPLES --libraries $LIBRARIES --operator-pid PID ...   # see its docstring" \
  '```' "" "</details>" ""
bench_finish

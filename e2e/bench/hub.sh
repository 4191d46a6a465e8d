#!/usr/bin/env bash
# hub: a segment through the front door against the same segment from the library server.
#   `manofwar serve --private` transcodes a short 720p clip; `manofwar hub` fronts it. wrk
#   (-t2 -c32 -d10s) fetches the top rendition's first segment from the library server directly
#   (with its token, as the hub asks) and through the hub (the item's signed URL, as a player
#   does: signature check, id lookup, one more HTTP hop). Target: hub / direct req/s >= 0.8.
#   The hub, the library server and wrk share the machine's cores (the hub's hop costs CPU the
#   server then lacks), as in a one-node homelab. Bound by the CPUs, not by a network: the
#   hub's hop copies every byte twice more (in from the server, out to the player).
#   Baselines in the same rounds: a bare TCP proxy in C (proxy.c: no HTTP, no checks; read/write,
#   and splice(2)) in front of the same server, the floor of any front door that passes
#   segments on here; the hub's ratio to it is what is left to win in the hub itself.
# Env: BENCH_HUB_SECONDS (clip length, default 8), BENCH_WRK_ARGS (default "-t2 -c32 -d10s"),
# BENCH_HUB_ROUNDS (interleaved rounds, best kept; default 3), plus those in lib.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEN=${BENCH_HUB_SECONDS:-8}
ROUNDS=${BENCH_HUB_ROUNDS:-3}
read -r -a WRK_ARGS <<<"${BENCH_WRK_ARGS:--t2 -c32 -d10s}"
need_base
need wrk wrk
need gcc gcc
check_manofwar
bench_init hub
use_manofwar || { log "BENCH_BASELINE_ONLY=1: nothing to measure without manofwar"; bench_finish; exit 0; }

mkdir -p "$WORK/media"
ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$LEN" -c:v libx264 -preset fast -b:v 4M \
  -c:a aac -b:a 128k "$WORK/media/Hub Clip (2024).mp4"
TOKEN=bench-library-token
SPORT=$(free_port); SBASE=http://127.0.0.1:$SPORT
"$MANOFWAR_BIN" serve --media "films=$WORK/media" --data "$WORK/server" --listen "127.0.0.1:$SPORT" \
  --token "$TOKEN" --private --workers 1 >"$WORK/serve.log" 2>&1 &
BENCH_PIDS+=($!)
wait_http "$SBASE/healthz" 30 || die "manofwar serve did not start (see $WORK/serve.log)"
echo "{\"libraries\":[{\"name\":\"films\",\"url\":\"$SBASE\",\"token\":\"$TOKEN\"}]}" >"$WORK/libraries.json"
HPORT=$(free_port); HBASE=http://127.0.0.1:$HPORT
MANOFWAR_INITIAL_ADMIN_PASSWORD='bench password, not secret' "$MANOFWAR_BIN" hub --data "$WORK/hub" \
  --libraries "$WORK/libraries.json" --listen "127.0.0.1:$HPORT" --initial-admin bench >"$WORK/hub.log" 2>&1 &
BENCH_PIDS+=($!)
wait_http "$HBASE/healthz" 30 || die "manofwar hub did not start (see $WORK/hub.log)"
gcc -O2 -pthread -o "$WORK/proxy" "$(dirname "${BASH_SOURCE[0]}")/proxy.c" || die "cannot build proxy.c"
declare -A PROXY=()
for mode in copy splice; do
  PROXY[$mode]=$(free_port)
  "$WORK/proxy" "${PROXY[$mode]}" "$SPORT" "$mode" 2>>"$WORK/proxy.log" &
  BENCH_PIDS+=($!)
  wait_http "http://127.0.0.1:${PROXY[$mode]}/healthz" 10 || die "the $mode proxy did not start (see $WORK/proxy.log)"
done
ADMIN="Authorization: Bearer $("$MANOFWAR_BIN" token create --data "$WORK/hub" --user bench --label bench)"

log "waiting for the item to be transcoded"
deadline=$(($(date +%s) + 600))
until [[ $(curl -fsS -H "$ADMIN" "$HBASE/api/v1/items" | jq -r '.items[0].state // "none"') == ready ]]; do
  (($(date +%s) < deadline)) || die "the item was not ready after 600 s (see $WORK/serve.log)"
  sleep 1
done
ITEM=$(curl -fsS -H "$ADMIN" "$HBASE/api/v1/items" | jq '.items[0]')
SIGNED=$(jq -r .hls_url <<<"$ITEM")       # /s/SIG/hls/HUB_ID/master.m3u8
[[ $SIGNED == /s/*/master.m3u8 ]] || die "hls_url is not a signed URL: $SIGNED"
REMOTE=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$SBASE/api/v1/items" | jq -r '.items[0].id')
# The top variant's first segment, as the master and its playlist name them.
MASTER=$(curl -fsS "$HBASE$SIGNED")
TOPV=$(awk '/^#EXT-X-STREAM-INF:/ { match($0, /[:,]BANDWIDTH=[0-9]+/); bw = substr($0, RSTART + 11, RLENGTH - 11) + 0; want = 1; next }
            want && !/^#/ && NF { if (bw > best) { best = bw; uri = $0 }; want = 0 }
            END { print uri }' <<<"$MASTER")
TOPV=${TOPV%%\?*}
SEG=$(dirname "$TOPV")/$(curl -fsS "$HBASE${SIGNED%master.m3u8}$TOPV" | grep -v '^#' | sed '/^$/d' | head -n1)
HUB_URL=$HBASE${SIGNED%master.m3u8}$SEG
DIRECT_URL=$SBASE/hls/$REMOTE/$SEG
BYTES=$(curl -fsS "$HUB_URL" | wc -c)
[[ $BYTES == "$(curl -fsS -H "Authorization: Bearer $TOKEN" "$DIRECT_URL" | wc -c)" ]] || die "the hub and the server send different bytes for $SEG"
log "segment $SEG: $BYTES bytes"

# run KEY URL [HEADER]: one wrk run; keeps the best req/s per KEY.
declare -A BEST=() ALL=()
run() {
  local key=$1 url=$2 out=$WORK/wrk.txt headers=()
  [[ $# -ge 3 ]] && headers=(-H "$3")
  wait_quiet 30
  timeout 120 wrk "${WRK_ARGS[@]}" "${headers[@]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($key)"; }
  if grep -q 'Non-2xx\|Socket errors' "$out"; then cat "$out" >&2; die "errors in the wrk run ($key)"; fi
  local rps
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  log "  $key: $rps req/s"
  ALL[$key]="${ALL[$key]:-}${ALL[$key]:+, }$rps"
  ((rps > ${BEST[$key]:-0})) && BEST[$key]=$rps
  return 0
}
for r in $(seq "$ROUNDS"); do   # interleaved, so that drift hits both alike
  run direct "$DIRECT_URL" "Authorization: Bearer $TOKEN"
  run hub "$HUB_URL"
  for mode in copy splice; do
    run "$mode" "http://127.0.0.1:${PROXY[$mode]}/hls/$REMOTE/$SEG" "Authorization: Bearer $TOKEN"
  done
done
R=$(ratio "${BEST[hub]}" "${BEST[direct]}"); verdict "$R" '>=' 0.8
R_COPY=$(ratio "${BEST[copy]}" "${BEST[direct]}") R_SPLICE=$(ratio "${BEST[splice]}" "${BEST[direct]}")
R_FLOOR=$(ratio "${BEST[hub]}" "${BEST[copy]}")
mibs() { awk -v r="$1" -v b="$BYTES" 'BEGIN { printf "%.0f", r * b / 1048576 }'; }
HRSS=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/${BENCH_PIDS[1]}/status")
result_line "through the hub / from the library server, one segment = $R (${BEST[hub]} / ${BEST[direct]} req/s; target >= 0.8) $VERDICT; a bare C proxy: $R_COPY (read/write), $R_SPLICE (splice); the hub / the bare proxy = $R_FLOOR"
frag "" "${LEN} s 720p30 clip transcoded by \`manofwar serve --private\` (default ladder); one segment of the top rendition ($SEG, $BYTES bytes). \`wrk ${WRK_ARGS[*]}\`, best of $ROUNDS interleaved rounds; the hub, the server and wrk share the $(nproc) cores." "" \
  "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|" \
  "| Through the front door (signed URL, hub → library server) / from the library server directly (its token) | **$R** (${BEST[hub]} vs ${BEST[direct]} req/s = $(mibs "${BEST[hub]}") vs $(mibs "${BEST[direct]}") MiB/s; all runs: hub ${ALL[hub]}; direct ${ALL[direct]}) | ≥ 0.8 | $VERDICT | $(today) | $(machine) |" \
  "| Baseline: a bare TCP proxy in C (\`e2e/bench/proxy.c\`: no HTTP, no checks) in front of the same server / the server directly | $R_COPY with read/write (${BEST[copy]} req/s; all runs: ${ALL[copy]}), $R_SPLICE with splice(2) (${BEST[splice]} req/s; all runs: ${ALL[splice]}) | — | — | $(today) | $(machine) |" \
  "| The hub / the bare read/write proxy (what the hub costs over passing bytes on at all) | $R_FLOOR | — | — | $(today) | $(machine) |" \
  "| Hub peak RSS | $HRSS MiB | — | — | $(today) | $(machine) |" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "manofwar serve --media films=\$WORK/media --data \$WORK/server --listen 127.0.0.1:SPORT --token T --private --workers 1" \
  "MANOFWAR_INITIAL_ADMIN_PASSWORD=… manofwar hub --data \$WORK/hub --libraries libraries.json --listen 127.0.0.1:HPORT --initial-admin bench" \
  "wrk ${WRK_ARGS[*]} -H 'Authorization: Bearer T' http://127.0.0.1:SPORT/hls/ID/$SEG" \
  "wrk ${WRK_ARGS[*]} http://127.0.0.1:HPORT/s/SIG/hls/HUB_ID/$SEG" \
  "proxy PPORT SPORT copy|splice   # e2e/bench/proxy.c" \
  "wrk ${WRK_ARGS[*]} -H 'Authorization: Bearer T' http://127.0.0.1:PPORT/hls/ID/$SEG" \
  '```' "" "</details>" ""
bench_finish

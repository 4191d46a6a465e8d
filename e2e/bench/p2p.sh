#!/usr/bin/env bash
# p2p: sharing with friends (needs root: network namespaces).
#   1. Swarm throughput from one peer vs plain HTTP over the same shaped link: a flat lab (a
#      bridge, 6 hosts, each uplink shaped with tbf to BENCH_P2P_MBIT, default 20 Mbit/s). The
#      origin host runs `manofwar up` and `manofwar gateway --server` (sharing it); viewer 1
#      fetches every file of a 30 s rendition once straight from `up` over HTTP, then through its
#      own gateway (cold cache) over libp2p. Target: swarm >= 0.8x HTTP.
#   2. Offload: 5 viewers play another item in real time (ffmpeg -re), started 3 s apart, each
#      through its own gateway, all friends of each other: the share of bytes the viewers got that
#      the origin did not send. Ceiling (N-1)/N = 80%; target >= 75%.
#   3. The origin gateway's RSS idle, and its peak while serving the 5 viewers.
#   4. Time to a connection, to a direct connection and to the first segment, by NAT pair (the
#      NAT lab of e2e/p2p/nat_test.sh). Targets: direct for easy-easy and hard-upnp (B's
#      router maps its port by UPnP) in < 3 s; connected (relayed) for the rest; first segment
#      < 1.5 s.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MBIT=${BENCH_P2P_MBIT:-20}
VIEWERS=5
need_base
check_manofwar
bench_init p2p
use_manofwar || { log "BENCH_BASELINE_ONLY=1: nothing to measure without manofwar"; bench_finish; exit 0; }
[[ $(id -u) == 0 ]] || die "the p2p benchmark needs root (network namespaces)"

NS=(mow-b0 mow-b1 mow-b2 mow-b3 mow-b4 mow-b5)
lab_down() { for n in "${NS[@]}" mow-bsw; do ip netns del "$n" 2>/dev/null || true; done; }
trap 'lab_down; bench_cleanup' EXIT
lab_down
ip netns add mow-bsw
ip -n mow-bsw link add br0 type bridge && ip -n mow-bsw link set br0 up
for i in "${!NS[@]}"; do
  n=${NS[$i]}
  ip netns add "$n"; ip -n "$n" link set lo up
  ip link add "mow-bv$i" type veth peer name "mow-bp$i"
  ip link set "mow-bv$i" netns "$n"; ip link set "mow-bp$i" netns mow-bsw
  ip -n mow-bsw link set "mow-bp$i" master br0; ip -n mow-bsw link set "mow-bp$i" up
  ip -n "$n" addr add "198.18.1.$((10 + i))/24" dev "mow-bv$i"; ip -n "$n" link set "mow-bv$i" up
  ip netns exec "$n" tc qdisc add dev "mow-bv$i" root tbf rate "${MBIT}mbit" burst 64kbit latency 200ms
done
addr() { echo "198.18.1.$((10 + $1))"; }

# Media: two 30 s clips; one rendition at 3 Mbit/s, 4 s segments.
mkdir -p "$WORK/media"
for clip in throughput:25 offload:24; do
  name=${clip%:*} rate=${clip#*:}
  ffmpeg -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=$rate" -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 30 -c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -c:a aac -b:a 96k -ac 2 "$WORK/media/$name.mp4"
done
printf 'segmentSeconds: 4\npreset: ultrafast\naudioBitrateKbps: 96\nrenditions:\n  - {name: 720p, height: 720, videoBitrateKbps: 3000}\n' >"$WORK/profile.yaml"
TOKEN=$(api_token "$WORK/data")
ids=(); for i in "${!NS[@]}"; do ids+=("$("$MANOFWAR_BIN" identity --key "$WORK/key$i" | head -n1)"); done
ip netns exec mow-b0 "$MANOFWAR_BIN" up --media "$WORK/media" --data "$WORK/data" --profile "$WORK/profile.yaml" \
  --listen "$(addr 0):8096" --workers 1 >"$WORK/up.log" 2>&1 &
BENCH_PIDS+=($!)
items_ready() { [[ $(ip netns exec mow-b0 curl -sf -H "Authorization: Bearer $TOKEN" "http://$(addr 0):8096/api/v1/items" | jq '[.items[] | select(.hls_url != null)] | length') == 2 ]]; }
for _ in $(seq 600); do items_ready && break; sleep 0.5; done
items_ready || die "the two clips were not transcoded (see $WORK/up.log)"
item_id() { ip netns exec mow-b0 curl -sf -H "Authorization: Bearer $TOKEN" "http://$(addr 0):8096/api/v1/items" | jq -r --arg t "$1" '.items[] | select(.title == $t) | .id'; }
T_ID=$(item_id throughput); O_ID=$(item_id offload)

# Peers files: everyone trusts everyone; gateways dial each other directly (a flat network).
for i in "${!NS[@]}"; do
  : >"$WORK/peers$i.yaml"; PEER_ADDR[i]=""
  for j in "${!NS[@]}"; do
    [[ $i == "$j" ]] && continue
    printf -- '- {peerId: %s, name: host%s, libraries: ["*"]}\n' "${ids[$j]}" "$j" >>"$WORK/peers$i.yaml"
    PEER_ADDR[i]+=" --peer-address /ip4/$(addr "$j")/tcp/4001/p2p/${ids[$j]}"
  done
done
start_gateway() { # start_gateway I [extra args…]
  local i=$1; shift
  # shellcheck disable=SC2086
  ip netns exec "${NS[$i]}" "$MANOFWAR_BIN" gateway --identity "$WORK/key$i" --peers "$WORK/peers$i.yaml" --no-lan \
    --listen /ip4/0.0.0.0/tcp/4001 --http 127.0.0.1:8097 --cache-dir "$WORK/cache$i" ${PEER_ADDR[$i]} "$@" \
    >>"$WORK/gateway$i.log" 2>&1 &
  BENCH_PIDS+=($!); GW_PID[i]=$!
}
gw() { ip netns exec "${NS[$1]}" curl -sf "http://127.0.0.1:8097$2"; }
start_gateway 0 --server "http://$(addr 0):8096" --token "$TOKEN"
for i in $(seq 1 $VIEWERS); do start_gateway "$i"; done
for i in $(seq 1 $VIEWERS); do
  for _ in $(seq 100); do [[ $(gw "$i" /api/v1/peers | jq '[.peers[] | select(.connected)] | length') == "$VIEWERS" ]] && break; sleep 0.2; done
done
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/${GW_PID[0]}/status"; }
RSS_IDLE=$(rss_kb)

# --- 1. throughput -------------------------------------------------------------------------------
# fetch_all NS BASE [TOKEN]: fetch the master, the variant playlist and its init and segments in
# turn, as a player does; prints the bytes and the seconds.
cat >"$WORK/fetch.sh" <<'SH'
set -euo pipefail
base=$1; auth=(); [[ -n ${2:-} ]] && auth=(-H "Authorization: Bearer $2")
variant=$(curl -sf "${auth[@]}" "$base/master.m3u8" | grep -v '^#' | head -n1)
mapfile -t files < <(curl -sf "${auth[@]}" "$base/$variant" | awk -v d="${variant%/*}" \
  '/URI="/ { match($0, /URI="[^"]+"/); print d "/" substr($0, RSTART + 5, RLENGTH - 6) } !/^#/ && NF { print d "/" $0 }')
t0=$(date +%s.%N); bytes=0
for f in master.m3u8 "$variant" "${files[@]}"; do
  n=$(curl -sf -o /dev/null -w '%{size_download}' "${auth[@]}" "$base/$f") || { echo "cannot fetch $base/$f" >&2; exit 1; }
  bytes=$((bytes + n))
done
echo "$bytes $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
SH
fetch_all() { ip netns exec "$1" bash "$WORK/fetch.sh" "${@:2}" || die "fetching $2 failed"; }
wait_quiet 30
read -r HTTP_BYTES HTTP_S < <(fetch_all mow-b1 "http://$(addr 0):8096/hls/$T_ID" "$TOKEN")
read -r P2P_BYTES P2P_S < <(fetch_all mow-b1 "http://127.0.0.1:8097/peers/${ids[0]}/hls/$T_ID")
HTTP_MBIT=$(awk -v b="$HTTP_BYTES" -v s="$HTTP_S" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }')
P2P_MBIT=$(awk -v b="$P2P_BYTES" -v s="$P2P_S" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }')
T_RATIO=$(ratio "$P2P_MBIT" "$HTTP_MBIT")
log "throughput: HTTP $HTTP_MBIT Mbit/s ($HTTP_BYTES B in $HTTP_S s), swarm $P2P_MBIT Mbit/s ($P2P_BYTES B in $P2P_S s): $T_RATIO"

# --- 2. offload, 3. RSS --------------------------------------------------------------------------
sent_by_origin() { gw 0 /api/v1/peers | jq '[.peers[].bytesUp] | add'; }
received() { local sum=0 i; for i in $(seq 1 $VIEWERS); do sum=$((sum + $(gw "$i" /api/v1/peers | jq '[.peers[].bytesDown] | add'))); done; echo "$sum"; }
UP0=$(sent_by_origin); DOWN0=$(received)
RSS_PEAK=$RSS_IDLE
PLAYERS=()
for i in $(seq 1 $VIEWERS); do
  ip netns exec "${NS[$i]}" ffmpeg -loglevel error -re -i "http://127.0.0.1:8097/peers/${ids[0]}/hls/$O_ID/master.m3u8" \
    -map 0 -c copy -f null - 2>"$WORK/player$i.log" &
  PLAYERS+=($!)
  for _ in 1 2 3 4 5 6; do r=$(rss_kb); ((r > RSS_PEAK)) && RSS_PEAK=$r; sleep 0.5; done
done
while kill -0 "${PLAYERS[@]}" 2>/dev/null; do r=$(rss_kb); ((r > RSS_PEAK)) && RSS_PEAK=$r; sleep 0.5; done
for p in "${PLAYERS[@]}"; do wait "$p" || die "a viewer's ffmpeg failed (see $WORK/player*.log)"; done
UP=$(( $(sent_by_origin) - UP0 )); DOWN=$(( $(received) - DOWN0 ))
OFFLOAD=$(awk -v u="$UP" -v d="$DOWN" 'BEGIN { printf "%.1f", d ? 100 * (1 - u / d) : 0 }')
log "offload: the viewers got $DOWN B, the origin sent $UP B: $OFFLOAD% from other viewers; origin gateway RSS idle $RSS_IDLE kB, peak $RSS_PEAK kB"

# --- 4. NAT pairs --------------------------------------------------------------------------------
lab_down
: >"$WORK/nat.tsv"
P2P_RESULTS=$WORK/nat.tsv MANOFWAR_BIN=$MANOFWAR_BIN bash "$BENCH_REPO/e2e/p2p/nat_test.sh" >"$WORK/nat.log" 2>&1 \
  || { tail -n 30 "$WORK/nat.log" >&2; die "the NAT lab run failed"; }
NAT_ROWS=()
while IFS=$'\t' read -r pair kind t_conn t_direct t_first; do
  if [[ $pair == easy-easy || $pair == hard-upnp ]]; then target="direct < 3000 ms"; met=$([[ $t_direct != - && $t_direct -lt 3000 ]] && echo yes || echo no)
  else target="relayed"; met=$([[ $kind == relayed ]] && echo yes || echo no); fi
  first_met=$([[ $t_first -lt 1500 ]] && echo yes || echo no)
  NAT_ROWS+=("| $pair | $kind in $t_conn ms | $( [[ $t_direct == - ]] && echo "— (relayed only)" || echo "$t_direct ms") | $target | $met | $t_first ms | $first_met |")
  result_line "$pair: connected ($kind) in $t_conn ms, direct ${t_direct} ms, first segment $t_first ms"
done <"$WORK/nat.tsv"

verdict "$T_RATIO" ">=" 0.8
result_line "swarm/HTTP throughput over a ${MBIT} Mbit/s link = $T_RATIO ($VERDICT, target >= 0.8)"
result_line "offload, 1 origin + $VIEWERS viewers = $OFFLOAD% (ceiling 80%, target 75%)"
result_line "origin gateway RSS: idle $((RSS_IDLE / 1024)) MiB, serving $VIEWERS viewers $((RSS_PEAK / 1024)) MiB"
frag "" "Flat lab: 6 network namespaces on a bridge, each uplink shaped with tbf to ${MBIT} Mbit/s; $(machine)." "" \
  "| What | Result | Target | Met? | Date |" "|---|---|---|---|---|" \
  "| Throughput from one peer: swarm (viewer's gateway, cold cache) vs plain HTTP from \`up\`, same files, same link | swarm $P2P_MBIT Mbit/s vs HTTP $HTTP_MBIT Mbit/s = **$T_RATIO** | ≥ 0.8 | $(awk -v r="$T_RATIO" 'BEGIN { print (r >= 0.8) ? "yes" : "no" }') | $(today) |" \
  "| Offload: 1 origin + $VIEWERS viewers (ffmpeg -re, 3 s apart), share of bytes not sent by the origin | **$OFFLOAD%** ($UP of $DOWN bytes from the origin) | ≥ 75% (ceiling 80%) | $(awk -v r="$OFFLOAD" 'BEGIN { print (r >= 75) ? "yes" : "no" }') | $(today) |" \
  "| Origin gateway RSS (\`manofwar gateway --server\`) | idle $((RSS_IDLE / 1024)) MiB; serving $VIEWERS viewers $((RSS_PEAK / 1024)) MiB (peak) | — | — | $(today) |" \
  "" "NAT lab (\`e2e/p2p/nat_test.sh\`: coordinator on the \"internet\", easy = masquerade, hard = fully-random masquerade, routers drop unsolicited input):" "" \
  "| NAT pair | First connection (time from gateway start) | Direct connection | Target | Met? | First segment (master, variant, segment) | < 1.5 s? |" \
  "|---|---|---|---|---|---|---|" "${NAT_ROWS[@]}" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "# each host: tc qdisc add dev VETH root tbf rate ${MBIT}mbit burst 64kbit latency 200ms" \
  "manofwar up --media MEDIA --data DATA --profile 720p-3mbit.yaml --listen 198.18.1.10:8096" \
  "manofwar gateway --identity key0 --peers peers0.yaml --listen /ip4/0.0.0.0/tcp/4001 --server http://198.18.1.10:8096 --token TOKEN --peer-address …" \
  "manofwar gateway --identity keyN --peers peersN.yaml --listen /ip4/0.0.0.0/tcp/4001 --http 127.0.0.1:8097 --peer-address …   # viewers 1-5" \
  "curl http://198.18.1.10:8096/hls/ID/FILE   vs   curl http://127.0.0.1:8097/peers/ORIGIN/hls/ID/FILE   # every file, in turn" \
  "ffmpeg -re -i http://127.0.0.1:8097/peers/ORIGIN/hls/ID/master.m3u8 -map 0 -c copy -f null -   # each viewer, 3 s apart" \
  "P2P_RESULTS=nat.tsv e2e/p2p/nat_test.sh" \
  '```' "" "</details>" ""
bench_finish

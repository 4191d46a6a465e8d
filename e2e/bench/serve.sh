#!/usr/bin/env bash
# serve: HLS segment serving throughput, manofwar vs nginx, on the same files.
#   manofwar up publishes a short clip's package in DATA/hls/{id}/ and serves it at /hls/{id}/…;
#   nginx (sendfile on, 2 workers, access log off) serves DATA/hls as its root. wrk (-t2 -c32
#   -d10s) hits one segment of the top rendition on each, then rotates over every segment of
#   every rendition (lua script). Target: manofwar / nginx requests/s >= 0.8 (single segment).
#   manofwar is measured as a viewer reaches it: `up` (accounts on) through the item's signed
#   URL (/s/SIGNATURE/hls/…). The same files from `manofwar serve` (no accounts, so no access
#   check) are the baseline for the check's cost. Target: signed / unchecked >= 0.95.
# Both servers and wrk share the machine's cores.
#
# Env: BENCH_SERVE_SECONDS (clip length, default 12), BENCH_WRK_ARGS (default "-t2 -c32 -d10s"),
# BENCH_SERVE_ROUNDS (interleaved rounds of the four wrk runs, best kept; default 2),
# BENCH_RUN_WAIT_IDLE (before each wrk run, wait up to this many seconds, default 30, for the
# CPUs to be < 25% busy),
# BENCH_READY_TIMEOUT (default 600 s for the item to be ready), BENCH_SERVE_PACKAGE (manofwar =
# default: `up` transcodes the clip; ffmpeg = the ffmpeg CLI makes the package in DATA/hls/1 and
# `up --workers 0` on an empty media folder serves it, for when transcoding is broken), plus
# those in lib.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEN=${BENCH_SERVE_SECONDS:-12}
read -r -a WRK_ARGS <<<"${BENCH_WRK_ARGS:--t2 -c32 -d10s}"
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-600}
PACKAGER=${BENCH_SERVE_PACKAGE:-manofwar}
ROUNDS=${BENCH_SERVE_ROUNDS:-2}
RUN_WAIT=${BENCH_RUN_WAIT_IDLE:-30}
[[ $PACKAGER == manofwar || $PACKAGER == ffmpeg ]] || die "BENCH_SERVE_PACKAGE is manofwar or ffmpeg"
need_base
need wrk wrk
need nginx nginx-light
check_manofwar
bench_init serve

MEDIA=$WORK/media
DATA=$WORK/data
PPREFIX=
mkdir -p "$MEDIA" "$DATA"
CLIP=$MEDIA/Bench\ Clip\ \(2024\).mp4
ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 \
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$LEN" -c:v libx264 -preset fast -b:v 8M \
  -c:a aac -b:a 160k "$CLIP"

# --- the package ----------------------------------------------------------------------------------
start_up() {   # start_up MEDIA_DIR [ARGS...]: manofwar up in the background on a free port
  local media=$1; shift
  MPORT=$(free_port); MBASE=http://127.0.0.1:$MPORT
  AUTH="Authorization: Bearer $(api_token "$DATA")"
  "$MANOFWAR_BIN" up --media "$media" --data "$DATA" --listen "127.0.0.1:$MPORT" "$@" >"$WORK/up.log" 2>&1 &
  MPID=$!; BENCH_PIDS+=("$MPID")
}
# start_plain MEDIA_DIR: `manofwar serve` (no accounts, no access check) on the same data
start_plain() {
  PPORT=$(free_port); PBASE=http://127.0.0.1:$PPORT
  "$MANOFWAR_BIN" serve --media "$1" --data "$DATA" --listen "127.0.0.1:$PPORT" --workers 0 >"$WORK/serve.log" 2>&1 &
  PPID_=$!; BENCH_PIDS+=("$PPID_")
  wait_http "$PBASE/healthz" 30 || { tail -n 20 "$WORK/serve.log" >&2; die "manofwar serve did not come up"; }
}
if use_manofwar && [[ $PACKAGER == manofwar ]]; then
  start_up "$MEDIA"
  log "manofwar up on $MBASE; waiting for the item to be ready"
  t0=$(now); deadline=$(($(date +%s) + READY_TIMEOUT)); state=none
  while :; do
    kill -0 "$MPID" 2>/dev/null || { tail -n 20 "$WORK/up.log" >&2; die "manofwar up exited"; }
    body=$(curl -fsS --max-time 5 -H "$AUTH" "$MBASE/api/v1/items" 2>/dev/null || true)
    state=$(jq -r '(if type == "array" then . else .items end)[0].state // "none"' <<<"${body:-null}" 2>/dev/null || echo none)
    [[ $state == ready ]] && break
    [[ $state == failed ]] && { echo "$body" >&2; die "the item failed to transcode"; }
    (($(date +%s) < deadline)) || die "item not ready after ${READY_TIMEOUT}s (state: $state)"
    sleep 1
  done
  ID=$(jq -r '(if type == "array" then . else .items end)[0].id' <<<"$body")
  log "item $ID ready after $(since "$t0")s"
  PKG=$DATA/hls/$ID
  [[ -f $PKG/master.m3u8 ]] || die "no $PKG/master.m3u8 (layout changed? $(find "$DATA" -name master.m3u8 | head -3))"
  # What a player gets: the item's signed URL.
  SIGNED=$(jq -r '.items[0].hls_url' <<<"$body")
  [[ $SIGNED == /s/*/hls/$ID/master.m3u8 ]] || die "hls_url is not a signed URL: $SIGNED"
  MPREFIX=${SIGNED%/master.m3u8}
  start_plain "$MEDIA"
  PPREFIX=/hls/$ID
  PKG_NOTE="packaged by manofwar up (default profile)"
else
  ID=1; PKG=$DATA/hls/$ID
  log "packaging with the ffmpeg CLI into $PKG"
  mkdir -p "$PKG"
  ffmpeg -hide_banner -nostdin -loglevel error -y -i "$CLIP" \
    -filter_complex '[0:v]split=4[s0][s1][s2][s3];[s0]scale=-2:1080[v0];[s1]scale=-2:720[v1];[s2]scale=-2:540[v2];[s3]scale=-2:360[v3]' \
    -map '[v0]' -map '[v1]' -map '[v2]' -map '[v3]' -map 0:a:0 -c:v libx264 -preset veryfast \
    -sc_threshold 0 -force_key_frames 'expr:gte(t,n_forced*6)' -b:v:0 6000k -b:v:1 3000k -b:v:2 2000k -b:v:3 730k \
    -c:a aac -b:a 128k -ac 2 -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 \
    -hls_fmp4_init_filename init.mp4 -hls_segment_filename "$PKG/%v/seg_%05d.m4s" -master_pl_name master.m3u8 \
    -var_stream_map 'v:0,agroup:aud,name:1080p v:1,agroup:aud,name:720p v:2,agroup:aud,name:540p v:3,agroup:aud,name:360p a:0,agroup:aud,name:audio,default:yes' \
    "$PKG/%v/index.m3u8"
  PKG_NOTE="packaged by the ffmpeg CLI (BENCH_SERVE_PACKAGE=ffmpeg)"
  if use_manofwar; then   # serve that package: serve (no catalog item to sign) on an empty folder
    mkdir -p "$WORK/no-media"
    start_plain "$WORK/no-media"
    MBASE=$PBASE; MPID=$PPID_; MPREFIX=/hls/$ID; PPREFIX=
  fi
fi

# --- segment paths (relative to DATA/hls), read from the playlists -------------------------------
uris() { grep -v '^#' "$1" | sed -e '/^[[:space:]]*$/d' -e 's/[?].*//'; }   # file paths: no ?v= version
mapfile -t VARIANTS < <(uris "$PKG/master.m3u8")
mapfile -t -O "${#VARIANTS[@]}" VARIANTS < <(grep '^#EXT-X-MEDIA:' "$PKG/master.m3u8" | grep -o 'URI="[^"]*"' | sed 's/^URI="//; s/"$//')
SEGS=()
for v in "${VARIANTS[@]}"; do
  vdir=$(dirname "$v")
  while read -r s; do SEGS+=("$ID/${vdir#./}/$s"); done < <(uris "$PKG/$v")
done
mapfile -t SEGS < <(printf '%s\n' "${SEGS[@]//\/.\//\/}" | awk '!seen[$0]++')
((${#SEGS[@]} > 0)) || die "no segments found in $PKG"
# first segment of the variant with the highest BANDWIDTH
TOPV=$(awk '/^#EXT-X-STREAM-INF:/ { match($0, /[:,]BANDWIDTH=[0-9]+/); bw = substr($0, RSTART + 11, RLENGTH - 11) + 0; want = 1; next }
            want && !/^#/ && NF { if (bw > best) { best = bw; uri = $0 }; want = 0 }
            END { print uri }' "$PKG/master.m3u8")
[[ -n $TOPV ]] || die "no variant streams in $PKG/master.m3u8"
TOP=$ID/$(dirname "$TOPV")/$(uris "$PKG/$TOPV" | head -n1)
TOP=${TOP//\/.\//\/}
TOP_BYTES=$(stat -c %s "$DATA/hls/$TOP")
log "${#SEGS[@]} segments; single-segment test: $TOP ($TOP_BYTES bytes)"

# --- nginx ---------------------------------------------------------------------------------------
NGX=$WORK/nginx; mkdir -p "$NGX"
NPORT=$(free_port); NBASE=http://127.0.0.1:$NPORT
cat >"$NGX/nginx.conf" <<NGINX
daemon off;
user root;
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $NGX/body;
  proxy_temp_path $NGX/proxy;
  fastcgi_temp_path $NGX/fastcgi;
  uwsgi_temp_path $NGX/uwsgi;
  scgi_temp_path $NGX/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    root $DATA/hls;
  }
}
NGINX
nginx -t -q -c "$NGX/nginx.conf" -p "$NGX" 2>"$NGX/test.log" || { cat "$NGX/test.log" >&2; die "bad nginx config"; }
nginx -c "$NGX/nginx.conf" -p "$NGX" >"$NGX/stdout.log" 2>&1 &
NPID=$!; BENCH_PIDS+=("$NPID")
wait_http "$NBASE/$TOP" 20 || { cat "$NGX/error.log" >&2; die "nginx did not come up"; }

# both must answer with the same bytes
sum_of() { curl -fsS --max-time 20 "$1" | sha256sum | cut -d' ' -f1; }
EXPECT=$(sha256sum "$DATA/hls/$TOP" | cut -d' ' -f1)
[[ $(sum_of "$NBASE/$TOP") == "$EXPECT" ]] || die "nginx served different bytes for $TOP"
if use_manofwar; then
  [[ $(sum_of "$MBASE$MPREFIX/${TOP#"$ID"/}") == "$EXPECT" ]] || die "manofwar served different bytes for $TOP"
  [[ -z $PPREFIX || $(sum_of "$PBASE$PPREFIX/${TOP#"$ID"/}") == "$EXPECT" ]] || die "manofwar serve served different bytes for $TOP"
  [[ -z $PPREFIX || $(curl -s -o /dev/null -w '%{http_code}' "$MBASE/hls/$TOP") == 401 ]] || die "up served $TOP without a signature or login"
fi

# --- wrk -------------------------------------------------------------------------------------------
LUA=$WORK/rotate.lua
{
  echo 'local paths = {'
  for s in "${SEGS[@]}"; do printf '  "%s",\n' "${s#"$ID"/}"; done
  cat <<'LUA'
}
local prefix, i = "", 0
function init(args) prefix = args[1]; i = math.random(#paths) end
function request() i = i % #paths + 1; return wrk.format("GET", prefix .. paths[i]) end
LUA
} >"$LUA"

# run_wrk LABEL URL [lua prefix]: sets RPS and MBPS; fails on errors / non-2xx.
run_wrk() {
  local label=$1 url=$2 out=$WORK/wrk-$1.txt extra=()
  [[ $# -ge 3 ]] && extra=(-s "$LUA" "$url" -- "$3")
  ((${#extra[@]})) || extra=("$url")
  timeout 120 wrk "${WRK_ARGS[@]}" --latency "${extra[@]}" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($label)"; }
  if grep -q 'Non-2xx\|Socket errors' "$out"; then cat "$out" >&2; log "WARNING: errors in wrk run $label"; fi
  RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  MBPS=$(awk '/^Transfer\/sec:/ { v = $2; if (v ~ /GB$/) v *= 1024; else if (v ~ /KB$/) v /= 1024; sub(/[KMG]?B$/, "", $2); printf "%.0f", v }' "$out")
  P99=$(awk '$1 == "99%" { print $2 }' "$out")
  [[ -n $RPS ]] || { cat "$out" >&2; die "no Requests/sec in wrk output ($label)"; }
}

warm() { timeout 30 wrk -t1 -c4 -d1s "$1" >/dev/null 2>&1 || true; }
# best KEY LABEL URL [lua prefix]: one wrk run (after waiting briefly for a quiet machine);
# keeps the run with the most requests/s per KEY in BEST_RPS/BEST_MBPS/BEST_P99.
declare -A BEST_RPS=() BEST_MBPS=() BEST_P99=() ALL_RPS=()
best() {
  local key=$1; shift
  wait_quiet "$RUN_WAIT"
  run_wrk "$@"
  log "  $key: $RPS req/s ($MBPS MiB/s, p99 $P99)"
  ALL_RPS[$key]="${ALL_RPS[$key]:-}${ALL_RPS[$key]:+, }$RPS"
  if ((RPS > ${BEST_RPS[$key]:-0})); then BEST_RPS[$key]=$RPS; BEST_MBPS[$key]=$MBPS; BEST_P99[$key]=$P99; fi
}
if use_manofwar; then MSEG=$MBASE$MPREFIX/${TOP#"$ID"/}; warm "$MSEG"; fi
if use_manofwar && [[ -n $PPREFIX ]]; then PSEG=$PBASE$PPREFIX/${TOP#"$ID"/}; warm "$PSEG"; fi
warm "$NBASE/$TOP"
for r in $(seq 1 "$ROUNDS"); do   # interleaved, so that drift hits both servers alike
  best nginx-one "nginx-one-$r" "$NBASE/$TOP"
  if use_manofwar; then best mow-one "mow-one-$r" "$MSEG"; fi
  if use_manofwar && [[ -n $PPREFIX ]]; then best plain-one "plain-one-$r" "$PSEG"; fi
  best nginx-all "nginx-all-$r" "$NBASE/" "/$ID/"
  if use_manofwar; then best mow-all "mow-all-$r" "$MBASE/" "$MPREFIX/"; fi
done
N1=${BEST_RPS[nginx-one]}; N1M=${BEST_MBPS[nginx-one]}; N1P=${BEST_P99[nginx-one]}
N2=${BEST_RPS[nginx-all]}; N2M=${BEST_MBPS[nginx-all]}; N2P=${BEST_P99[nginx-all]}
echo "serve: wrk ${WRK_ARGS[*]}, best of $ROUNDS, ${LEN}s 1080p clip, $(machine); servers and wrk share the cores"
printf '  %-36s %8s req/s %6s MiB/s  p99 %s\n' "nginx, one segment ($TOP_BYTES B)" "$N1" "$N1M" "$N1P" "nginx, all ${#SEGS[@]} segments" "$N2" "$N2M" "$N2P"

frag "" \
  "Package: ${LEN} s 1080p30 clip, $PKG_NOTE, ${#SEGS[@]} segments over all renditions; single-segment test on \`$TOP\` ($TOP_BYTES bytes). \`wrk ${WRK_ARGS[*]}\`, best of $ROUNDS interleaved rounds (all runs, req/s: nginx one segment ${ALL_RPS[nginx-one]}; manofwar one segment ${ALL_RPS[mow-one]:-n/a}; nginx all ${ALL_RPS[nginx-all]}; manofwar all ${ALL_RPS[mow-all]:-n/a}); manofwar, nginx and wrk all share the $(nproc) cores, so absolute numbers are lower than on a machine where the client runs elsewhere." "" \
  "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|"
if use_manofwar; then
  M1=${BEST_RPS[mow-one]}; M1M=${BEST_MBPS[mow-one]}; M1P=${BEST_P99[mow-one]}
  M2=${BEST_RPS[mow-all]}; M2M=${BEST_MBPS[mow-all]}; M2P=${BEST_P99[mow-all]}
  MRSS=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$MPID/status")
  MHWM=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$MPID/status")
  printf '  %-36s %8s req/s %6s MiB/s  p99 %s\n' "manofwar, one segment" "$M1" "$M1M" "$M1P" "manofwar, all ${#SEGS[@]} segments" "$M2" "$M2M" "$M2P"
  R1=$(ratio "$M1" "$N1"); verdict "$R1" '>=' 0.8; V1=$VERDICT
  R2=$(ratio "$M2" "$N2")
  result_line "manofwar/nginx, one segment = $R1 ($M1 / $N1 req/s; target >= 0.8) $V1"
  result_line "manofwar/nginx, all segments = $R2 ($M2 / $N2 req/s; for information)"
  if [[ -n $PPREFIX ]]; then
    P1=${BEST_RPS[plain-one]}
    R3=$(ratio "$M1" "$P1"); verdict "$R3" '>=' 0.95; V3=$VERDICT
    result_line "signed URL (up) / no access check (serve), one segment = $R3 ($M1 / $P1 req/s; target >= 0.95) $V3"
    frag "| signed URL through the access check (up) / same files without it (serve), one segment | **$R3** ($M1 vs $P1 req/s; all runs: ${ALL_RPS[plain-one]} without) | ≥ 0.95 | $V3 | $(today) | $(machine) |"
  fi
  frag "| manofwar / nginx req/s, one segment (headline) | **$R1** ($M1 vs $N1 req/s; $M1M vs $N1M MiB/s; p99 $M1P vs $N1P) | ≥ 0.8 | $V1 | $(today) | $(machine) |" \
       "| manofwar / nginx req/s, rotating over all segments | $R2 ($M2 vs $N2 req/s; $M2M vs $N2M MiB/s; p99 $M2P vs $N2P) | — | — | $(today) | $(machine) |" \
       "| manofwar RSS after the runs | $MRSS MiB (peak $MHWM MiB) | — | — | $(today) | $(machine) |"
else
  result_line "baseline only: nginx one segment $N1 req/s, all segments $N2 req/s"
  frag "| manofwar | not run (BENCH_BASELINE_ONLY=1) | — | — | $(today) | $(machine) |" \
       "| nginx req/s, one segment | $N1 ($N1M MiB/s; p99 $N1P) | — | — | $(today) | $(machine) |" \
       "| nginx req/s, rotating over all segments | $N2 ($N2M MiB/s; p99 $N2P) | — | — | $(today) | $(machine) |"
fi
frag "" "<details><summary>Commands</summary>" "" '```sh' \
  "manofwar up --media \$WORK/media --data \$WORK/data --listen 127.0.0.1:MPORT   # wait for items[0].state == ready; its hls_url is /s/SIG/hls/ID/master.m3u8" \
  "manofwar serve --media \$WORK/media --data \$WORK/data --listen 127.0.0.1:PPORT --workers 0   # the same files, no access check" \
  "nginx -c \$WORK/nginx/nginx.conf -p \$WORK/nginx   # daemon off, user root, worker_processes 2, sendfile on, tcp_nopush on, access_log off, root \$WORK/data/hls" \
  "wrk ${WRK_ARGS[*]} --latency http://127.0.0.1:MPORT/s/SIG/hls/$TOP   # and http://127.0.0.1:PPORT/hls/$TOP, http://127.0.0.1:NPORT/$TOP" \
  "wrk ${WRK_ARGS[*]} --latency -s rotate.lua http://127.0.0.1:PORT/ -- PREFIX   # round-robin over all segments" \
  '```' "" "</details>" ""
bench_finish

#!/usr/bin/env bash
# faststart: seconds from a file appearing in a running `manofwar up`'s media folder to its
# first playable segment (master playlist + first video and audio segments served), for an
# H.264 1080p source (remuxed source rung) and an HEVC 1080p source (encoded rungs only); and
# the remux speed of the source rung (× real time).
#
# Env: BENCH_FAST_SECONDS (clip length, default 30).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/bench/lib.sh
source "$HERE/lib.sh"
need_base
check_manofwar
bench_init faststart
SECS=${BENCH_FAST_SECONDS:-30}

log "generating 1080p sources ($SECS s): H.264 (keyframe every 2 s) and HEVC"
H264_CMD=(ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000"
  -t "$SECS" -c:v libx264 -preset veryfast -g 60 -b:v 8M -c:a aac -b:a 160k "$WORK/h264.mp4")
HEVC_CMD=(ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000"
  -t "$SECS" -c:v libx265 -preset ultrafast -x265-params log-level=error -b:v 6M -c:a aac -b:a 160k "$WORK/hevc.mkv")
"${H264_CMD[@]}"; "${HEVC_CMD[@]}"

if ! use_manofwar; then
  result_line "baseline only: nothing to compare"
  frag "| fast start | not run (BENCH_BASELINE_ONLY=1) | — | — | $(today) | $(machine) |"
  bench_finish; exit 0
fi

# first_segment FILE NAME: move FILE into the running server's media folder as NAME and print
# the seconds until the master and the first segment of its first variant and of its first
# audio rendition are served. Prints "SECONDS VARIANT".
first_segment() {
  local file=$1 name=$2 start id master variant audio deadline
  start=$(now)
  mv "$file" "$WORK/media/$name"
  deadline=$(($(date +%s) + 120))
  until id=$(curl -fsS -H "$AUTH" "$BASE/api/v1/items" | jq -er --arg n "$name" '.items[] | select(.path | endswith($n)) | .id'); do
    (($(date +%s) < deadline)) || die "$name never appeared in the library"; sleep 0.02
  done
  # What the web app opens: the API's hls_url (the package being written, while it is).
  until url=$(curl -fsS -H "$AUTH" "$BASE/api/v1/items/$id" | jq -er '.hls_url // empty') &&
    master=$(curl -fsS "$BASE$url" 2>/dev/null) && grep -q '^#EXT-X-STREAM-INF' <<<"$master"; do
    (($(date +%s) < deadline)) || die "$name: no playable master in 120 s"; sleep 0.02
  done
  variant=$(grep -A1 '^#EXT-X-STREAM-INF' <<<"$master" | sed -n 2p)
  audio=$(sed -n 's/^#EXT-X-MEDIA:TYPE=AUDIO.*URI="\([^"]*\)".*/\1/p' <<<"$master" | head -n1)
  for playlist in "$variant" ${audio:+"$audio"}; do
    until curl -fsS -o /dev/null "$BASE${url%master.m3u8}${playlist%index.m3u8}seg_00000.m4s" 2>/dev/null; do
      (($(date +%s) < deadline)) || die "$name: no first segment for $playlist"; sleep 0.02
    done
  done
  echo "$(since "$start") ${variant%/index.m3u8}"
}

mkdir -p "$WORK/media" "$WORK/data"
AUTH="Authorization: Bearer $(api_token "$WORK/data")"
PORT=$(free_port); BASE=http://127.0.0.1:$PORT
"$MANOFWAR_BIN" up --media "$WORK/media" --data "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/up.log" 2>&1 &
BENCH_PIDS+=($!)
wait_http "$BASE/healthz" 30 || die "manofwar up did not start (see $WORK/up.log)"

log "H.264 1080p source: file appears → first playable segment"
read -r H264_S H264_VARIANT < <(first_segment "$WORK/h264.mp4" "H264 Source (2024).mp4")
log "  $H264_S s (first variant: $H264_VARIANT)"
# Let the first transcode finish so the HEVC measurement starts from an idle worker.
until curl -fsS -H "$AUTH" "$BASE/api/v1/items" | jq -e 'all(.items[]; .state == "ready" or .state == "failed")' >/dev/null; do sleep 0.5; done
log "HEVC 1080p source: file appears → first playable segment"
read -r HEVC_S HEVC_VARIANT < <(first_segment "$WORK/hevc.mkv" "HEVC Source (2024).mkv")
log "  $HEVC_S s (first variant: $HEVC_VARIANT)"

log "source rung remux speed: transcode with no encoded rung (a profile whose only rung is taller than the source)"
"${H264_CMD[@]/%h264.mp4/remux.mp4}"
printf 'renditions:\n  - {name: 4k, height: 2160, videoBitrateKbps: 16000}\n' >"$WORK/remux.yaml"
timed remux "$MANOFWAR_BIN" transcode --input "$WORK/remux.mp4" --output "$WORK/remux-out" --profile "$WORK/remux.yaml"
[[ -f $WORK/remux-out/source/index.m3u8 && ! -d $WORK/remux-out/4k ]] || die "remux run did not produce only a source rung"
REMUX_X=$(awk -v d="$SECS" -v w="$TIMED_WALL" 'BEGIN { printf "%.0f", d / w }')

verdict "$H264_S" '<' 2; V_H264=$VERDICT
verdict "$HEVC_S" '<' 10; V_HEVC=$VERDICT
result_line "H.264 1080p → first playable segment = ${H264_S}s (target < 2 s) $V_H264"
result_line "HEVC 1080p → first playable segment = ${HEVC_S}s (target < 10 s) $V_HEVC"
result_line "source rung remux = ${REMUX_X}x real time (${TIMED_WALL}s for ${SECS}s, audio encode included)"
frag "" "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|"
frag "| H.264 1080p source, file appears → first playable segment (\`$H264_VARIANT\` + audio) | **$H264_S s** | < 2 s | $V_H264 | $(today) | $(machine) |" \
  "| HEVC 1080p source, file appears → first playable segment (\`$HEVC_VARIANT\` + audio) | **$HEVC_S s** | < 10 s | $V_HEVC | $(today) | $(machine) |" \
  "| Source rung remux (with the AAC encode), $SECS s 1080p | **${REMUX_X}× real time** ($TIMED_WALL s) | — | — | $(today) | $(machine) |" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "$(show_cmd "${H264_CMD[@]}")" "$(show_cmd "${HEVC_CMD[@]}")" \
  "manofwar up --media \$WORK/media --data \$WORK/data --listen 127.0.0.1:PORT &   # default profile" \
  "mv h264.mp4 \$WORK/media/; poll /api/v1/items, the item's hls_url, then seg_00000.m4s of the first variant and audio (every 20 ms)" \
  "manofwar transcode --input remux.mp4 --output OUT --profile remux.yaml   # only rung: 2160p > source, so only the source rung is made" \
  '```' "" "</details>" ""
bench_finish

#!/usr/bin/env bash
# scan: catalog 10,000 small media files in 100 folders.
#   1. cold `manofwar scan --media DIR --data DATA` (empty catalog)  -> files/s
#   2. the same command again, nothing changed                      -> target < 1 s
#   3. idle RSS of `manofwar up --workers 0` on that library, once GET /api/v1/items lists
#      every file and ~3 s have passed                               -> target < 60 MiB
# For context it also times `ffprobe` run once per file on a sample (what a scanner that
# shells out would pay).
#
# Env: BENCH_SCAN_FILES (default 10000; a multiple of 100), BENCH_IDLE_WAIT (default 3 s),
# BENCH_UP_TIMEOUT (default 600 s to list every item), plus those in lib.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NFILES=${BENCH_SCAN_FILES:-10000}
IDLE_WAIT=${BENCH_IDLE_WAIT:-3}
UP_TIMEOUT=${BENCH_UP_TIMEOUT:-600}
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-900}
((NFILES % 100 == 0 && NFILES > 0)) || die "BENCH_SCAN_FILES must be a positive multiple of 100"
PER_DIR=$((NFILES / 100))
need_base
check_manofwar
bench_init scan

MEDIA=$WORK/media
DATA=$WORK/data
mkdir -p "$MEDIA" "$DATA"

# --- library: one tiny valid clip, copied to NFILES names over 100 folders -------------------
TINY=$WORK/tiny.mp4
TINY_CMD=(ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc=size=64x64:rate=10
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p
  -c:a aac -b:a 32k -shortest)
"${TINY_CMD[@]}" "$TINY"
log "copying $(stat -c %s "$TINY")-byte clip to $NFILES files in 100 folders"
t0=$(now)
for d in $(seq 1 100); do
  names=()
  if ((d <= 50)); then   # 50 shows: "Show Name 07/Show Name 07 S02E13.mp4"
    dir=$(printf '%s/Show Name %02d' "$MEDIA" "$d")
    for i in $(seq 0 $((PER_DIR - 1))); do
      names+=("$(printf '%s/Show Name %02d S%02dE%02d.mp4' "$dir" "$d" $((i / 25 + 1)) $((i % 25 + 1)))")
    done
  else                    # 50 movie folders: "Movies 63/Movie 1234 (1984).mp4"
    dir=$(printf '%s/Movies %02d' "$MEDIA" "$d")
    for i in $(seq 0 $((PER_DIR - 1))); do
      n=$(((d - 51) * PER_DIR + i + 1))
      names+=("$(printf '%s/Movie %d (%d).mp4' "$dir" "$n" $((1950 + n % 70)))")
    done
  fi
  mkdir -p "$dir"
  tee "${names[@]}" <"$TINY" >/dev/null
done
got=$(find "$MEDIA" -type f -name '*.mp4' | wc -l)
((got == NFILES)) || die "expected $NFILES files, made $got"
log "library ready in $(since "$t0")s ($(du -sh "$MEDIA" | cut -f1))"

# --- context: ffprobe once per file on a sample -----------------------------------------------
SAMPLE=100
mapfile -t sample < <(find "$MEDIA" -type f -name '*.mp4' | head -n "$SAMPLE")
t0=$(now)
for f in "${sample[@]}"; do
  ffprobe -v error -show_format -show_streams -of json "$f" >/dev/null
done
PROBE_T=$(since "$t0")
PROBE_RATE=$(awk -v n="$SAMPLE" -v t="$PROBE_T" 'BEGIN { printf "%.0f", n / t }')
echo "scan: $NFILES files in 100 folders, $(machine)"
printf '  %-44s %8s files/s (%s files in %ss)\n' "ffprobe per file (context)" "$PROBE_RATE" "$SAMPLE" "$PROBE_T"

frag "" \
  "Library: $NFILES copies of one $(stat -c %s "$TINY")-byte H.264/AAC clip (0.5 s, 64x64) in 100 folders (50 \`Show Name NN/Show Name NN SxxEyy.mp4\`, 50 \`Movies NN/Movie N (YYYY).mp4\`), generated at bench time; files are in the page cache (\"cold\" = empty catalog)." "" \
  "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|"

count_items() {   # count_items BASE TOKEN: number of items GET /api/v1/items reports, or -1
  local body
  body=$(curl -fsS --max-time 10 -H "Authorization: Bearer $2" "$1/api/v1/items" 2>/dev/null) || { echo -1; return; }
  jq -r 'if type == "array" then length
         elif (.total? | type) == "number" then .total
         elif (.items? | type) == "array" then (.items | length)
         else -1 end' <<<"$body" 2>/dev/null || echo -1
}

if use_manofwar; then
  # --- 1. cold scan ---------------------------------------------------------------------------
  SCAN_CMD=("$MANOFWAR_BIN" scan --media "$MEDIA" --data "$DATA")
  log "cold scan"
  timed scan-cold timeout "$CMD_TIMEOUT" "${SCAN_CMD[@]}"
  COLD=$TIMED_WALL; COLD_RSS=$TIMED_RSS_MIB
  RATE=$(awk -v n="$NFILES" -v t="$COLD" 'BEGIN { printf "%.0f", n / t }')
  OUT_LINES=$(wc -l <"$WORK/scan-cold.log")
  # --- 2. rescan, nothing changed ---------------------------------------------------------------
  log "rescan (nothing changed)"
  timed scan-warm timeout "$CMD_TIMEOUT" "${SCAN_CMD[@]}"
  WARM=$TIMED_WALL; WARM_RSS=$TIMED_RSS_MIB
  timed scan-warm2 timeout "$CMD_TIMEOUT" "${SCAN_CMD[@]}"
  WARM=$(min_of "$WARM" "$TIMED_WALL")

  # --- 3. idle RSS of `up --workers 0` -----------------------------------------------------------
  idle_rss() {   # idle_rss DATA_DIR LABEL: sets IDLE_KB, HWM_KB, READY_S
    local data=$1 label=$2 port base pid t0 n=-1 deadline token
    port=$(free_port); base=http://127.0.0.1:$port
    token=$(api_token "$data")
    t0=$(now)
    "$MANOFWAR_BIN" up --media "$MEDIA" --data "$data" --listen "127.0.0.1:$port" --workers 0 \
      >"$WORK/up-$label.log" 2>&1 &
    pid=$!; BENCH_PIDS+=("$pid")
    deadline=$(($(date +%s) + UP_TIMEOUT))
    while :; do
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK/up-$label.log" >&2; die "manofwar up exited early"; }
      n=$(count_items "$base" "$token")
      ((n >= NFILES)) && break
      (($(date +%s) < deadline)) || { tail -n 20 "$WORK/up-$label.log" >&2; die "GET /api/v1/items listed $n of $NFILES items after ${UP_TIMEOUT}s"; }
      sleep 0.5
    done
    READY_S=$(since "$t0")
    sleep "$IDLE_WAIT"
    IDLE_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    ANON_KB=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
    FILE_KB=$(awk '/^RssFile:/ { print $2 }' "/proc/$pid/status")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  }
  MiB() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
  log "idle RSS: up on the scanned catalog"
  idle_rss "$DATA" warm
  IDLE=$(MiB "$IDLE_KB"); HWM=$(MiB "$HWM_KB"); READY=$READY_S; ANON=$(MiB "$ANON_KB"); FILE=$(MiB "$FILE_KB")
  log "idle RSS: up on an empty data dir (scans the $NFILES files itself)"
  mkdir -p "$WORK/data-fresh"
  idle_rss "$WORK/data-fresh" fresh
  IDLE_F=$(MiB "$IDLE_KB"); HWM_F=$(MiB "$HWM_KB"); READY_F=$READY_S; ANON_F=$(MiB "$ANON_KB"); FILE_F=$(MiB "$FILE_KB")

  printf '  %-44s %8s files/s (%ss, max RSS %s MiB, %s output lines)\n' "manofwar scan, cold" "$RATE" "$COLD" "$COLD_RSS" "$OUT_LINES"
  printf '  %-44s %8ss (max RSS %s MiB)\n' "manofwar scan, nothing changed" "$WARM" "$WARM_RSS"
  printf '  %-44s %8s MiB (anon %s + file-backed %s; peak %s MiB; all items listed after %ss)\n' "manofwar up --workers 0, idle, scanned catalog" "$IDLE" "$ANON" "$FILE" "$HWM" "$READY"
  printf '  %-44s %8s MiB (anon %s + file-backed %s; peak %s MiB; all items listed after %ss)\n' "manofwar up --workers 0, idle, empty data dir" "$IDLE_F" "$ANON_F" "$FILE_F" "$HWM_F" "$READY_F"
  verdict "$WARM" '<' 1; V_WARM=$VERDICT
  verdict "$IDLE" '<' 60; V_IDLE=$VERDICT
  X=$(ratio "$RATE" "$PROBE_RATE")
  result_line "cold scan = $RATE files/s (${COLD}s for $NFILES files; ${X}x ffprobe-per-file; no target)"
  result_line "rescan, nothing changed = ${WARM}s (target < 1 s) $V_WARM"
  result_line "idle RSS, up --workers 0 = ${IDLE} MiB (target < 60 MiB) $V_IDLE"
  result_line "idle RSS, up --workers 0 that scanned the library itself = ${IDLE_F} MiB (for information)"
  frag "| Cold scan, \`manofwar scan\` | **$RATE files/s** ($COLD s; peak RSS $COLD_RSS MiB; ${X}× ffprobe-per-file) | — | — | $(today) | $(machine) |" \
       "| Rescan, nothing changed | **$WARM s** | < 1 s | $V_WARM | $(today) | $(machine) |" \
       "| Idle RSS, \`up --workers 0\` on the scanned catalog ($IDLE_WAIT s after all items listed) | **$IDLE MiB** (anonymous $ANON + file-backed $FILE; peak $HWM MiB; all listed after $READY s) | < 60 MiB | $V_IDLE | $(today) | $(machine) |" \
       "| Idle RSS, \`up --workers 0\` on an empty data dir (it scans everything itself) | $IDLE_F MiB (anonymous $ANON_F + file-backed $FILE_F; peak $HWM_F MiB; all listed after $READY_F s) | — (information) | — | $(today) | $(machine) |"
else
  result_line "baseline only: ffprobe per file $PROBE_RATE files/s"
  frag "| manofwar scan / up | not run (BENCH_BASELINE_ONLY=1) | — | — | $(today) | $(machine) |"
fi
frag "| Context: \`ffprobe\` once per file ($SAMPLE files) | $PROBE_RATE files/s | — | — | $(today) | $(machine) |" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "$(show_cmd "${TINY_CMD[@]}" "$TINY")   # then copied to $NFILES names" \
  "manofwar scan --media \$WORK/media --data \$WORK/data   # twice: cold, then nothing changed" \
  "manofwar up --media \$WORK/media --data \$WORK/data --listen 127.0.0.1:PORT --workers 0 &" \
  "# poll GET /api/v1/items until $NFILES items, sleep $IDLE_WAIT, read VmRSS from /proc/PID/status" \
  '```' "" "</details>" ""
bench_finish

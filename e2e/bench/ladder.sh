#!/usr/bin/env bash
# ladder: wall time of a 4-rendition HLS ladder transcode of a 1080p30 H.264/AAC clip.
#   a. manofwar transcode --input src.mp4 --output OUT --profile P  (P = the default ladder with
#      sourceRung off, so all four rungs are encoded; one decode, 4 encodes, in-process)
#   b. one ffmpeg CLI command doing the same ladder (split=4, -var_stream_map)
#   c. one ffmpeg process per rendition (each decodes the source itself), run one after
#      another (sequential sum = headline) and all four at once (reported too)
# Targets: manofwar / single-CLI <= 1.0; manofwar / per-rendition (sequential sum) <= 0.7.
#
# Env: BENCH_SECONDS (source length, default 20), BENCH_RUNS (runs per variant, default 2;
# best time is kept with 2, the median with 3 or more), BENCH_RUN_WAIT_IDLE (before each run, wait
# up to this many seconds, default 60, for the CPUs to be < 25% busy), plus those in lib.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEN=${BENCH_SECONDS:-20}
RUNS=${BENCH_RUNS:-2}
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-900}
need_base
check_manofwar
bench_init ladder

# name height bitrate(kbit/s): the default profile's ladder. maxrate = 1.5x, bufsize = 2x.
RENDITIONS=("1080p 1080 6000" "720p 720 3000" "540p 540 2000" "360p 360 730")
KEYFRAMES='expr:gte(t,n_forced*6)'

SRC=$WORK/src.mp4
SRC_CMD=(ffmpeg -hide_banner -nostdin -loglevel error -y
  -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000
  -t "$LEN" -c:v libx264 -preset fast -b:v 8M -c:a aac -b:a 160k)
log "generating ${LEN}s 1080p30 source"
timed gen-src timeout "$CMD_TIMEOUT" "${SRC_CMD[@]}" "$SRC"
log "source ready in ${TIMED_WALL}s ($(du -h "$SRC" | cut -f1))"

# The ladder pinned as a profile, so that manofwar does exactly the work the ffmpeg variants do:
# the default profile has `sourceRung: true`, which remuxes a browser-safe source as the top
# rung instead of encoding 1080p (reported once below, for information).
PROFILE=$WORK/ladder-profile.yaml
{
  echo "segmentSeconds: 6"; echo "preset: veryfast"; echo "audioBitrateKbps: 128"; echo "sourceRung: false"
  echo "renditions:"
  for r in "${RENDITIONS[@]}"; do
    read -r name h b <<<"$r"
    echo "  - {name: $name, height: $h, videoBitrateKbps: $b}"
  done
} >"$PROFILE"

# --- command builders (OUT dir as $1) -------------------------------------------------------
mow_cmd() { CMD=("$MANOFWAR_BIN" transcode --input "$SRC" --output "$1" --profile "$PROFILE"); }

cli_cmd() {
  local out=$1 fc='[0:v]split=4' i maps=() rates=() vsm=()
  for i in 0 1 2 3; do fc+="[s$i]"; done
  fc+=';'
  for i in 0 1 2 3; do
    read -r name h b <<<"${RENDITIONS[$i]}"
    fc+="[s${i}]scale=-2:${h}[v${i}];"
    maps+=(-map "[v$i]")
    rates+=("-b:v:$i" "${b}k" "-maxrate:v:$i" "$((b * 3 / 2))k" "-bufsize:v:$i" "$((b * 2))k")
    vsm+=("v:$i,agroup:aud,name:$name")
  done
  vsm+=("a:0,agroup:aud,name:audio,default:yes")
  CMD=(ffmpeg -hide_banner -nostdin -loglevel error -y -i "$SRC"
    -filter_complex "${fc%;}" "${maps[@]}" -map 0:a:0
    -c:v libx264 -preset veryfast -sc_threshold 0 -force_key_frames "$KEYFRAMES" "${rates[@]}"
    -c:a aac -b:a 128k -ac 2
    -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags independent_segments
    -hls_fmp4_init_filename init.mp4 -hls_segment_filename "$out/%v/seg_%05d.m4s"
    -master_pl_name master.m3u8 -var_stream_map "${vsm[*]}" "$out/%v/index.m3u8")
}

# one rendition (index $2) + audio, own decode of the source
one_cmd() {
  local out=$1 name h b
  read -r name h b <<<"${RENDITIONS[$2]}"
  CMD=(ffmpeg -hide_banner -nostdin -loglevel error -y -i "$SRC" -map 0:v:0 -map 0:a:0
    -vf "scale=-2:$h" -c:v libx264 -preset veryfast -sc_threshold 0 -force_key_frames "$KEYFRAMES"
    -b:v "${b}k" -maxrate "$((b * 3 / 2))k" -bufsize "$((b * 2))k" -c:a aac -b:a 128k -ac 2
    -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags independent_segments
    -hls_fmp4_init_filename init.mp4 -hls_segment_filename "$out/$name/seg_%05d.m4s"
    "$out/$name/index.m3u8")
}

out_bytes() { du -sb "$1" | cut -f1; }
count_segments() { find "$1" -name '*.m4s' | wc -l; }

# --- one run of each variant; sets RUN_WALL (s) ---------------------------------------------
run_mow() {
  local out=$WORK/mow-$1
  mow_cmd "$out"
  timed "mow-$1" timeout "$CMD_TIMEOUT" "${CMD[@]}"
  RUN_WALL=$TIMED_WALL; MOW_RSS=$TIMED_RSS_MIB
  [[ -n $(find "$out" -name master.m3u8 -print -quit 2>/dev/null) ]] || die "manofwar wrote no master.m3u8 under $out"
  MOW_SEGS=$(count_segments "$out"); MOW_BYTES=$(out_bytes "$out")
  rm -rf "$out"
}

run_cli() {
  local out=$WORK/cli-$1
  mkdir -p "$out"
  cli_cmd "$out"
  timed "cli-$1" timeout "$CMD_TIMEOUT" "${CMD[@]}"
  RUN_WALL=$TIMED_WALL; CLI_RSS=$TIMED_RSS_MIB
  [[ -f $out/master.m3u8 ]] || die "ffmpeg single CLI wrote no master.m3u8"
  CLI_SEGS=$(count_segments "$out"); CLI_BYTES=$(out_bytes "$out")
  rm -rf "$out"
}

run_seq() {
  local out=$WORK/seq-$1 i sum=0 name h b
  for i in 0 1 2 3; do
    read -r name h b <<<"${RENDITIONS[$i]}"
    mkdir -p "$out/$name"
    one_cmd "$out" "$i"
    timed "seq-$1-$name" timeout "$CMD_TIMEOUT" "${CMD[@]}"
    sum=$(awk -v a="$sum" -v b="$TIMED_WALL" 'BEGIN { printf "%.2f", a + b }')
    PER_WALL[i]=$TIMED_WALL
  done
  RUN_WALL=$sum
  SEQ_SEGS=$(count_segments "$out"); SEQ_BYTES=$(out_bytes "$out")
  rm -rf "$out"
}

run_par() {
  local out=$WORK/par-$1 i pids=() name h b t0 rc=0
  for i in 0 1 2 3; do read -r name h b <<<"${RENDITIONS[$i]}"; mkdir -p "$out/$name"; done
  t0=$(now)
  for i in 0 1 2 3; do
    one_cmd "$out" "$i"
    timeout "$CMD_TIMEOUT" "${CMD[@]}" >"$WORK/par-$1-$i.log" 2>&1 &
    pids+=($!); BENCH_PIDS+=($!)
  done
  for i in 0 1 2 3; do wait "${pids[$i]}" || rc=$?; done
  RUN_WALL=$(since "$t0")
  ((rc == 0)) || { cat "$WORK"/par-"$1"-*.log >&2; die "parallel per-rendition ffmpeg failed"; }
  rm -rf "$out"
}

# --- runs, interleaved so that drift hits every variant alike --------------------------------
# measure LABEL FUNCTION RUN: wait (briefly) for a quiet machine, run it, note the other work
RUN_WAIT=${BENCH_RUN_WAIT_IDLE:-60}
measure() {
  wait_quiet "$RUN_WAIT"
  log "run $3/$RUNS: $1"
  sample_begin; "$2" "$3"; sample_end
  log "  ${RUN_WALL}s${4:+ ($4)}; other work meanwhile ${SAMPLE_OTHER}% of the CPUs"
  NOISE+=("$1 #$3: ${RUN_WALL} s, other work ${SAMPLE_OTHER}%")
}
declare -a T_MOW=() T_CLI=() T_SEQ=() T_PAR=() PER_WALL=() PER_BEST=() NOISE=()
for r in $(seq 1 "$RUNS"); do
  if use_manofwar; then measure "manofwar transcode" run_mow "$r"; T_MOW+=("$RUN_WALL"); fi
  measure "ffmpeg single CLI" run_cli "$r"; T_CLI+=("$RUN_WALL")
  measure "ffmpeg per rendition, sequential" run_seq "$r"; T_SEQ+=("$RUN_WALL")
  log "  per rendition: ${PER_WALL[*]}"
  if [[ -z ${PER_BEST[0]:-} ]] || awk -v a="$RUN_WALL" -v b="$BEST_SEQ_SUM" 'BEGIN { exit !(a < b) }'; then
    PER_BEST=("${PER_WALL[@]}"); BEST_SEQ_SUM=$RUN_WALL
  fi
  measure "ffmpeg per rendition, 4 concurrent" run_par "$r"; T_PAR+=("$RUN_WALL")
done

if use_manofwar; then   # once, for information: the default profile (source rung remux + 3 encodes)
  log "manofwar transcode with the default profile (once)"
  timed mow-default timeout "$CMD_TIMEOUT" "$MANOFWAR_BIN" transcode --input "$SRC" --output "$WORK/mow-default"
  MOW_DEF=$TIMED_WALL; MOW_DEF_RUNGS=$(find "$WORK/mow-default" -mindepth 2 -maxdepth 2 -name index.m3u8 -printf '%h\n' | xargs -n1 basename | sort | paste -sd/)
  MOW_DEF_SEGS=$(count_segments "$WORK/mow-default"); rm -rf "$WORK/mow-default"
  log "  ${MOW_DEF}s ($MOW_DEF_RUNGS)"
fi

if ((RUNS >= 3)); then pick() { median_of "$@"; }; HOW="median of $RUNS"; else pick() { min_of "$@"; }; HOW="best of $RUNS"; fi
CLI=$(pick "${T_CLI[@]}"); SEQ=$(pick "${T_SEQ[@]}"); PAR=$(pick "${T_PAR[@]}")
NOISE_TXT=$(printf '%s; ' "${NOISE[@]}")
MB() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
speed() { awk -v l="$LEN" -v t="$1" 'BEGIN { printf "%.2fx realtime", l / t }'; }

echo "ladder: ${LEN}s 1080p30 source, $HOW, $(machine)"
printf '  %-34s %8.2fs  %s  (%s segments, %s, max RSS %s MiB)\n' "ffmpeg single CLI (split=4)" "$CLI" "$(speed "$CLI")" "$CLI_SEGS" "$(MB "$CLI_BYTES")" "$CLI_RSS"
printf '  %-34s %8.2fs  %s  (%s segments, %s; %s)\n' "ffmpeg per rendition, sequential" "$SEQ" "$(speed "$SEQ")" "$SEQ_SEGS" "$(MB "$SEQ_BYTES")" "${PER_BEST[*]/%/s}"
printf '  %-34s %8.2fs  %s\n' "ffmpeg per rendition, 4 concurrent" "$PAR" "$(speed "$PAR")"

frag "" \
  "Source: ${LEN} s 1080p30 H.264 8 Mbit/s + AAC, generated at bench time. Times are wall clock, $HOW, runs interleaved. Every run, with the share of the CPUs other work on the machine took meanwhile: ${NOISE_TXT%; }." "" \
  "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|"

if use_manofwar; then
  MOW=$(pick "${T_MOW[@]}")
  printf '  %-34s %8.2fs  %s  (%s segments, %s, max RSS %s MiB)\n' "manofwar transcode --profile ladder" "$MOW" "$(speed "$MOW")" "$MOW_SEGS" "$(MB "$MOW_BYTES")" "$MOW_RSS"
  printf '  %-34s %8.2fs  %s  (one run; rungs %s, %s segments)\n' "manofwar transcode, default profile" "$MOW_DEF" "$(speed "$MOW_DEF")" "$MOW_DEF_RUNGS" "$MOW_DEF_SEGS"
  R1=$(ratio "$MOW" "$CLI"); verdict "$R1" '<=' 1.0; V1=$VERDICT
  R2=$(ratio "$MOW" "$SEQ"); verdict "$R2" '<=' 0.7; V2=$VERDICT
  R3=$(ratio "$MOW" "$PAR")
  result_line "manofwar/single-CLI = $R1 (${MOW}s / ${CLI}s; target <= 1.0) $V1"
  result_line "manofwar/per-rendition (sequential sum) = $R2 (${MOW}s / ${SEQ}s; target <= 0.7) $V2"
  result_line "manofwar/per-rendition (4 concurrent) = $R3 (${MOW}s / ${PAR}s; no target, for information)"
  frag "| manofwar / single ffmpeg CLI | **$R1** (${MOW} s vs ${CLI} s) | ≤ 1.0 | $V1 | $(today) | $(machine) |" \
       "| manofwar / ffmpeg per rendition, sequential sum (headline) | **$R2** (${MOW} s vs ${SEQ} s) | ≤ 0.7 | $V2 | $(today) | $(machine) |" \
       "| manofwar / ffmpeg per rendition, 4 concurrent (information) | $R3 (${MOW} s vs ${PAR} s) | — | — | $(today) | $(machine) |" \
       "| manofwar transcode: speed, peak RSS, output | $(speed "$MOW"), ${MOW_RSS} MiB, ${MOW_SEGS} segments, $(MB "$MOW_BYTES") | — | — | $(today) | $(machine) |" \
       "| manofwar transcode, default profile (one run, information: rungs $MOW_DEF_RUNGS) | ${MOW_DEF} s, $(speed "$MOW_DEF"), ${MOW_DEF_SEGS} segments | — | — | $(today) | $(machine) |"
else
  result_line "baseline only: single CLI ${CLI}s, per-rendition sequential ${SEQ}s, concurrent ${PAR}s"
  frag "| manofwar transcode | not run (BENCH_BASELINE_ONLY=1) | — | — | $(today) | $(machine) |"
fi
frag "| ffmpeg single CLI: time, peak RSS, output | ${CLI} s, ${CLI_RSS} MiB, ${CLI_SEGS} segments, $(MB "$CLI_BYTES") | — | — | $(today) | $(machine) |" \
     "| ffmpeg per rendition: sequential sum (1080p/720p/540p/360p) | ${SEQ} s (${PER_BEST[*]/%/ s}) | — | — | $(today) | $(machine) |" \
     "| ffmpeg per rendition: 4 concurrent | ${PAR} s | — | — | $(today) | $(machine) |"

# exact commands, with the temp dir shown as $WORK
mow_cmd "$WORK/out"; C_MOW=$(show_cmd "${CMD[@]/#$MANOFWAR_BIN/manofwar}")
cli_cmd "$WORK/cli"; C_CLI=$(show_cmd "${CMD[@]}")
one_cmd "$WORK/seq" 0; C_ONE=$(show_cmd "${CMD[@]}")
frag "" "<details><summary>Commands</summary>" "" '```sh' \
  "# source" "$(show_cmd "${SRC_CMD[@]}" "$SRC")" \
  "# a. manofwar, with this profile (the default ladder, sourceRung off):" \
  "$(sed 's/^/#   /' "$PROFILE")" \
  "$C_MOW" \
  "# b. single ffmpeg CLI" "$C_CLI" \
  "# c. per rendition (shown for 1080p; 720p/540p/360p alike with their height and bitrate)" "$C_ONE" \
  '```' "" "</details>" ""
bench_finish

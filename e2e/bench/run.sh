#!/usr/bin/env bash
# The benchmark suite (`make bench`): builds the release binary, runs every benchmark in
# e2e/bench/, prints each one's result lines (ratios vs targets), and rewrites each benchmark's
# results block in docs/benchmarks.md.
#
#   bash e2e/bench/run.sh                 # all: ladder scan serve, then any other e2e/bench/*.sh
#   bash e2e/bench/run.sh serve scan      # a subset (other blocks in the doc are kept)
#
# Before each benchmark it waits (up to BENCH_WAIT_IDLE s, default 180) until the CPUs are less
# than 25% busy with other work, and records how busy they were in the doc.
#
# Env: MANOFWAR_BIN (skips the cargo build when set to something else than the default),
# BENCH_NO_BUILD=1, BENCH_NICE=-10 (run the benchmarks at that niceness, as root, so that other
# work on a shared machine takes less of the CPUs from them), BENCH_BASELINE_ONLY=1 (ffmpeg/nginx
# halves only; the doc is then left alone unless BENCH_UPDATE_DOC=1), BENCH_STRICT=1 (exit non-zero when a target is missed), and each
# script's own knobs (see the top of each script).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DOC=$BENCH_REPO/docs/benchmarks.md
# ladder, scan and serve first, then any other benchmark script in this folder
ALL=(ladder scan serve)
for f in "$HERE"/*.sh; do
  b=$(basename "$f" .sh)
  [[ " ${ALL[*]} lib run " == *" $b "* ]] || ALL+=("$b")
done
if (($#)); then BENCHES=("$@"); else BENCHES=("${ALL[@]}"); fi
for b in "${BENCHES[@]}"; do [[ -f $HERE/$b.sh ]] || die "no benchmark $b (have: ${ALL[*]})"; done
NICE=${BENCH_NICE:-0}
[[ $NICE =~ ^-?[0-9]+$ ]] || die "BENCH_NICE must be an integer niceness (e.g. -10)"
UPDATE_DOC=${BENCH_UPDATE_DOC:-$([[ $BENCH_BASELINE_ONLY == 1 ]] && echo 0 || echo 1)}

if use_manofwar && [[ ${BENCH_NO_BUILD:-0} != 1 && $MANOFWAR_BIN == "$BENCH_REPO/target/release/manofwar" ]]; then
  log "cargo build --release -p manofwar-node"
  (cd "$BENCH_REPO" && cargo build --release -p manofwar-node) || die "release build failed"
fi
check_manofwar
mkdir -p "$BENCH_OUT"

COMMIT=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$BENCH_REPO" diff --quiet HEAD -- node crds Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
VERSION=$("$MANOFWAR_BIN" --version 2>/dev/null || echo "manofwar (version unknown)")
use_manofwar || VERSION="(manofwar not run)"

declare -A STATUS=() LOAD=() OTHER=()
SUITE_T0=$(now)
for b in "${BENCHES[@]}"; do
  wait_quiet "${BENCH_WAIT_IDLE:-180}"
  LOAD[$b]=$BENCH_BUSY
  log "=== $b (CPUs ${BENCH_BUSY}% busy before it) ==="
  t0=$(now)
  rm -f "$BENCH_OUT/$b.md"
  busy0=$(cpu_jiffies)
  set +e
  /usr/bin/time -f '%U %S' -o "$BENCH_OUT/$b.cpu" nice -n "$NICE" bash "$HERE/$b.sh" 2>&1 | tee "$BENCH_OUT/$b.log"
  rc=${PIPESTATUS[0]}
  set -e
  STATUS[$b]=$rc
  wall=$(since "$t0")
  # CPU time the machine spent on anything but this benchmark and its children, as a share of
  # all CPU time available while it ran
  OTHER[$b]=$(awk -v b0="$busy0" -v b1="$(cpu_jiffies)" -v hz="$(getconf CLK_TCK)" -v w="$wall" -v n="$(nproc)" \
    -v own="$(tail -n1 "$BENCH_OUT/$b.cpu" 2>/dev/null)" 'BEGIN { split(own, o, " "); x = (b1 - b0) / hz - o[1] - o[2];
      if (x < 0) x = 0; printf "%.0f", 100 * x / (w * n) }')
  log "=== $b: exit $rc after ${wall}s; other work on the machine meanwhile: ${OTHER[$b]}% of the CPUs ==="
done

echo
echo "=== benchmark summary ($(machine); $VERSION; commit $COMMIT; $(since "$SUITE_T0")s) ==="
for b in "${BENCHES[@]}"; do
  grep '^RESULT ' "$BENCH_OUT/$b.log" || true
  case ${STATUS[$b]} in
    0) ;;
    3) echo "RESULT $b: target(s) missed (BENCH_STRICT=1)" ;;
    *) echo "RESULT $b: FAILED (exit ${STATUS[$b]}), log: $BENCH_OUT/$b.log" ;;
  esac
done

# --- docs/benchmarks.md: replace the block between <!-- results:NAME --> and <!-- /results:NAME -->
if [[ $UPDATE_DOC == 1 ]]; then
  [[ -f $DOC ]] || die "$DOC is missing (it holds the results markers)"
  for b in "${BENCHES[@]}"; do
    block=$BENCH_OUT/$b.block
    {
      echo "_Last run: $(date -u '+%Y-%m-%d %H:%M UTC'); $VERSION, commit $COMMIT; machine: $(machine), $(awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo); other work on the machine: ${LOAD[$b]}% of the CPUs just before, ${OTHER[$b]}% during the run$( ((NICE)) && echo "; benchmark run at niceness $NICE")._"
      echo
      if [[ -f $BENCH_OUT/$b.md ]]; then
        cat "$BENCH_OUT/$b.md"
      else
        echo "**Failed** (exit ${STATUS[$b]}). Last lines of the log:"
        echo
        echo '```'
        tail -n 15 "$BENCH_OUT/$b.log"
        echo '```'
      fi
    } >"$block"
    # shellcheck disable=SC2016  # the backquotes are markdown
    if ! grep -q "^<!-- results:$b -->\$" "$DOC"; then   # a new benchmark: add a section for it
      printf '\n## %s\n\nSee the comment at the top of `e2e/bench/%s.sh`.\n\n### Results\n\n<!-- results:%s -->\n<!-- /results:%s -->\n' \
        "$b" "$b" "$b" "$b" >>"$DOC"
    fi
    awk -v name="$b" -v block="$block" '
      $0 == "<!-- results:" name " -->" { print; while ((getline line < block) > 0) print line; skip = 1; next }
      $0 == "<!-- /results:" name " -->" { skip = 0 }
      !skip { print }' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
  done
  log "updated $DOC"
fi

fail=0
for b in "${BENCHES[@]}"; do [[ ${STATUS[$b]} == 0 ]] || fail=1; done
exit "$fail"

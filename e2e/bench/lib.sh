# shellcheck shell=bash disable=SC2034  # globals set here are read by the scripts that source this
# Shared helpers for the benchmark scripts in e2e/bench/. Sourced, never run.
#
# Environment (all optional):
#   MANOFWAR_BIN         binary under test (default: target/release/manofwar, relative to the repo root)
#   BENCH_OUT            where each benchmark writes its markdown fragment (default: target/bench)
#   BENCH_BASELINE_ONLY  1 = run only the ffmpeg / nginx halves (for developing without the binary)
#   BENCH_STRICT         1 = exit 3 when a target is missed (default: report only)

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MANOFWAR_BIN=${MANOFWAR_BIN:-target/release/manofwar}
case $MANOFWAR_BIN in /*) ;; */*) MANOFWAR_BIN=$BENCH_REPO/$MANOFWAR_BIN ;; esac
BENCH_OUT=${BENCH_OUT:-$BENCH_REPO/target/bench}
BENCH_BASELINE_ONLY=${BENCH_BASELINE_ONLY:-0}
BENCH_STRICT=${BENCH_STRICT:-0}
BENCH_MISSED=0
export LC_ALL=C

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# need CMD [DEBIAN_PACKAGE]: install the package with apt only when CMD is missing.
need() {
  local cmd=$1 pkg=${2:-$1}
  command -v "$cmd" >/dev/null 2>&1 && return 0
  log "installing $pkg (for $cmd)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null; } \
    || die "could not install $pkg"
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing $pkg"
}

need_base() {
  need ffmpeg ffmpeg
  need jq jq
  need curl curl
  [[ -x /usr/bin/time ]] || need /usr/bin/time time
}

# Use the manofwar binary? (false in baseline-only mode)
use_manofwar() { [[ $BENCH_BASELINE_ONLY != 1 ]]; }

check_manofwar() {
  use_manofwar || { log "BENCH_BASELINE_ONLY=1: skipping manofwar"; return 0; }
  [[ -x $MANOFWAR_BIN ]] || die "manofwar binary not found at $MANOFWAR_BIN (cargo build --release -p manofwar-node, or set MANOFWAR_BIN; BENCH_BASELINE_ONLY=1 runs the baselines alone)"
  "$MANOFWAR_BIN" --help >/dev/null 2>&1 || die "$MANOFWAR_BIN --help failed"
}

now() { date +%s.%N; }
# since START -> seconds elapsed, 2 decimals
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# timed NAME CMD...: run CMD under /usr/bin/time; sets TIMED_WALL (s) and TIMED_RSS_MIB (max RSS).
# stdout/stderr of CMD go to $WORK/NAME.log. Fails (with the log tail) when CMD fails.
timed() {
  local name=$1; shift
  local tf="$WORK/$name.time"
  if ! /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$WORK/$name.log" 2>&1; then
    tail -n 20 "$WORK/$name.log" >&2
    die "$name failed: $*"
  fi
  read -r TIMED_WALL TIMED_RSS_KB <"$tf"
  TIMED_RSS_MIB=$(awk -v k="$TIMED_RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')
}

# min / median of the numbers given as arguments
min_of() { printf '%s\n' "$@" | sort -g | head -n1; }
median_of() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }

# verdict VALUE OP TARGET: sets VERDICT to "met" or "MISSED" (OP is <=, <, >=, >) and counts
# misses. Call it directly, not in $(...), so the count survives.
verdict() {
  if awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
       ok = (op == "<=") ? v <= t : (op == "<") ? v < t : (op == ">=") ? v >= t : v > t; exit !ok }'; then
    VERDICT=met
  else
    VERDICT=MISSED; BENCH_MISSED=$((BENCH_MISSED + 1))
  fi
}

# show_cmd ARG...: the command as one line (args quoted when needed; the temp dir shown as $WORK).
show_cmd() {
  local a parts=()
  for a in "$@"; do
    [[ -n ${WORK:-} ]] && a=${a//$WORK/\$WORK}
    if [[ $a =~ ^[A-Za-z0-9_./:=,+%@\$-]+$ ]]; then parts+=("$a"); else parts+=("'${a//\'/\'\\\'\'}'"); fi
  done
  echo "${parts[*]}"
}

machine() {
  local model
  model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  printf '%s × %s' "$(nproc)" "${model:-unknown CPU}"
}
today() { date -u +%Y-%m-%d; }
# cpu_jiffies: busy CPU time of the whole machine so far, in clock ticks (all CPUs).
cpu_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# sample_begin / sample_end: around one measured run in this shell; sample_end sets
# SAMPLE_OTHER, the % of all CPU time that went to other work on the machine meanwhile (machine
# busy time from /proc/stat minus the CPU time of this shell's children, i.e. the run itself).
# Kernel time spent on loopback traffic partly counts as "other".
# (`times` must run in this shell, not in a $(...) subshell, to see this shell's children.)
children_cpu() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"
}
sample_begin() { SAMPLE_T0=$(now); SAMPLE_J0=$(cpu_jiffies); times >"$WORK/.times0"; SAMPLE_C0=$(children_cpu "$WORK/.times0"); }
sample_end() {
  local c1 j1
  times >"$WORK/.times1"; j1=$(cpu_jiffies); c1=$(children_cpu "$WORK/.times1")
  SAMPLE_OTHER=$(awk -v j0="$SAMPLE_J0" -v j1="$j1" -v hz="$(getconf CLK_TCK)" -v c0="$SAMPLE_C0" -v c1="$c1" \
    -v w="$(since "$SAMPLE_T0")" -v n="$(nproc)" 'BEGIN { x = (j1 - j0) / hz - (c1 - c0); if (x < 0) x = 0;
      printf "%.0f", (w > 0) ? 100 * x / (w * n) : 0 }')
}

# cpu_busy: % of all CPU time that was busy over the next 2 s (from /proc/stat).
cpu_busy() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat); sleep 2
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2];
    printf "%.0f", (busy + idle) ? 100 * busy / (busy + idle) : 0 }'
}

# wait_quiet MAX_S: wait (up to MAX_S) until the CPUs are less than 25% busy, since other work
# on the machine skews every figure. Sets BENCH_BUSY (% busy when we went on).
wait_quiet() {
  local max=$1 deadline
  deadline=$(($(date +%s) + max))
  while BENCH_BUSY=$(cpu_busy); ((BENCH_BUSY >= 25)); do
    if (($(date +%s) >= deadline)); then
      log "WARNING: CPUs still ${BENCH_BUSY}% busy with other work after ${max}s; figures will be skewed"
      break
    fi
    log "CPUs ${BENCH_BUSY}% busy with other work: waiting for the machine to quieten (up to ${max}s)"
    sleep 8
  done
}

# A free TCP port on 127.0.0.1.
# api_token DATA: an admin's API token for a `manofwar up` on DATA (a `bench` admin is created
# the first time). Use it as: curl -H "Authorization: Bearer $TOKEN".
api_token() {
  local data=$1
  mkdir -p "$data"
  if ! "$MANOFWAR_BIN" user list --data "$data" | awk '{ print $1 }' | grep -qx bench; then
    echo 'bench password, not secret' | "$MANOFWAR_BIN" user add bench --data "$data" --role admin 2>/dev/null \
      || die "cannot add the bench user to $data"
  fi
  "$MANOFWAR_BIN" token create --data "$data" --user bench --label bench
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# wait_http URL TIMEOUT_S: until URL answers 2xx.
wait_http() {
  local url=$1 deadline=$(( $(date +%s) + $2 ))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.2
  done
}

# Background processes started by a bench; killed by PID in cleanup.
BENCH_PIDS=()
bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]:-}"; do
    [[ -n $pid ]] || continue
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]:-}"; do
    [[ -n $pid ]] || continue
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  [[ -n ${WORK:-} && -d $WORK ]] && rm -rf "$WORK"
}

# bench_init NAME: temp dir + cleanup trap + fragment file.
bench_init() {
  BENCH_NAME=$1
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-bench-$BENCH_NAME.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$BENCH_OUT"
  FRAGMENT=$BENCH_OUT/$BENCH_NAME.md
  : >"$FRAGMENT.tmp"
}

# frag LINE...: append lines to this bench's markdown fragment.
frag() { printf '%s\n' "$@" >>"$FRAGMENT.tmp"; }

# Headline line that run.sh greps for.
result_line() { printf 'RESULT %-8s %s\n' "$BENCH_NAME" "$*"; }

bench_finish() {
  mv "$FRAGMENT.tmp" "$FRAGMENT"
  log "wrote $FRAGMENT"
  if [[ $BENCH_STRICT == 1 && $BENCH_MISSED -gt 0 ]]; then
    log "$BENCH_MISSED target(s) missed"; exit 3
  fi
}

# shellcheck shell=bash disable=SC2154  # cpdir, tmp and CP come from the script that sources this
# Helpers the end-to-end scripts share: counted checks and bounded waits.
#   ok/bad WHAT            count a pass or a failure
#   check WHAT CMD...      pass when CMD succeeds
#   eventually S WHAT CMD  pass when CMD succeeds within S seconds (polled every 0.5 s)
#   step TITLE             a section header; indent: prefix lines of detail
#   k ARGS                 kubectl with a request timeout
#   control_plane_up       start the control plane of the test ($CP up $cpdir), source its env
passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
step() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/     | /'; }
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
eventually() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then bad "$what (after $timeout s)"; return 1; fi
    sleep 0.5
  done
  ok "$what"
}
k() { kubectl --request-timeout=30s "$@"; }

# control_plane_up: `$CP up $cpdir` as a counted step (the run stops when it fails), then its env.
control_plane_up() {
  step "control plane"
  local t0=$SECONDS
  if "$CP" up "$cpdir" >"$tmp/up.log" 2>&1; then
    ok "control plane up in $((SECONDS - t0))s ($(grep -o 'https://[0-9.:]*' "$tmp/up.log" | head -1))"
  else
    indent <"$tmp/up.log"
    bad "control plane did not come up"
    exit 1
  fi
  # shellcheck disable=SC1091
  source "$cpdir/env"
}

# finish_cluster RC: with MANOFWAR_K8S_KEEP=1, leave the cluster ($cpdir, under $tmp, made by
# `$CP up`: control-plane.sh or node.sh) up for a look; else stop it and remove $tmp. Then print the tally; exit 1 on a failure or RC != 0.
finish_cluster() {
  local rc=$1
  if [ "${MANOFWAR_K8S_KEEP:-0}" = 1 ] && [ -f "$cpdir/env" ]; then
    echo "kept: source $cpdir/env; logs in $tmp; stop with $CP down $cpdir"
  else
    "$CP" down "$cpdir" >/dev/null 2>&1 || true
    rm -rf "$tmp"
  fi
  echo
  echo "$passed passed, $failed failed"
  if ((failed > 0 || rc != 0)); then exit 1; fi
  exit 0
}

# shellcheck shell=bash
# Helpers the end-to-end scripts share: counted checks and bounded waits.
#   ok/bad WHAT            count a pass or a failure
#   check WHAT CMD...      pass when CMD succeeds
#   eventually S WHAT CMD  pass when CMD succeeds within S seconds (polled every 0.5 s)
#   step TITLE             a section header; indent: prefix lines of detail
#   k ARGS                 kubectl with a request timeout
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
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then bad "$what (after $1 s)"; return 1; fi
    sleep 0.5
  done
  ok "$what"
}
k() { kubectl --request-timeout=30s "$@"; }

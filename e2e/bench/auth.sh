#!/usr/bin/env bash
# auth: what the front door's login costs, and what its throttle holds off.
#   1. login cost: `manofwar up` (no media); BENCH_AUTH_LOGINS (default 8, under the per-address
#      burst of 10) good logins, one after another; the median time_total of each POST
#      /api/v1/auth/login (argon2id at OWASP's 19 MiB, t=2, p=1) is the cost of a login.
#   2. the throttle under a flood: wrk (-t2 -c16 -d10s) POSTs wrong passwords for one account
#      from one address; the share of answers that are 429 (refused before any hashing) and the
#      requests/s the server answers while it does so. A flood costs the server almost nothing,
#      and the account is never disabled.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOGINS=${BENCH_AUTH_LOGINS:-8}
need_base
need wrk wrk
check_manofwar
bench_init auth
use_manofwar || { log "BENCH_BASELINE_ONLY=1: nothing to measure without manofwar"; bench_finish; exit 0; }

mkdir -p "$WORK/media" "$WORK/data"
echo 'correct horse battery staple' | "$MANOFWAR_BIN" user add ann --data "$WORK/data" --role member 2>/dev/null
PORT=$(free_port); BASE=http://127.0.0.1:$PORT
"$MANOFWAR_BIN" up --media "$WORK/media" --data "$WORK/data" --listen "127.0.0.1:$PORT" --workers 0 >"$WORK/up.log" 2>&1 &
PID=$!; BENCH_PIDS+=("$PID")
wait_http "$BASE/healthz" 30 || die "manofwar up did not start (see $WORK/up.log)"

# --- 1. login cost ---------------------------------------------------------------------------------
TIMES=()
for _ in $(seq "$LOGINS"); do
  read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'content-type: application/json' \
    -d '{"username":"ann","password":"correct horse battery staple"}' "$BASE/api/v1/auth/login")
  [[ $code == 200 ]] || die "login answered $code"
  TIMES+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
done
LOGIN_MS=$(median_of "${TIMES[@]}")
log "login: median $LOGIN_MS ms over $LOGINS (${TIMES[*]})"

# --- 2. flood -------------------------------------------------------------------------------------
cat >"$WORK/flood.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"ann","password":"not her password"}'
-- Each wrk thread counts in its own Lua state; done() adds them up.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n429 = 0; n401 = 0; nother = 0 end
function response(status, headers, body)
  if status == 429 then n429 = n429 + 1 elseif status == 401 then n401 = n401 + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("n429"); b = b + t:get("n401"); c = c + t:get("nother") end
  io.write(string.format("STATUS 429 %d\nSTATUS 401 %d\nSTATUS other %d\n", a, b, c))
end
LUA
wait_quiet 30
timeout 60 wrk -t1 -c16 -d10s -s "$WORK/flood.lua" "$BASE/api/v1/auth/login" >"$WORK/flood.txt" 2>&1 || { cat "$WORK/flood.txt" >&2; die "wrk failed"; }
RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/flood.txt")
N429=$(awk '$1 == "STATUS" && $2 == 429 { print $3 }' "$WORK/flood.txt"); N429=${N429:-0}
N401=$(awk '$1 == "STATUS" && $2 == 401 { print $3 }' "$WORK/flood.txt"); N401=${N401:-0}
TOTAL=$(awk '$1 == "STATUS" { n += $3 } END { print n + 0 }' "$WORK/flood.txt")
SHARE=$(awk -v a="$N429" -v b="$TOTAL" 'BEGIN { printf "%.4f", (b ? a / b : 0) }')
DISABLED=$("$MANOFWAR_BIN" user list --data "$WORK/data" | awk '$1 == "ann" { print $3 }')
log "flood: $RPS req/s; $N429 of $TOTAL answered 429, $N401 answered 401 (hashed); ann is $DISABLED"
[[ $DISABLED == active ]] || die "the flood disabled the account"

result_line "login = $LOGIN_MS ms (median of $LOGINS, argon2id m=19MiB t=2 p=1)"
result_line "flood: $RPS req/s answered, $N429/$TOTAL refused with 429 before hashing ($N401 hashed); account still active"
frag "" "\`manofwar up --workers 0\` with one member; $(machine)." "" \
  "| What | Result | Target | Met? | Date | Machine |" "|---|---|---|---|---|---|" \
  "| Login (POST /api/v1/auth/login, argon2id 19 MiB, t=2, p=1), median of $LOGINS | $LOGIN_MS ms (all: ${TIMES[*]}) | — | — | $(today) | $(machine) |" \
  "| Flood of wrong passwords for one account, one address (wrk -t1 -c16 -d10s) | $RPS req/s answered; $N429 of $TOTAL were 429 (refused before hashing, share $SHARE), $N401 were hashed and 401 | — | — | $(today) | $(machine) |" \
  "| The account after the flood | $DISABLED (never disabled) | active | $([[ $DISABLED == active ]] && echo yes || echo no) | $(today) | $(machine) |" \
  "" "<details><summary>Commands</summary>" "" '```sh' \
  "echo PASSWORD | manofwar user add ann --data \$WORK/data --role member" \
  "manofwar up --media \$WORK/media --data \$WORK/data --listen 127.0.0.1:PORT --workers 0" \
  "curl -w '%{time_total}' -d '{\"username\":\"ann\",\"password\":\"…\"}' http://127.0.0.1:PORT/api/v1/auth/login   # x$LOGINS" \
  "wrk -t1 -c16 -d10s -s flood.lua http://127.0.0.1:PORT/api/v1/auth/login   # POST, wrong password, counts statuses" \
  '```' "" "</details>" ""
bench_finish

#!/usr/bin/env bash
# Fuzz the API from its own OpenAPI document with schemathesis (PyPI, pinned, in a venv under
# .cache/): a real `manofwar up` on a generated clip, signed in as an admin (API token). Every
# operation gets schema-driven and random requests, and the run fails on any 5xx answer, on a
# route that answers without credentials although the document says it needs them, and when
# the server is gone or unhealthy afterwards.
#
# With FUZZ_TARGET=hub, the same against the front door (`manofwar hub`) over a private library
# server on the clip.
#
#   bash e2e/fuzz/openapi.sh        # MANOFWAR_BIN (default target/debug/manofwar), FUZZ_SECONDS (60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MANOFWAR_BIN:-$root/target/debug/manofwar}
seconds=${FUZZ_SECONDS:-60}
target=${FUZZ_TARGET:-up}
venv=$root/.cache/fuzz-venv
[[ -x $bin ]] || { echo "no manofwar binary at $bin (cargo build -p manofwar-node)" >&2; exit 1; }
if ! "$venv/bin/st" --version 2>/dev/null | grep -q 4.32.0; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis==4.32.0
fi

tmp=$(mktemp -d)
pid= server=
cleanup() { kill $pid $server 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/media" "$tmp/data"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine -t 2 \
  -c:v libx264 -preset ultrafast -c:a aac "$tmp/media/Fuzz (2020).mp4"
echo 'fuzzing password, not secret' | "$bin" user add admin --data "$tmp/data" --role admin 2>/dev/null
token=$("$bin" token create --data "$tmp/data" --user admin --label fuzz)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
if [[ $target == hub ]]; then
  sport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" serve --media "fuzz=$tmp/media" --data "$tmp/server" --listen "127.0.0.1:$sport" \
    --token library-token --private --workers 1 >"$tmp/serve.log" 2>&1 &
  server=$!
  echo "{\"libraries\":[{\"name\":\"fuzz\",\"url\":\"http://127.0.0.1:$sport\",\"token\":\"library-token\"}]}" >"$tmp/libraries.json"
  "$bin" hub --data "$tmp/data" --libraries "$tmp/libraries.json" --listen "127.0.0.1:$port" >"$tmp/up.log" 2>&1 &
else
  "$bin" up --media "$tmp/media" --data "$tmp/data" --listen "127.0.0.1:$port" --workers 1 >"$tmp/up.log" 2>&1 &
fi
pid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "$base/healthz" && break; sleep 0.2; done

# DELETE /api/v1/tokens/{id} would revoke the fuzzer's own token and end the run early;
# /api/v1/admin/live is a stream of server-sent events that never ends (by design).
status=0
(cd "$tmp" && "$venv/bin/st" run "$base/api/openapi.json" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,ignored_auth --phases examples,fuzzing,stateful \
  --exclude-path '/api/v1/tokens/{id}' --exclude-path /api/v1/admin/live --max-time "$seconds" -w 2 --no-color) >"$tmp/st.log" 2>&1 || status=$?
tail -n 25 "$tmp/st.log"
if ! kill -0 "$pid" 2>/dev/null || ! curl -fs -o /dev/null "$base/healthz"; then
  echo "FAIL: the server is gone or unhealthy after the fuzzing" >&2; tail -n 30 "$tmp/up.log" >&2; exit 1
fi
if grep -q ' 500 \|panicked' "$tmp/up.log"; then
  echo "FAIL: the server log shows a panic or a 500" >&2; grep ' 500 \|panicked' "$tmp/up.log" | head >&2; exit 1
fi
((status == 0)) || { echo "FAIL: schemathesis found failures (above)" >&2; exit 1; }
echo "openapi fuzz ($target): no 5xx, no unauthenticated access, server healthy"

#!/usr/bin/env bash
# Interop: js-libp2p (an independent implementation, from npm) dials a manofwar gateway over
# TCP/Noise/Yamux with a key made by `manofwar identity`. Trusted, it completes identify and
# ping; not on the gateway's list, it is refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${MANOFWAR_BIN:-target/debug/manofwar}")
WORK=$(mktemp -d /tmp/mow-interop.XXXXXX)
GATEWAY=
cleanup() { [ -z "$GATEWAY" ] || kill "$GATEWAY" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '[interop] %s\n' "$*"; }

(cd e2e/p2p/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
GW=$("$BIN" identity --key "$WORK/gateway.key" | head -n1)
JS=$("$BIN" identity --key "$WORK/js.key" | head -n1)
"$BIN" identity --key "$WORK/stranger.key" >/dev/null
printf -- '- {peerId: %s, name: js, libraries: ["*"]}\n' "$JS" > "$WORK/peers.yaml"
PORT=$((20000 + RANDOM % 20000))
"$BIN" gateway --identity "$WORK/gateway.key" --peers "$WORK/peers.yaml" --no-lan \
  --listen "/ip4/127.0.0.1/tcp/$PORT" --http "127.0.0.1:$((PORT + 1))" >"$WORK/gateway.log" 2>&1 &
GATEWAY=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
dial() { (cd e2e/p2p/interop && node --import ./polyfill.mjs dial.mjs "$WORK/$1.key" "/ip4/127.0.0.1/tcp/$PORT/p2p/$GW"); }

out=$(dial js) || { cat "$WORK/gateway.log"; log "FAIL: the trusted js-libp2p peer failed: $out"; exit 1; }
log "trusted: $out"
jq -e '.agentVersion | startswith("manofwar/")' <<<"$out" >/dev/null || { log "FAIL: agent version"; exit 1; }
jq -e '.protocols | index("/manofwar/swarm/1") and index("/ipfs/ping/1.0.0")' <<<"$out" >/dev/null \
  || { log "FAIL: protocols"; exit 1; }
if out=$(dial stranger); then log "FAIL: a stranger completed identify and ping: $out"; exit 1; fi
log "stranger: $out"
jq -e '.ok == false and (.agentVersion == null)' <<<"$out" >/dev/null || { log "FAIL: the stranger learnt: $out"; exit 1; }
log "js-libp2p interop passed"

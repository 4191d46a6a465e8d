#!/usr/bin/env bash
# The player comparison of docs/web.md ("The player"): Shaka Player's UI and media-chrome over
# hls.js (hls-video-element), each bundled with esbuild (minified, gzip -9), then opened under
# manofwar's Content-Security-Policy in Chromium. Works in a temporary folder (npm installs there,
# not in web/). Usage: bash web/tools/player-lab/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
web=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/player-lab.XXXXXX)
trap 'if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --save-exact --no-audit --no-fund --loglevel=error \
  shaka-player@5.2.12 media-chrome@4.19.4 hls-video-element@1.5.11 hls.js@1.7.4 esbuild@0.28.2 \
  playwright-core@1.65.1 >/dev/null
mkdir -p out src
for f in hls mc shaka shaka-page; do
  cp "$here/$f.js" src/ # next to node_modules, where the imports resolve
  npx esbuild "src/$f.js" --bundle --minify --format=esm --outfile="out/$f.js" --log-level=error
done
cp "$here/mc.html" "$here/shaka.html" node_modules/shaka-player/dist/controls.css out/
echo "bundle (JavaScript, minified)     raw bytes   gzip -9"
for f in out/hls.js out/mc.js out/shaka.js out/controls.css; do
  printf '%-33s %10d %9d\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
mkdir -p out/hls
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=24 -f lavfi -i sine=frequency=440 -t 6 \
  -c:v libx264 -preset ultrafast -g 24 -c:a aac -f hls -hls_time 2 -hls_playlist_type vod out/hls/index.m3u8
csp=$(grep -A2 '^const CSP' "$web/../node/src/http/guard.rs" | tr -d '\\\n' | sed -E 's/^const CSP: &str = "//; s/";$//; s/  +/ /g')
port=18931
node "$here/serve.mjs" "$port" "$csp" "$work/out" &
server=$!
sleep 0.5
cp "$here/check.mjs" .
node check.mjs "$port" "$web/test-results"

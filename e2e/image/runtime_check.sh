#!/usr/bin/env bash
# Checks the Dockerfile's runtime stage for real without a Docker engine (`make image-check`).
# The machines this repository is developed on have the Docker CLI but no engine, so the image
# is never built; this script builds the same runtime root filesystem with debootstrap instead:
#   1. debootstrap --variant=minbase of the runtime stage's base (debian:bookworm-slim ->
#      bookworm), from the mirror this machine's apt uses; cached pristine in
#      ${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/image-rootfs/, each run works on a fresh copy;
#   2. the stage's RUN instructions, read from the Dockerfile and run verbatim in the chroot
#      (apt-get install of its packages, the 65532 user, /data and /media), then the binaries
#      (target/debug, or target/release with --release) copied where its COPY puts them;
#      steps 1 and 2 are e2e/image/rootfs.sh, which oci.sh uses to build the image itself;
#   3. checks, as the stage's USER with a clean environment: ldd finds every library, both
#      binaries run, the ENTRYPOINT (tini) exists, `manofwar transcode` makes an HLS package (one
#      rung encoded with the image's libx264) that the host's FFmpeg decodes, and ENTRYPOINT +
#      CMD (`manofwar up`, on a free port) serves /healthz and lists the probed clip in
#      /api/v1/items, then exits 0 on SIGTERM.
# Needs root (debootstrap, chroot, mount), the host's ffmpeg, curl, jq and python3 (e2e/deps.sh).
# Not a complete image test: the kernel, network and /dev are the host's.
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=debug
case "${1:-}" in
  "") ;;
  --release) profile=release ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "$0 needs root (debootstrap, chroot, mount)" >&2; exit 1; }
for tool in ffmpeg curl jq python3; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run bash e2e/deps.sh" >&2; exit 1; }
done

# --- the runtime stage, the binaries and the root filesystem: e2e/image/rootfs.sh, shared with
# oci.sh (which packs the same root filesystem into the image the node runs).
# shellcheck source=e2e/image/rootfs.sh
source e2e/image/rootfs.sh
rootfs_read_stage
echo "runtime stage: FROM $base; packages: ${packages[*]}; USER $user"
rootfs_binaries "$profile"

tmp=$(mktemp -d)
root=$tmp/root
# Stops what still runs in the chroot (an interrupted apt-get, the server), unmounts, removes.
cleanup() {
  rootfs_release "$root"
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
rootfs_build "$root"
# What the image would weigh without the binaries (the stage's RUN removes the apt lists; the
# .deb files are apt's cache here, which `docker build` keeps in a cache mount).
echo "runtime root filesystem: $(chroot "$root" dpkg-query -W -f '.\n' | wc -l) packages," \
  "$(($(du -smx "$root" | cut -f1) - $(du -smx "$root/var/cache/apt" | cut -f1))) MiB"
install -m 0755 "${bins[@]}" "$root/$bindir/"

# --- checks
passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# As the image's USER, in its WORKDIR, with the environment `docker run` gives.
as_user=(chroot --userspec="$user" "$root" /usr/bin/env -i -C "$workdir" HOME="$workdir"
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

missing_pkgs=()
for p in "${packages[@]}"; do
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing_pkgs+=("$p")
done
check "packages installed: ${packages[*]}" test ${#missing_pkgs[@]} -eq 0
check "user 65532:65532 with home /data" \
  test "$(chroot "$root" getent passwd 65532 | cut -d: -f3,4,6)" = "65532:65532:/data"

for bin in manofwar manofwar-operator; do
  if chroot "$root" ldd "$bindir/$bin" >"$tmp/ldd" 2>&1 && ! grep -q 'not found' "$tmp/ldd"; then
    ok "ldd $bin: every library found"
  else
    fail "ldd $bin:"; grep 'not found' "$tmp/ldd" || cat "$tmp/ldd"
  fi
  if "${as_user[@]}" "$bin" --help >"$tmp/help" 2>&1; then
    ok "$bin --help as $user"
  else
    fail "$bin --help as $user:"; tail -n 5 "$tmp/help"
  fi
done
check "ENTRYPOINT ${entrypoint[0]} exists" test -x "$root/${entrypoint[0]}"

# A 2-second 320x240 H.264/AAC clip, transcoded as the image's user. The default ladder only
# remuxes a source this small (no rung is taller than 240 lines), so a 180p rung is asked for
# too: libx264 and libswscale from the image really encode.
ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=24:duration=2 -f lavfi -i sine=duration=2 \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$root/media/clip.mp4"
printf 'renditions:\n  - {name: 180p, height: 180, videoBitrateKbps: 300}\n' >"$root/tmp/profile.yaml"
if "${as_user[@]}" manofwar transcode --input /media/clip.mp4 --output /tmp/clip-hls \
  --profile /tmp/profile.yaml >"$tmp/transcode.log" 2>&1 &&
  grep -q 'RESOLUTION=320x240' "$root/tmp/clip-hls/master.m3u8" &&
  grep -q 'RESOLUTION=240x180' "$root/tmp/clip-hls/master.m3u8"; then
  ok "manofwar transcode as $user: master.m3u8 with the source and an encoded 180p rung"
  if ffmpeg -nostdin -v error -i "$root/tmp/clip-hls/master.m3u8" -map 0 -f null - 2>"$tmp/decode" &&
    [ ! -s "$tmp/decode" ]; then
    ok "host ffmpeg decodes the package without errors"
  else
    fail "host ffmpeg decodes the package:"; head -n 20 "$tmp/decode"
  fi
else
  fail "manofwar transcode as $user:"; tail -n 20 "$tmp/transcode.log" "$root/tmp/clip-hls/master.m3u8"
fi

# ENTRYPOINT + CMD, with --listen moved to a free port on 127.0.0.1.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
argv=("${entrypoint[@]}" "${cmd[@]}")
for i in "${!argv[@]}"; do
  if [ "${argv[i]}" = --listen ]; then argv[i + 1]=127.0.0.1:$port; fi
done
# An account to ask with (up lets nobody in without one), made by the image's binary as $user.
echo 'image check password' | "${as_user[@]}" manofwar user add check --data /data --role admin >"$tmp/user.log" 2>&1 \
  || { cat "$tmp/user.log"; fail "manofwar user add as $user"; }
token=$("${as_user[@]}" manofwar token create --data /data --user check 2>>"$tmp/user.log") || true
"${as_user[@]}" "${argv[@]}" >"$tmp/up.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 60); do
  curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
  ok "${argv[*]}: GET /healthz 200 within 30 s"
  # The scan (and its probe, with the image's libavformat) may finish after /healthz answers.
  listed='.items | any(.path == "/media/clip.mp4" and .duration_s > 1.9)'
  for _ in $(seq 20); do
    curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/items" >"$tmp/items" 2>/dev/null && jq -e "$listed" "$tmp/items" >/dev/null && break
    sleep 0.5
  done
  if jq -e "$listed" "$tmp/items" >/dev/null 2>&1; then
    ok "GET /api/v1/items lists /media/clip.mp4, probed (2 s)"
  else
    fail "GET /api/v1/items lists /media/clip.mp4, probed (2 s):"; head -c 600 "$tmp/items"; echo
  fi
  kill -TERM "$pid"
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "stops within 15 s of SIGTERM"
  else
    wait "$pid" && status=0 || status=$?
    check "stops on SIGTERM (exit $status)" test "$status" -eq 0
  fi
else
  fail "${argv[*]}: GET /healthz within 30 s:"; tail -n 20 "$tmp/up.log"
fi

echo "$passed passed, $failed failed"
((failed == 0))

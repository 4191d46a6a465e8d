# syntax=docker/dockerfile:1
# The one manofwar image: `manofwar` (the data plane: serve, transcode, gateway, up) and
# `manofwar-operator`, on Debian 12 with FFmpeg 5.1's shared libraries, running as a non-root
# user. The Helm chart runs `manofwar-operator`; the operator runs `manofwar <role>` from the
# same image in the pods it creates.
#
#   docker build -t ghcr.io/manofwar/manofwar:dev .
#   docker run --rm -p 8096:8096 -v ~/Videos:/media:ro -v manofwar-data:/data ghcr.io/manofwar/manofwar:dev
#
# NOTE: the machines this repository is developed and tested on have no Docker engine, so this
# file is not built by `make test`; keep it in step with e2e/deps.sh (the FFmpeg packages) and
# the workspace's binaries by hand. The runtime stage is checked by `make image-check`
# (e2e/image/runtime_check.sh: debootstrap and chroot, no engine): its RUN, ldd, a transcode and
# `manofwar up` as uid 65532.

# --- web app: web/ needs Node.js >= 20 (Debian 12's nodejs is 18), so it builds in its own stage.
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

# --- Rust: both binaries, linked against Debian's FFmpeg (ffmpeg-next needs the -dev packages,
# pkg-config and libclang for bindgen). rust-embed bakes web/dist into `manofwar`.
FROM rust:1-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      pkg-config clang libclang-dev \
      libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
      libavfilter-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=web /src/web/dist web/dist
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin manofwar --bin manofwar-operator \
 && install -D -m 0755 target/release/manofwar target/release/manofwar-operator -t /out/

# --- runtime: FFmpeg's shared libraries (and the codecs they link: x264, x265, SVT-AV1, VA-API),
# CA certificates for the coordinators' TLS, and nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavfilter8 \
      ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 manofwar \
 && useradd --system --uid 65532 --gid 65532 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin manofwar \
 && mkdir -p /data /media \
 && chown 65532:65532 /data
COPY --from=builder /out/manofwar /out/manofwar-operator /usr/local/bin/
USER 65532:65532
WORKDIR /data
EXPOSE 8096
ENTRYPOINT ["/usr/bin/tini", "--"]
# Single machine by default (mount originals at /media); in Kubernetes every pod sets its own
# command (`manofwar-operator`, `manofwar serve`, `manofwar transcode`, `manofwar gateway`).
CMD ["manofwar", "up", "--media", "/media", "--data", "/data", "--listen", "0.0.0.0:8096"]

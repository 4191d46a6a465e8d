#!/usr/bin/env bash
# The images a real node (e2e/k8s/node.sh: kubelet + containerd + runc) runs, built without a
# Docker engine or a registry: no registry is reachable from these machines, so nothing is pulled
# and everything a pod needs is imported into containerd by name.
#
#   oci.sh archives OUTDIR [--release]   write OUTDIR/{manofwar,pause,coredns}.tar (OCI image
#                                        layouts, tarred) and print one `PATH<TAB>IMAGE_REF` line each
#   oci.sh import --address SOCKET [--release] [--snapshotter NAME]
#                                        build (cached) and import all three into that containerd's
#                                        k8s.io namespace, skipping an image already there with the
#                                        same manifest digest; prints `IMAGE_REF<TAB>DIGEST` lines
#
# The images:
#   ghcr.io/manofwar/manofwar:<chart appVersion>  the Dockerfile's runtime stage: the root
#       filesystem of e2e/image/rootfs.sh (debootstrap + the stage's RUN, the same code
#       runtime_check.sh checks) as one layer, target/debug (--release: target/release) manofwar and
#       manofwar-operator where the stage's COPY puts them as a second layer, and the stage's USER,
#       WORKDIR, EXPOSE, ENTRYPOINT and CMD as the image config (with Docker's default PATH).
#   registry.k8s.io/pause:3.10  the pod sandbox: e2e/image/pause/ built static, as /pause, user 65535.
#   registry.k8s.io/coredns/coredns:v1.15.0  github.com/coredns/coredns built static, as /coredns
#       with cap_net_bind_service=+ep (as upstream's image: it binds :53 as uid 65532), user 65532.
#
# Importing by hand (what `import` runs; containerd 1.6.20):
#   ctr -n k8s.io images import --base-name NAME FILE     NAME = IMAGE_REF without its :tag
# Each layout tags its one manifest with the tag alone (org.opencontainers.image.ref.name, e.g.
# "3.10"); --base-name turns that into NAME:TAG and creates no other ref. A plain import (no
# --base-name) would name it import-YYYY-MM-DD:TAG, a ref the kubelet never asks for, and such an
# extra ref confuses the CRI image store until containerd restarts (shared/TOOLBOX.md). Each
# layout also carries io.containerd.image.name=IMAGE_REF, which 1.6.20 takes as the name as is, with
# or without --base-name (tried: a plain import names it IMAGE_REF too); `import` passes --base-name
# anyway, so either alone suffices. With the CRI plugin on, `ctr -n k8s.io images ls` then also
# lists one sha256:<image id> ref per image: the CRI plugin's own, as for any pulled image.
# A new build under a name that is there: `import` removes the name (and the old image's ID ref)
# first, because 1.6's CRI plugin only makes the ID ref for a name it has not labelled yet.
#
# Cache: ${MANOFWAR_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/images}:
#   bin/        pause (keyed by its source and the Go version) and coredns (by its version)
#   base/KEY/   the runtime root filesystem as a one-layer OCI layout, keyed by the stage's FROM and
#               RUN and the apt mirror (delete it to pick up Debian's updates)
#   archives/   the archives, keyed by a hash of their inputs (binaries' sha256, the runtime
#               stage's text, the base layer's digest); OUTDIR gets hard links (copies across
#               filesystems). One of each kind is kept.
# Cold: about 3 minutes (debootstrap + apt ~1 min, CoreDNS ~2 min of Go, packing ~30 s); new
# binaries only: ~20 s; nothing changed: ~1 s.
# Builds run under `nice -n 19`. Needs root (debootstrap, chroot, mount, umoci unpack/repack as
# root keeps ownership), Go, jq; installs umoci, debootstrap, containerd, runc when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${MANOFWAR_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/images}
PAUSE_VERSION=3.10
COREDNS_VERSION=v1.15.0
PAUSE_REF=registry.k8s.io/pause:$PAUSE_VERSION
COREDNS_REF=registry.k8s.io/coredns/coredns:$COREDNS_VERSION
# Bumped whenever the way an image is put together changes: every cached archive is then rebuilt.
FORMAT=1
# Docker's default PATH: the debian image's config carries it, so the image does not depend on
# whatever default the runtime would put in its place.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Bounded waits (seconds): another oci.sh holding the cache, one ctr call.
LOCK_TIMEOUT=${MANOFWAR_IMAGE_LOCK_TIMEOUT:-1800}
CTR_TIMEOUT=${MANOFWAR_IMAGE_CTR_TIMEOUT:-300}

log() { echo "oci: $*" >&2; }
die() { echo "oci: error: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 archives OUTDIR [--release]" >&2
  echo "       $0 import --address SOCKET [--release] [--snapshotter NAME]" >&2
  exit 2
}

# --- arguments
mode=${1:-}
[ $# -gt 0 ] && shift
outdir="" address="" snapshotter="" profile=debug
case "$mode" in
  archives) [ $# -gt 0 ] || usage; outdir=$1; shift ;;
  import) ;;
  *) usage ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --address) [ $# -gt 1 ] || usage; address=$2; shift ;;
    --snapshotter) [ $# -gt 1 ] || usage; snapshotter=$2; shift ;;
    *) usage ;;
  esac
  shift
done
if [ "$mode" = import ] && [ -z "$address" ]; then usage; fi
if [ "$mode" = archives ] && { [ -n "$address" ] || [ -n "$snapshotter" ]; }; then usage; fi
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount; umoci keeps file ownership only as root)"

# --- tools: Debian packages, installed only when a command is missing
missing=()
for pair in umoci:umoci debootstrap:debootstrap ctr:containerd runc:runc setcap:libcap2-bin; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in jq go sha256sum flock tar; do
  command -v "$tool" >/dev/null || die "$tool not found: run bash e2e/deps.sh (Go: see shared/TOOLBOX.md)"
done

# --- what goes in: the runtime stage (e2e/image/rootfs.sh reads it), the chart's image name
# shellcheck source=e2e/image/rootfs.sh
source e2e/image/rootfs.sh
rootfs_read_stage
for instruction in "${instructions[@]}"; do
  case "$instruction" in
    FROM | RUN | COPY | USER | WORKDIR | EXPOSE | ENTRYPOINT | CMD) ;;
    *) die "the Dockerfile's runtime stage has $instruction, which oci.sh does not apply: teach it (manofwar_image)" ;;
  esac
done
copied=$(awk '$1 == "COPY" && /manofwar/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) { n = split($i, p, "/"); printf "%s ", p[n] } }' <<<"$stage")
[ "$copied" = "manofwar manofwar-operator " ] ||
  die "the runtime stage's COPY copies '$copied', oci.sh adds manofwar and manofwar-operator: update it"
app_version=$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' charts/manofwar/Chart.yaml)
repository=$(awk '/^image:/ { f = 1; next } f && /^[^ #]/ { f = 0 } f && $1 == "repository:" { print $2; exit }' charts/manofwar/values.yaml)
if [ -z "$app_version" ] || [ -z "$repository" ]; then
  die "could not read appVersion (charts/manofwar/Chart.yaml) or image.repository (charts/manofwar/values.yaml)"
fi
MANOFWAR_REF=$repository:$app_version

mkdir -p "$CACHE"/{bin,base,archives,tmp}
# The binaries first (cargo takes its own lock), then one oci.sh at a time on the cache.
rootfs_binaries "$profile"
exec 9>"$CACHE/.lock"
flock -w "$LOCK_TIMEOUT" 9 || die "another oci.sh holds $CACHE/.lock for over ${LOCK_TIMEOUT}s: is one stuck?"
umoci_version=$(umoci --version)

# --- scratch space (under the cache: same filesystem as what it becomes, so mv is a rename)
work=$(mktemp -d "$CACHE/tmp/work.XXXXXX")
chroot_root=""
cleanup() {
  if [ -n "$chroot_root" ]; then rootfs_release "$chroot_root"; fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # so an interrupted build still unmounts and removes its scratch space

# Packing (gzip) is a build too.
umoci() { nice -n 19 "$(type -P umoci)" "$@"; }
hash_of() { sha256sum | cut -c1-20; }
sha_of_file() { sha256sum "$1" | cut -d' ' -f1; }

# The digest of the manifest that a layout's tag $2 points at.
manifest_of() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"
}

# new_layout DIR TAG: an OCI layout holding an empty image (no layers, amd64/linux config).
new_layout() {
  umoci init --layout "$1"
  umoci new --image "$1:$2"
}

# finish_layout LAYOUT TAG REF ARCHIVE: drop unreferenced blobs, name the one manifest for
# containerd (see the header), tar the layout reproducibly into ARCHIVE, and keep only ARCHIVE of
# its kind (ARCHIVE's name up to its last '-').
finish_layout() {
  local layout=$1 tag=$2 ref=$3 archive=$4 old
  umoci gc --layout "$layout"
  jq -e --arg t "$tag" '.manifests | length == 1 and .[0].annotations["org.opencontainers.image.ref.name"] == $t' \
    "$layout/index.json" >/dev/null || die "$layout should hold exactly the tag $tag: $(cat "$layout/index.json")"
  jq --arg n "$ref" '.manifests[0].annotations["io.containerd.image.name"] = $n' "$layout/index.json" >"$work/index.json"
  mv "$work/index.json" "$layout/index.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$layout" \
    -cf "$archive.partial" oci-layout index.json blobs
  mv "$archive.partial" "$archive"
  for old in "${archive%-*}"-*.tar; do
    [ "$old" = "$archive" ] || rm -f "$old"
  done
}

# single_binary_image ARCHIVE REF BINARY PATH USER CAPS CREATED_BY [umoci config flags...]: an image of
# one static binary at PATH, with the file capabilities CAPS (setcap's syntax; "" for none; umoci
# records them, as xattrs).
# umoci 0.4.7's `insert` writes a truncated layer tar (the last file's padding and the end-of-archive
# blocks are missing), so every layer here is made by unpack + repack instead.
single_binary_image() {
  local archive=$1 ref=$2 binary=$3 path=$4 user=$5 caps=$6 created_by=$7 layout bundle tag=${2##*:}
  shift 7
  layout=$work/$(basename "$archive" .tar)
  bundle=$layout.bundle
  new_layout "$layout" "$tag"
  umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
  install -D -m 0755 "$binary" "$bundle/rootfs$path"
  if [ -n "$caps" ]; then setcap "$caps" "$bundle/rootfs$path"; fi
  umoci repack --image "$layout:$tag" --history.created_by "$created_by" "$bundle"
  umoci config --image "$layout:$tag" --history.created_by "$created_by" \
    --config.entrypoint="$path" --config.user="$user" "$@"
  finish_layout "$layout" "$tag" "$ref" "$archive"
}

# --- registry.k8s.io/pause
pause_image() {
  local src bin key archive
  src=$(cat e2e/image/pause/go.mod e2e/image/pause/*.go <(go version) | hash_of)
  bin=$CACHE/bin/pause-$PAUSE_VERSION-$src
  if [ ! -x "$bin" ]; then
    log "building pause (e2e/image/pause, static)"
    CGO_ENABLED=0 nice -n 19 go build -C e2e/image/pause -trimpath -ldflags "-s -w" -o "$work/pause" . >&2
    rm -f "$CACHE/bin/pause-$PAUSE_VERSION"-*
    mv "$work/pause" "$bin"
  fi
  key=$(printf '%s\n' "$FORMAT" "$umoci_version" "$PAUSE_REF" "$(sha_of_file "$bin")" | hash_of)
  archive=$CACHE/archives/pause-$key.tar
  if [ ! -f "$archive" ]; then
    log "packing $PAUSE_REF"
    single_binary_image "$archive" "$PAUSE_REF" "$bin" /pause 65535:65535 "" \
      "e2e/image/pause (CGO_ENABLED=0 go build)"
  fi
  pause_archive=$archive
}

# --- registry.k8s.io/coredns/coredns
coredns_image() {
  local bin=$CACHE/bin/coredns-$COREDNS_VERSION key archive
  if [ ! -x "$bin" ]; then
    log "building github.com/coredns/coredns@$COREDNS_VERSION (static; about 2 minutes)"
    # `go install pkg@version` builds in a throwaway module of its own; run outside the repository.
    (cd "$work" && GOBIN=$work/gobin CGO_ENABLED=0 nice -n 19 go install -trimpath -ldflags "-s -w" \
      "github.com/coredns/coredns@$COREDNS_VERSION") >&2 ||
      die "go install github.com/coredns/coredns@$COREDNS_VERSION failed (see above; the Go module proxy must serve it)"
    mv "$work/gobin/coredns" "$bin"
  fi
  key=$(printf '%s\n' "$FORMAT" "$umoci_version" "$COREDNS_REF" "$(sha_of_file "$bin")" | hash_of)
  archive=$CACHE/archives/coredns-$key.tar
  if [ ! -f "$archive" ]; then
    log "packing $COREDNS_REF"
    # As upstream's image: port 53 as uid 65532 needs cap_net_bind_service on the file (the
    # capabilities a pod adds do not survive the exec of a non-root process without it).
    single_binary_image "$archive" "$COREDNS_REF" "$bin" /coredns 65532:65532 cap_net_bind_service=+ep \
      "go install github.com/coredns/coredns@$COREDNS_VERSION (CGO_ENABLED=0); setcap cap_net_bind_service=+ep" \
      --config.workingdir=/ --config.exposedports=53/tcp --config.exposedports=53/udp
  fi
  coredns_archive=$archive
}

# --- the runtime root filesystem as a one-layer layout (tag "base"), cached
runtime_base() {
  local key dir layout bundle run created_by
  key=$(printf '%s\n' "$FORMAT" "$umoci_version" "$base" "${runs[@]}" "$(rootfs_mirror_for "$suite")" | hash_of)
  dir=$CACHE/base/$key
  if [ ! -f "$dir/index.json" ]; then
    log "building the runtime root filesystem ($base + the stage's RUN; about a minute)"
    layout=$work/base
    bundle=$work/base.bundle
    new_layout "$layout" base
    umoci unpack --image "$layout:base" "$bundle" >/dev/null
    rmdir "$bundle/rootfs"
    chroot_root=$bundle/rootfs
    rootfs_build "$chroot_root"
    rootfs_release "$chroot_root"
    chroot_root=""
    rm -f "$bundle/run.log"
    # What the image must not carry: apt's lists and downloaded packages (the stage removes the
    # lists itself; the debian image's docker-clean hook removes the rest), the device nodes
    # debootstrap made (the runtime mounts /dev), this machine's resolver and hostname (the runtime
    # mounts its own), scratch files.
    (
      cd "$bundle/rootfs"
      rm -rf var/lib/apt/lists/* var/cache/apt/archives/*.deb var/cache/apt/archives/partial/* \
        var/cache/apt/*.bin var/cache/debconf/*-old var/lib/dpkg/*-old tmp/* etc/hostname
      find dev -mindepth 1 -delete
      : >etc/resolv.conf
      chmod 0644 etc/resolv.conf
    )
    created_by="debootstrap --variant=minbase $suite"
    for run in "${runs[@]}"; do created_by+="; RUN $run"; done
    umoci repack --image "$layout:base" --history.created_by "$created_by" "$bundle"
    umoci gc --layout "$layout"
    rm -rf --one-file-system "$bundle"
    rm -rf "$CACHE"/base/*
    mv "$layout" "$dir"
  fi
  base_layout=$dir
}

# --- ghcr.io/manofwar/manofwar
manofwar_image() {
  local key archive layout bundle tag=$app_version port ports=() config=() bin arg
  runtime_base
  key=$(printf '%s\n' "$FORMAT" "$umoci_version" "$MANOFWAR_REF" "$stage" \
    "$(manifest_of "$base_layout" base)" "$(sha_of_file "${bins[0]}")" "$(sha_of_file "${bins[1]}")" | hash_of)
  archive=$CACHE/archives/manofwar-$profile-$key.tar
  if [ ! -f "$archive" ]; then
    log "packing $MANOFWAR_REF (target/$profile binaries)"
    layout=$work/manofwar
    bundle=$work/manofwar.bundle
    # A copy of the base layout: blobs are immutable, so hard links; index.json is rewritten.
    mkdir -p "$layout"
    cp -al "$base_layout/blobs" "$layout/blobs"
    cp "$base_layout/oci-layout" "$base_layout/index.json" "$layout/"
    umoci unpack --image "$layout:base" "$bundle" >/dev/null
    for bin in "${bins[@]}"; do install -m 0755 "$bin" "$bundle/rootfs$bindir/"; done
    umoci repack --image "$layout:base" \
      --history.created_by "COPY manofwar manofwar-operator $bindir/ (target/$profile)" "$bundle"
    rm -rf --one-file-system "$bundle"
    for port in "${expose[@]}"; do
      [[ $port == */* ]] || port=$port/tcp
      ports+=("--config.exposedports=$port")
    done
    for arg in "${entrypoint[@]}"; do config+=("--config.entrypoint=$arg"); done
    for arg in "${cmd[@]}"; do config+=("--config.cmd=$arg"); done
    umoci config --image "$layout:base" --tag "$tag" \
      --history.created_by "USER $user; WORKDIR $workdir; EXPOSE ${expose[*]}; ENTRYPOINT; CMD" \
      --config.user="$user" --config.workingdir="$workdir" --config.env="PATH=$IMAGE_PATH" \
      --config.label="org.opencontainers.image.version=$app_version" \
      "${ports[@]}" "${config[@]}"
    umoci rm --image "$layout:base"
    finish_layout "$layout" "$tag" "$MANOFWAR_REF" "$archive"
  fi
  manofwar_archive=$archive
}

manofwar_image
pause_image
coredns_image
archives=("$manofwar_archive" "$pause_archive" "$coredns_archive")
refs=("$MANOFWAR_REF" "$PAUSE_REF" "$COREDNS_REF")
names=(manofwar.tar pause.tar coredns.tar)

if [ "$mode" = archives ]; then
  mkdir -p "$outdir"
  outdir=$(realpath "$outdir")
  for i in "${!archives[@]}"; do
    ln -f "${archives[i]}" "$outdir/${names[i]}" 2>/dev/null || cp -f "${archives[i]}" "$outdir/${names[i]}"
    printf '%s\t%s\n' "$outdir/${names[i]}" "${refs[i]}"
  done
  exit 0
fi

# --- import into the node's containerd (k8s.io: the CRI plugin's namespace)
[ -S "$address" ] || die "no containerd socket at $address: start the node's containerd first"
ctr_() { timeout "$CTR_TIMEOUT" ctr --address "$address" -n k8s.io "$@"; }
ctr_ version >/dev/null 2>&1 || die "containerd at $address does not answer (ctr version)"
digest_in() { ctr_ images ls | awk -v r="$1" '$1 == r { print $3 }'; }
unpack=()
[ -z "$snapshotter" ] || unpack=(--snapshotter "$snapshotter")
for i in "${!archives[@]}"; do
  ref=${refs[i]}
  want=$(tar -xOf "${archives[i]}" index.json | jq -r '.manifests[0].digest')
  have=$(digest_in "$ref")
  if [ "$have" = "$want" ]; then
    log "$ref is already there ($want)"
  else
    if [ -n "$have" ]; then
      # A new build under a name that is there. containerd 1.6's CRI plugin gives an image its ID
      # ref (sha256:<config digest>) only when it first sees the name unlabelled: a plain
      # re-import would keep the old ID ref (and the old image's content) and add none for the
      # new one. So: the name goes first, and the old ID ref unless another name still uses it.
      log "replacing $ref ($have)"
      ctr_ images rm "$ref" >/dev/null
      others=$(ctr_ images ls | awk -v d="$have" 'NR > 1 && $3 == d { print $1 }')
      if ! grep -qv '^sha256:' <<<"$others"; then
        for other in $others; do ctr_ images rm "$other" >/dev/null; done
      fi
    fi
    log "importing $ref"
    ctr_ images import "${unpack[@]}" --base-name "${ref%:*}" "${archives[i]}" >&2 ||
      die "ctr images import ${archives[i]} failed (containerd's log says why)"
    have=$(digest_in "$ref")
    [ "$have" = "$want" ] || die "after the import $ref is '${have:-missing}', not $want"
  fi
  printf '%s\t%s\n' "$ref" "$want"
done
extra=$(ctr_ images ls -q | grep '^import-' || true)
[ -z "$extra" ] || log "warning: refs no kubelet asks for, remove them (ctr -n k8s.io images rm): $extra"

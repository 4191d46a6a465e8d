# shellcheck shell=bash
# The Dockerfile's runtime stage as a root filesystem, without a Docker engine. Sourced (not run)
# by runtime_check.sh, which checks the root filesystem in a chroot, and by oci.sh, which packs it
# into the OCI image the node imports: one piece of code, and the Dockerfile stays the one list of
# packages, users and paths.
#
#   rootfs_read_stage       parse the Dockerfile's runtime stage (the variables below)
#   rootfs_binaries PROFILE bins=(target/PROFILE/manofwar target/PROFILE/manofwar-operator),
#                           built (cargo, nice -n 19) when one is missing
#   rootfs_build ROOT       ROOT (must not exist): a copy of the pristine debootstrap root filesystem
#                           (cached), then the stage's RUN instructions run verbatim in a chroot;
#                           leaves ROOT/proc mounted (rootfs_release unmounts it)
#   rootfs_release ROOT     kill whatever still runs chrooted in ROOT, unmount ROOT/proc
#
# rootfs_read_stage sets: stage (the stage's text: comments dropped, continuation lines joined),
# base (its FROM), suite (bookworm), runs (its RUN commands), packages (what they apt-get install),
# user, workdir, bindir (where COPY puts the binaries), entrypoint and cmd (arrays), expose
# (EXPOSE's ports), instructions (every instruction's keyword, in order).
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/image-rootfs/: SUITE/ (debootstrap
# --variant=minbase, never modified: each build works on a copy) and debs/ (the packages the last
# RUN downloaded, so the next one only fetches what changed). A build holds .lock, so runtime_check.sh
# and oci.sh can run at the same time.
# Needs root (debootstrap, chroot, mount) and jq; installs debootstrap when it is missing.

ROOTFS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOTFS_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/manofwar/image-rootfs
# Bounded wait for another build of the root filesystem (seconds).
ROOTFS_LOCK_TIMEOUT=${MANOFWAR_ROOTFS_LOCK_TIMEOUT:-1200}

# shellcheck disable=SC2034 # sets variables for the scripts that source this file
rootfs_read_stage() {
  local dockerfile=$ROOTFS_REPO/Dockerfile
  # Everything after the Dockerfile's last FROM, comments dropped and continuation lines joined.
  stage=$(awk '/^FROM[ \t]/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$dockerfile" |
    grep -v '^[[:space:]]*#' | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba}')
  base=$(awk '$1 == "FROM" { print $2 }' <<<"$stage")
  [[ $base =~ ^debian:([a-z]+)(-slim)?$ ]] ||
    { echo "runtime stage base $base is not debian:SUITE[-slim] (see $dockerfile)" >&2; return 1; }
  suite=${BASH_REMATCH[1]}
  mapfile -t runs < <(sed -n 's/^RUN[[:space:]]\{1,\}//p' <<<"$stage")
  read -ra packages <<<"$(grep -o 'apt-get install[^&;|]*' <<<"${runs[*]}" |
    tr -s ' \t' '\n' | grep -v -e '^-' -e '^apt-get$' -e '^install$' | tr '\n' ' ')"
  user=$(awk '$1 == "USER" { u = $2 } END { print u }' <<<"$stage")
  workdir=$(awk '$1 == "WORKDIR" { w = $2 } END { print w }' <<<"$stage")
  bindir=$(awk '$1 == "COPY" && /manofwar/ { print $NF }' <<<"$stage")
  bindir=${bindir%/}
  mapfile -t entrypoint < <(sed -n 's/^ENTRYPOINT[[:space:]]*//p' <<<"$stage" | jq -r '.[]')
  mapfile -t cmd < <(sed -n 's/^CMD[[:space:]]*//p' <<<"$stage" | jq -r '.[]')
  read -ra expose <<<"$(sed -n 's/^EXPOSE[[:space:]]*//p' <<<"$stage" | tr '\n' ' ')"
  mapfile -t instructions < <(awk 'NF { print $1 }' <<<"$stage")
  if ((${#packages[@]} == 0)) || [ -z "$user" ] || [ -z "$workdir" ] || [ -z "$bindir" ] ||
    ((${#entrypoint[@]} == 0 || ${#cmd[@]} == 0)); then
    echo "could not read the runtime stage of $dockerfile (apt-get install, USER, WORKDIR, COPY, ENTRYPOINT, CMD):" >&2
    printf '%s\n' "$stage" >&2
    return 1
  fi
}

rootfs_binaries() {
  local profile=$1 flag=()
  bins=("$ROOTFS_REPO/target/$profile/manofwar" "$ROOTFS_REPO/target/$profile/manofwar-operator")
  if [ ! -x "${bins[0]}" ] || [ ! -x "${bins[1]}" ]; then
    [ "$profile" = release ] && flag=(--release)
    echo "building ${bins[*]}" >&2
    (cd "$ROOTFS_REPO" && nice -n 19 cargo build "${flag[@]}" -p manofwar-node -p manofwar-operator) >&2
  fi
}

# The first URI of an enabled apt source (one-line .list or deb822 .sources) for suite $1.
rootfs_mirror_for() {
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed 's/\[[^]]*\]//' | awk -v s="$1" '$1 == "deb" && $3 == s { print $2 }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$1" '
      function flush() { if (ok && on && uri != "") print uri; uri = ""; ok = 0; on = 1 }
      BEGIN { on = 1 }
      /^[ \t]*$/ { flush(); next }
      $1 == "URIs:" { uri = $2 }
      $1 == "Enabled:" && $2 == "no" { on = 0 }
      $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { flush() }'
  } | sed -n 1p
}

rootfs_build() {
  local root=$1 mirror security log run
  [ ! -e "$root" ] || { echo "rootfs_build: $root already exists" >&2; return 1; }
  [ -n "${suite:-}" ] || rootfs_read_stage
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  mirror=$(rootfs_mirror_for "$suite")
  [ -n "$mirror" ] || { echo "no apt source for $suite in /etc/apt/sources.list{,.d/}" >&2; return 1; }
  security=$(rootfs_mirror_for "$suite-security")
  mkdir -p "$ROOTFS_CACHE"
  # One build at a time: the pristine copy and debs/ are shared. (fd 8 is closed at the end; an
  # exit in between releases the lock with the process.)
  exec 8>"$ROOTFS_CACHE/.lock"
  flock -w "$ROOTFS_LOCK_TIMEOUT" 8 ||
    { echo "another build holds $ROOTFS_CACHE/.lock for over ${ROOTFS_LOCK_TIMEOUT}s: is one stuck?" >&2; return 1; }
  if [ ! -d "$ROOTFS_CACHE/$suite" ]; then
    echo "debootstrap --variant=minbase $suite from $mirror (cached in $ROOTFS_CACHE/$suite)" >&2
    rm -rf "$ROOTFS_CACHE/$suite.partial"
    nice -n 19 debootstrap --variant=minbase "$suite" "$ROOTFS_CACHE/$suite.partial" "$mirror" \
      >"$ROOTFS_CACHE/debootstrap.log" 2>&1 ||
      { tail -n 20 "$ROOTFS_CACHE/debootstrap.log" >&2; return 1; }
    rm -f "$ROOTFS_CACHE/$suite.partial"/var/cache/apt/archives/*.deb   # as in the debian image
    mv "$ROOTFS_CACHE/$suite.partial" "$ROOTFS_CACHE/$suite"
  fi
  cp -a "$ROOTFS_CACHE/$suite" "$root"
  mount -t proc proc "$root/proc"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The sources of the debian image: $suite, $suite-updates and $suite-security (main).
  rm -f "$root/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$suite" "$suite"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$suite"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$root/etc/apt/sources.list.d/debian.sources"
  # The last run's downloaded packages (apt checks them against the fresh lists).
  mkdir -p "$ROOTFS_CACHE/debs"
  find "$ROOTFS_CACHE/debs" -name '*.deb' -exec cp -t "$root/var/cache/apt/archives/" {} +

  # The stage's RUN instructions, as `docker build` runs them (/bin/sh -c, as root).
  log=$(dirname "$root")/run.log
  for run in "${runs[@]}"; do
    echo "RUN ${run:0:100}..." >&2
    if ! chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root DEBIAN_FRONTEND=noninteractive nice -n 19 /bin/sh -c "$run" </dev/null >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "FAIL the runtime stage's RUN failed in the chroot (full output: $log)" >&2
      return 1
    fi
  done
  find "$ROOTFS_CACHE/debs" -name '*.deb' -delete
  find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -t "$ROOTFS_CACHE/debs/" {} +
  exec 8>&-
}

rootfs_release() {
  local root p left
  root=$(realpath -m "$1")
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    for p in /proc/[0-9]*; do
      if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then kill -KILL "${p#/proc/}" 2>/dev/null; left=1; fi
    done
    ((left)) || break
    sleep 0.2
  done
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
}

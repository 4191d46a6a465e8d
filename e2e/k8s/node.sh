#!/usr/bin/env bash
# A one-node Kubernetes cluster for the end-to-end tests: the control plane of control-plane.sh
# plus a real node: containerd and runc (Debian's), the CNI bridge, host-local, portmap and
# loopback plugins (Debian's), kubelet and kube-proxy (built with the control plane, same
# version), CoreDNS as a Deployment (built from its Go module), and the images of
# e2e/image/oci.sh imported into containerd (nothing is pulled: no registry is reachable).
#
#   node.sh up DIR      control plane in DIR/control-plane, node state in DIR/node; writes DIR/env
#   node.sh down DIR    stops the pods, the node and the control plane; removes DIR
#
# Network (TOOLBOX: test networks use 198.18.0.0/15): the node's address 198.19.0.1 sits on
# lo (this kernel has no dummy interfaces), where kube-apiserver listens so that pods reach it through the `kubernetes`
# Service; pods get 198.19.1.0/24 on bridge mowcni0; Services 10.96.0.0/16, DNS 10.96.0.10.
# What it took on these machines (TOOLBOX): the cgroupfs driver with cgroup v1 allowed,
# containerd's `restrict_oom_score_adj` (no CAP_SYS_RESOURCE here), a local pause image.
# Storage: a pending PersistentVolumeClaim gets a hostPath PersistentVolume under DIR/volumes
# (what rancher's local-path provisioner does), made by a loop this script starts.
# Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CP=$here/control-plane.sh
BIN=${MANOFWAR_K8S_CACHE:-$HOME/.cache/manofwar/k8s}/bin

NODE=e2e-node
NODE_IP=198.19.0.1
POD_CIDR=198.19.1.0/24
DNS_IP=10.96.0.10
BRIDGE=mowcni0
PAUSE_IMAGE=registry.k8s.io/pause:3.10
MARKER=.manofwar-node

log() { echo "node: $*" >&2; }
die() { echo "node: error: $*" >&2; exit 1; }

need_packages() { # install Debian's containerd, runc, CNI plugins when missing (idempotent)
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v nft >/dev/null || missing+=(nftables)
  command -v iptables >/dev/null || missing+=(iptables) # the bridge plugin's ipMasq
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v umoci >/dev/null || missing+=(umoci)
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

alive() { # pidfile
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

start() { # DIR name command...: in the background, logs in DIR/logs/name.log
  local dir=$1 name=$2
  shift 2
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

wait_until() { # DIR name timeout what command...: bounded wait; fails with the log's tail
  local dir=$1 name=$2 deadline=$((SECONDS + $3)) what=$4
  shift 4
  until "$@" >/dev/null 2>&1; do
    if ! alive "$dir/pids/$name.pid" || ((SECONDS >= deadline)); then
      log "$name: gave up waiting for $what; the end of $dir/logs/$name.log:"
      tail -n 30 "$dir/logs/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

network() { # the node's address and the kernel settings kube-proxy and the bridge need
  ip addr replace "$NODE_IP/32" dev lo
  sysctl -qw net.ipv4.ip_forward=1
  # Pod-to-Service traffic between pods on the same bridge must pass the host's netfilter.
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ||
    die "br_netfilter is not loaded (modprobe br_netfilter)"
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
}

containerd_config() { # DIR
  local n=$1/node
  cat >"$n/containerd.toml" <<EOF
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
[grpc]
  address = "$n/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # These machines lack CAP_SYS_RESOURCE: a negative oom_score_adj is refused and runc fails.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$n/cni"
EOF
  mkdir -p "$n/cni" "$n/ipam"
  cat >"$n/cni/10-manofwar.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "manofwar-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
               "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$n/ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

kubelet_config() { # DIR
  local n=$1/node pki=$1/control-plane/pki
  cat >"$n/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# No systemd as PID 1 and a cgroup v1 hierarchy on these machines.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$n/containerd.sock
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: /etc/resolv.conf
# A test machine's disk is shared with its builds: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
# Container logs with the rest of the node's state (not the machine's /var/log/pods).
podLogsDir: $n/pod-logs
EOF
}

kube_proxy_config() { # DIR
  local n=$1/node
  cat >"$n/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $1/control-plane/kubeconfig}
hostnameOverride: $NODE
mode: nftables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the machine's conntrack sysctls alone.
conntrack: {maxPerCore: 0}
EOF
}

# provision DIR: every pending PersistentVolumeClaim without a volume gets a hostPath
# PersistentVolume of its size, bound to it by claimRef (the controller manager completes the
# binding). World-writable, as local-path's: the pods run as non-root users.
# shellcheck disable=SC2317 # run by `bash -c` through declare -f
provision() {
  local dir=$1 pending ns name uid size modes class path
  while :; do
    pending=$(kubectl get pvc -A -o json 2>/dev/null | jq -r '.items[]
      | select(.status.phase == "Pending" and (.spec.volumeName // "") == "")
      | [.metadata.namespace, .metadata.name, .metadata.uid, .spec.resources.requests.storage,
         (.spec.accessModes | join(",")), (.spec.storageClassName // "")] | @tsv') || true
    while IFS=$'\t' read -r ns name uid size modes class; do
      [ -n "$uid" ] || continue
      path=$dir/volumes/$ns-$name
      mkdir -p "$path" && chmod 0777 "$path"
      kubectl apply -f - >/dev/null <<EOF || true
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$uid, labels: {manofwar.io/provisioned: "true"}}
spec:
  capacity: {storage: $size}
  accessModes: [${modes}]
  storageClassName: "$class"
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $path, type: Directory}
  claimRef: {namespace: $ns, name: $name, uid: $uid}
EOF
      log "provisioned pv-$uid ($size) for $ns/$name at $path"
    done <<<"$pending"
    sleep 1
  done
}

# shellcheck disable=SC2317 # called by the EXIT trap
up_failed() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "failed; logs in $UP_DIR/node/logs and $UP_DIR/control-plane/logs"
    cmd_stop "$UP_DIR"
  fi
}

cmd_up() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 up DIR"
  [ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, network settings)"
  [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not empty"
  need_packages
  "$CP" build
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$MARKER"
  mkdir -p "$dir/node/logs" "$dir/node/pids" "$dir/volumes"
  local n=$dir/node t0=$SECONDS
  UP_DIR=$dir
  trap up_failed EXIT

  network
  MANOFWAR_K8S_ADDRESS=$NODE_IP "$CP" up "$dir/control-plane" >"$n/logs/control-plane-up.log" 2>&1 ||
    { tail -n 30 "$n/logs/control-plane-up.log" >&2; die "the control plane did not start"; }
  # shellcheck disable=SC1091
  source "$dir/control-plane/env"

  containerd_config "$dir"
  start "$n" containerd containerd --config "$n/containerd.toml"
  wait_until "$n" containerd 30 "its socket" ctr --address "$n/containerd.sock" version
  log "importing the images (e2e/image/oci.sh)"
  bash "$root/e2e/image/oci.sh" import --address "$n/containerd.sock" >"$n/logs/images.log" 2>&1 ||
    { tail -n 30 "$n/logs/images.log" >&2; die "could not build or import the images"; }

  kubelet_config "$dir"
  # The kubelet and kube-proxy use the admin kubeconfig: the API server authorizes with RBAC
  # alone (no Node authorizer, no node certificates), which is enough for a throwaway cluster.
  start "$n" kubelet kubelet --config "$n/kubelet.yaml" --kubeconfig "$dir/control-plane/kubeconfig" \
    --hostname-override "$NODE" --node-ip "$NODE_IP" --root-dir "$n/kubelet" \
    --cert-dir "$n/kubelet-pki" --v=1
  kube_proxy_config "$dir"
  start "$n" kube-proxy kube-proxy --config "$n/kube-proxy.yaml" --v=1
  wait_until "$n" kubelet 90 "node $NODE Ready" bash -c \
    "kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  wait_until "$n" kube-proxy 30 "kube-proxy healthy" curl -fsS http://127.0.0.1:10256/healthz

  start "$n" provisioner bash -c "$(declare -f log provision); provision '$dir'"
  kubectl apply -f "$here/coredns.yaml" >/dev/null
  wait_until "$n" kubelet 120 "CoreDNS Ready" \
    kubectl wait pods -n kube-system -l k8s-app=kube-dns --for condition=Ready --timeout=2s ||
    { kubectl logs -n kube-system -l k8s-app=kube-dns --tail 20 >&2; return 1; }

  cat >"$dir/env" <<ENV
source $dir/control-plane/env
export CONTAINERD_ADDRESS=$n/containerd.sock
export MANOFWAR_NODE=$NODE
export MANOFWAR_NODE_IP=$NODE_IP
ENV
  trap - EXIT
  log "node $NODE Ready with CoreDNS in $((SECONDS - t0))s; source $dir/env; logs in $n/logs"
}

# stop DIR: kubelet and kube-proxy first (nothing restarts the pods), then every container,
# containerd, the control plane; unmounts what the pods left; removes the node's nftables
# table and the network pieces this script made.
cmd_stop() {
  local dir=$1 n=$1/node c id
  for c in provisioner kube-proxy kubelet; do
    alive "$n/pids/$c.pid" && kill -TERM "$(cat "$n/pids/$c.pid")" 2>/dev/null
  done
  if alive "$n/pids/containerd.pid"; then
    for id in $(ctr --address "$n/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$n/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 1
    kill -TERM "$(cat "$n/pids/containerd.pid")" 2>/dev/null || true
  fi
  # The shims outlive containerd by design; they are ours when their -address is our socket.
  pkill -KILL -f "containerd-shim.*-address $n/containerd.sock" 2>/dev/null || true
  for c in provisioner kube-proxy kubelet containerd; do
    for _ in $(seq 20); do alive "$n/pids/$c.pid" || break; sleep 0.5; done
    alive "$n/pids/$c.pid" && kill -KILL "$(cat "$n/pids/$c.pid")" 2>/dev/null
  done
  findmnt -rn -o TARGET | grep "^$dir/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  "$CP" down "$dir/control-plane" >/dev/null 2>&1 || true
  # Anything of the cluster's binaries still running with our state (a component that ignored
  # SIGTERM and outlived its pid file).
  pkill -KILL -f "^$BIN/[a-z-]* .*$dir/" 2>/dev/null || true
  nft delete table ip kube-proxy 2>/dev/null || true
  nft delete table ip6 kube-proxy 2>/dev/null || true
  # The bridge plugin's masquerade rules of the pods (no CNI DEL ran for them: their sandboxes
  # were killed, not stopped), marked with our network's name.
  iptables -t nat -S POSTROUTING 2>/dev/null | grep -F manofwar-e2e | while read -r _ rule; do
    eval "iptables -t nat -D $rule" 2>/dev/null || true
  done
  iptables -t nat -S 2>/dev/null | sed -n 's/^-N \(CNI-[0-9a-f]*\)$/\1/p' | while read -r chain; do
    if iptables -t nat -F "$chain" 2>/dev/null; then iptables -t nat -X "$chain" 2>/dev/null || true; fi
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
}

cmd_down() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 down DIR"
  [ -d "$dir" ] || { log "$dir does not exist: nothing to stop"; return 0; }
  [ -f "$dir/$MARKER" ] || die "$dir is not a node directory (no $MARKER): not touching it"
  cmd_stop "$dir"
  rm -rf --one-file-system "$dir"
  log "stopped and removed $dir"
}

main() {
  case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  *) echo "usage: $0 up DIR | down DIR" >&2; exit 2 ;;
  esac
}

# One line, so that bash has read the whole file before anything runs (safe to edit while running).
main "$@"; exit $?

#!/usr/bin/env bash
# The NAT lab: an "internet" and two homes behind emulated routers, in network namespaces
# (addresses in 198.18.0.0/15, but for a UPnP home: see below). Needs root, iproute2 and
# nftables; a UPnP home needs miniupnpd (Debian's miniupnpd-nftables, installed when missing).
#
#   natlab.sh up <natA> <natB> [uplink_mbit] | natlab.sh down
#   nat = easy | hard | easy-upnp | hard-upnp
#
#   mow-inet   bridge br0, 198.18.0.10 (the coordinator)
#   mow-rA     router: wan 198.18.0.1, lan 198.19.1.1/24  --  mow-hA 198.19.1.2 (home A)
#   mow-rB     router: wan 198.18.0.2, lan 198.19.2.1/24  --  mow-hB 198.19.2.2 (home B)
#
# easy = masquerade (endpoint-independent mapping: hole punching works); hard = masquerade
# fully-random (a new port per destination: only the relay works). Both routers drop
# unsolicited input from the WAN, as home routers do.
#
# …-upnp: the router also runs miniupnpd (UPnP IGD and NAT-PMP on its LAN side, secure mode:
# a host may map ports to itself only, 1024-65535). miniupnpd and libp2p-upnp both refuse to
# map behind an address that is not public, and libp2p-upnp maps only listen addresses in a
# private range: so such a home is addressed as a real one is, wan 11.0.0.N/32 (a public
# address that exists only inside these namespaces: mow-inet and the other router get a route
# to it) and lan 192.168.N.0/24 (router .1, host .2). Its config, log, leases and pid file
# are in $NATLAB_DIR (default /tmp/mow-natlab).
set -euo pipefail
NAMES=(mow-hA mow-hB mow-rA mow-rB mow-inet)
DIR=${NATLAB_DIR:-/tmp/mow-natlab}

down() {
  local pid
  for pid in "$DIR"/miniupnpd-[AB].pid; do
    if [ -f "$pid" ]; then kill "$(cat "$pid")" 2>/dev/null || true; fi
  done
  for n in "${NAMES[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$DIR"
}

need_miniupnpd() {
  [ -x /usr/sbin/miniupnpd ] && return 0
  echo "natlab: installing miniupnpd-nftables" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends miniupnpd-nftables >/dev/null
}

# start_miniupnpd HOME I: miniupnpd in mow-rHOME, for the LAN 192.168.I.0/24.
start_miniupnpd() {
  local home=$1 i=$2 conf=$DIR/miniupnpd-$1.conf
  cat > "$conf" <<CONF
ext_ifname=eth0
listening_ip=eth1
port=0
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=yes
notify_interval=30
clean_ruleset_interval=600
lease_file=$DIR/miniupnpd-$home.leases
uuid=3b3f6a1e-6d1a-4c6e-9a5e-00000000000$i
upnp_table_name=filter
upnp_nat_table_name=filter
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.$i.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
  # -d: in the foreground (logs to stderr), -4: no IPv6.
  ip netns exec "mow-r$home" /usr/sbin/miniupnpd -d -4 -f "$conf" -P "$DIR/miniupnpd-$home.run.pid" \
    >"$DIR/miniupnpd-$home.log" 2>&1 &
  echo $! > "$DIR/miniupnpd-$home.pid"
  local tries=0
  until [[ $(ip netns exec "mow-r$home" ss -uln 2>/dev/null) == *:1900\ * ]]; do
    tries=$((tries + 1))
    if [ $tries -gt 50 ] || ! kill -0 "$(cat "$DIR/miniupnpd-$home.pid")" 2>/dev/null; then
      echo "natlab: miniupnpd did not start in mow-r$home:" >&2; cat "$DIR/miniupnpd-$home.log" >&2; exit 1
    fi
    sleep 0.1
  done
}

if [ "${1:-}" = down ]; then down; exit 0; fi
if [ "${1:-}" != up ] || [ $# -lt 3 ]; then
  echo "usage: $0 up easy|hard|easy-upnp|hard-upnp easy|hard|easy-upnp|hard-upnp [uplink_mbit] | $0 down" >&2; exit 2
fi
down
A=$2 B=$3 RATE=${4:-0}
for nat in "$A" "$B"; do
  case $nat in
    easy|hard) ;;
    easy-upnp|hard-upnp) need_miniupnpd ;;
    *) echo "natlab: unknown NAT '$nat'" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR"
ip netns add mow-inet
ip -n mow-inet link add br0 type bridge
ip -n mow-inet link set br0 up
ip -n mow-inet link set lo up
ip -n mow-inet addr add 198.18.0.10/24 dev br0
UPNP=()
for home in A B; do
  if [ $home = A ]; then i=1 nat=$A; else i=2 nat=$B; fi
  upnp=""; case $nat in *-upnp) upnp=1 nat=${nat%-upnp} ;; esac
  lan=198.19.$i
  r=mow-r$home h=mow-h$home
  ip netns add $r; ip netns add $h
  ip -n $r link set lo up; ip -n $h link set lo up
  ip link add mow-w$home type veth peer name mow-wp$home
  ip link set mow-w$home netns $r; ip link set mow-wp$home netns mow-inet
  ip -n mow-inet link set mow-wp$home master br0; ip -n mow-inet link set mow-wp$home up
  ip -n $r link set mow-w$home name eth0
  if [ -n "$upnp" ]; then
    # The public address alone on the WAN (masquerade uses it), the lab's /24 on-link.
    lan=192.168.$i
    ip -n $r addr add 11.0.0.$i/32 dev eth0; ip -n $r link set eth0 up
    ip -n $r route add 198.18.0.0/24 dev eth0 src 11.0.0.$i
    UPNP+=("$home:$i")
  else
    ip -n $r addr add 198.18.0.$i/24 dev eth0; ip -n $r link set eth0 up
  fi
  ip link add mow-l$home type veth peer name mow-lp$home
  ip link set mow-l$home netns $r; ip link set mow-lp$home netns $h
  ip -n $r link set mow-l$home name eth1
  ip -n $r addr add $lan.1/24 dev eth1; ip -n $r link set eth1 up
  ip -n $h link set mow-lp$home name eth0
  ip -n $h addr add $lan.2/24 dev eth0; ip -n $h link set eth0 up
  ip -n $h route add default via $lan.1
  ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
  flags=""; [ "$nat" = hard ] && flags="fully-random"
  if [ -n "$upnp" ]; then
    # The chains miniupnpd 2.3 fills (its nft backend: family inet, the table and chain names
    # of its config above); the forward chain jumps to its own, nat hooks to its own.
    family=inet
    upnp_forward="jump miniupnpd"
    upnp_chains="
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }"
  else
    family=ip upnp_forward="" upnp_chains=""
  fi
  ip netns exec $r nft -f - <<NFT
table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "eth0" masquerade $flags
  }
}
table $family filter {
  chain forwarding {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "eth1" oifname "eth0" accept
    $upnp_forward
  }
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname { "lo", "eth1" } accept
  }$upnp_chains
}
NFT
  if [ "$RATE" != 0 ]; then
    ip netns exec $r tc qdisc add dev eth0 root tbf rate "${RATE}mbit" burst 32kbit latency 100ms
  fi
done
# Routes to a UPnP router's public address, from the internet and the other router.
for u in "${UPNP[@]}"; do
  home=${u%:*} i=${u#*:}
  ip -n mow-inet route add "11.0.0.$i/32" dev br0
  other=B; [ "$home" = B ] && other=A
  ip -n mow-r$other route add "11.0.0.$i/32" dev eth0
  start_miniupnpd "$home" "$i"
done
echo "NAT lab up: home A $A, home B $B, uplink ${RATE} Mbit/s (0: unlimited)"

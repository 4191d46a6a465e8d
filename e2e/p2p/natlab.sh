#!/usr/bin/env bash
# The NAT lab: an "internet" and two homes behind emulated routers, in network namespaces
# (addresses in 198.18.0.0/15 only). Needs root, iproute2 and nftables.
#
#   natlab.sh up <natA: easy|hard> <natB: easy|hard> [uplink_mbit] | natlab.sh down
#
#   mow-inet   bridge br0, 198.18.0.10 (the coordinator)
#   mow-rA     router: wan 198.18.0.1, lan 198.19.1.1/24  --  mow-hA 198.19.1.2 (home A)
#   mow-rB     router: wan 198.18.0.2, lan 198.19.2.1/24  --  mow-hB 198.19.2.2 (home B)
#
# easy = masquerade (endpoint-independent mapping: hole punching works); hard = masquerade
# fully-random (a new port per destination: only the relay works). Both routers drop
# unsolicited input from the WAN, as home routers do.
set -euo pipefail
NAMES=(mow-hA mow-hB mow-rA mow-rB mow-inet)

down() { for n in "${NAMES[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }

if [ "${1:-}" = down ]; then down; exit 0; fi
[ "${1:-}" = up ] || { echo "usage: $0 up easy|hard easy|hard [uplink_mbit] | $0 down" >&2; exit 2; }
down
A=$2 B=$3 RATE=${4:-0}
ip netns add mow-inet
ip -n mow-inet link add br0 type bridge
ip -n mow-inet link set br0 up
ip -n mow-inet link set lo up
ip -n mow-inet addr add 198.18.0.10/24 dev br0
for home in A B; do
  if [ $home = A ]; then i=1 nat=$A; else i=2 nat=$B; fi
  r=mow-r$home h=mow-h$home
  ip netns add $r; ip netns add $h
  ip -n $r link set lo up; ip -n $h link set lo up
  ip link add mow-w$home type veth peer name mow-wp$home
  ip link set mow-w$home netns $r; ip link set mow-wp$home netns mow-inet
  ip -n mow-inet link set mow-wp$home master br0; ip -n mow-inet link set mow-wp$home up
  ip -n $r link set mow-w$home name eth0
  ip -n $r addr add 198.18.0.$i/24 dev eth0; ip -n $r link set eth0 up
  ip link add mow-l$home type veth peer name mow-lp$home
  ip link set mow-l$home netns $r; ip link set mow-lp$home netns $h
  ip -n $r link set mow-l$home name eth1
  ip -n $r addr add 198.19.$i.1/24 dev eth1; ip -n $r link set eth1 up
  ip -n $h link set mow-lp$home name eth0
  ip -n $h addr add 198.19.$i.2/24 dev eth0; ip -n $h link set eth0 up
  ip -n $h route add default via 198.19.$i.1
  ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
  flags=""; [ "$nat" = hard ] && flags="fully-random"
  ip netns exec $r nft -f - <<NFT
table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "eth0" masquerade $flags
  }
}
table ip filter {
  chain forwarding {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "eth1" oifname "eth0" accept
  }
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname { "lo", "eth1" } accept
  }
}
NFT
  if [ "$RATE" != 0 ]; then
    ip netns exec $r tc qdisc add dev eth0 root tbf rate "${RATE}mbit" burst 32kbit latency 100ms
  fi
done
echo "NAT lab up: home A $A, home B $B, uplink ${RATE} Mbit/s (0: unlimited)"

#!/usr/bin/env bash
# The whole system on a real one-node cluster (e2e/k8s/node.sh): the control plane built from Go
# modules, kubelet + containerd + runc + CNI bridge + kube-proxy (nftables) + CoreDNS, and the
# product image (e2e/image/oci.sh: the Dockerfile's runtime stage, no registry) run as
# containers. The namespaces enforce Pod Security `restricted`. Checks:
#   1. the Helm chart installs the operator, which runs in a pod (in-cluster config, its
#      ServiceAccount's RBAC) and takes the leader Lease;
#   2. examples/libraries/home-videos-hostpath.yaml with examples/profiles/standard.yaml and
#      mobile.yaml, its media on a PersistentVolumeClaim (a hostPath volume is not allowed under
#      `restricted`): the library server pod scans, a transcoder Job per profile makes that
#      profile's package of every item, the library becomes Ready, and its HLS (one master over
#      both packages) is fetched through the Service's ClusterIP and decoded by ffmpeg;
#   3. a transcode worker killed -9 mid-item: its lease expires, the item is queued again and
#      another worker pod finishes it;
#   4. a profile edit (standard's segmentSeconds 6 -> 4): the server sees the new profile in
#      its ConfigMap volume, queues the packages made with the old one again, and a new Job
#      re-transcodes them;
#   5. the operator killed -9 right after a new library is applied: the kubelet restarts it and
#      the library converges with exactly one of each child;
#   6. the front door (the chart's `manofwar hub`, a NodePort Service with an Ingress and an
#      HTTPRoute) over both libraries, found by their in-cluster DNS names: the library servers
#      answer nothing without their token; the initial admin (from the chart's Secret) grants a
#      member one library, who sees only that one and plays it through the node's port;
#   7. a PeerGroup in hub mode: its gateway gets --server <the hub> and a token of its own, which
#      the hub admits (the operator's directory) as a reader of every library, and runs; a
#      second homelab (namespace friend) with its own PeerGroup: both gateways meet through the
#      chart's coordinator, `kubectl get pg` shows one connected peer on each side (the operator
#      asks each gateway), the friend sees only home-videos (the library that names home's
#      group), home sees nothing of the friend's (no library of namespace friend names its
#      group), and ffmpeg plays home's item through the friend's gateway; the hub lists both
#      gateways' friends and, for the admin, home's items as the friend's gateway sees them;
#   8. the node enforces what the chart asks: our containers run as uid 65532 with a read-only
#      root, are Ready and never restarted; a privileged pod is refused by Pod Security; a
#      failing liveness probe restarts a container; a memory limit OOM-kills;
#   9. GitOps: examples/flux built with kustomize and applied server-side, judged through its
#      lifecycle by kstatus (Flux) and our health.lua in gopher-lua (Argo CD);
#  10. deleting a library garbage-collects its children and its pods stop.
# Needs root. Prints `N passed, M failed`; exits 1 on any failure. MANOFWAR_K8S_KEEP=1 keeps the
# cluster and the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
# shellcheck source=e2e/k8s/lib.sh
source "$here/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "cluster_test: needs root: it runs a kubelet and containerd" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-cluster-e2e.XXXXXX")
chmod 755 "$tmp" # the pods run as the image's non-root user and read media from here
# node.sh has control-plane.sh's `up DIR` / `down DIR`: lib.sh's finish_cluster stops it.
CP=$here/node.sh
cpdir=$tmp/cluster
finish() {
  local rc=$?
  if ((failed > 0)); then
    echo "the end of the node's logs and of each container's:"
    for f in "$cpdir"/node/logs/{kubelet,containerd}.log; do
      [ -f "$f" ] && { echo "  $f"; grep -iE 'error|fail' "$f" | tail -n 6 | cut -c1-300 | indent; }
    done
    for p in $(kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null); do
      echo "  $p"; kubectl logs -n "${p%/*}" "${p#*/}" --all-containers --tail 4 2>&1 | cut -c1-300 | indent
    done
  fi
  finish_cluster "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

clip() { # name seconds WxH: H.264 + AAC, written elsewhere and moved in whole
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=$3:rate=24:duration=$2" \
    -f lavfi -i "sine=frequency=440:duration=$2" -c:v libx264 -preset ultrafast -g 48 \
    -pix_fmt yuv420p -c:a aac "$tmp/$1.mp4" && mv "$tmp/$1.mp4" "$media/$1.mp4"
}
library() { # name claim profiles: the hostPath example, its media on a claim bound to $media
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $1-media}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  hostPath: {path: $media, type: Directory}
  claimRef: {namespace: media, name: $1-media}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1-media, namespace: media}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  volumeName: $1-media
  resources: {requests: {storage: 1Gi}}
EOF
  sed -e "s#name: home-videos\$#name: $1#" -e "s#home-videos-data#$2#" \
    -e "s#hostPath:#pvc:#" -e "s#path: /srv/media/home-videos#claimName: $1-media#" -e "s#nas-node#$MANOFWAR_NODE#" \
    -e "s#profiles: \[standard, hevc-4k\]#profiles: [$3]#" examples/libraries/home-videos-hostpath.yaml
}
token() { # library -> the token its server wants (behind the front door, it answers no one else)
  k get secret "$1-worker-token" -n media -o jsonpath='{.data.token}' | base64 -d
}
items() { # library -> its items as JSON, through the Service's ClusterIP
  curl -fsS -H "Authorization: Bearer $(token "$1")" \
    "http://$(k get svc "$1" -n media -o jsonpath='{.spec.clusterIP}'):8096/api/v1/items"
}
item_state() { # library title
  items "$1" | jq -r --arg t "$2" '.items[] | select(.title == $t) | .state'
}
count() { # kind selector -> how many
  k get "$1" -n media -l "$2" -o name | wc -l
}
export -f k token items item_state

step "build, image, node"
cargo build --quiet -p manofwar-node -p manofwar-operator || { bad "cargo build"; exit 1; }
if "$CP" up "$cpdir" >"$tmp/up.log" 2>&1; then
  ok "node e2e-node Ready: kubelet, containerd, kube-proxy, CoreDNS ($(grep -o 'in [0-9]*s' "$tmp/up.log" | tail -1))"
else
  tail -n 30 "$tmp/up.log" | indent; bad "node up"; exit 1
fi
# shellcheck disable=SC1091
source "$cpdir/env"
image=ghcr.io/manofwar/manofwar:$(sed -n 's/^appVersion: *"*\([^"]*\)"*/\1/p' charts/manofwar/Chart.yaml)
check "the product image $image is in containerd (built by e2e/image/oci.sh, not pulled)" bash -c \
  "ctr --address $CONTAINERD_ADDRESS -n k8s.io images ls -q | grep -qx '$image'"
for ns in manofwar-system media friend; do
  k create namespace "$ns" >/dev/null
  k label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
done

step "helm chart: the operator runs in a pod"
helm=$( (source e2e/k8s-static/tools.sh >/dev/null && command -v helm) ) || { bad "install helm"; exit 1; }
# The Gateway API's CRDs (from its Go module), so that the chart's HTTPRoute is judged by the API
# server. No ingress or gateway controller builds here (see e2e/k8s/README.md): users come in
# through the hub's NodePort.
gwapi=$(go mod download -json sigs.k8s.io/gateway-api@v1.4.0 | jq -r .Dir)
k apply --server-side -f "$gwapi/config/crd/standard/" >/dev/null
k wait crd httproutes.gateway.networking.k8s.io --for condition=Established --timeout=30s >/dev/null
# Two homelabs as two namespaces, media (home) and friend, share peer to peer through the
# chart's coordinator. Their gateways' identities are made first, so that the coordinator's
# members and each side's trusted peers can name them.
identity() { # secret namespace -> the PeerId of a new key, kept in the Secret's identity.key
  local key=$tmp/$2-$1.key id
  id=$(target/debug/manofwar identity --key "$key" | head -n1)
  k create secret generic "$1" -n "$2" --from-file=identity.key="$key" >/dev/null && echo "$id"
}
coordinator_id=$(identity coordinator-identity manofwar-system)
home_id=$(identity friends-identity media)
friend_id=$(identity friends-identity friend)
"$helm" template manofwar charts/manofwar -n manofwar-system --set hub.service.type=NodePort \
  --set hub.ingress.enabled=true --set hub.ingress.host=media.home.test \
  --set hub.httpRoute.enabled=true --set 'hub.httpRoute.parentRefs[0].name=homelab' \
  --set 'hub.httpRoute.hostnames[0]=media.home.test' \
  --set coordinator.enabled=true --set coordinator.identitySecret=coordinator-identity \
  --set coordinator.service.type=ClusterIP \
  --set "coordinator.members[0].peerId=$home_id" --set coordinator.members[0].name=home \
  --set "coordinator.members[1].peerId=$friend_id" --set coordinator.members[1].name=friend \
  >"$tmp/chart.yaml"
if k apply -f "$tmp/chart.yaml" >"$tmp/apply.log" 2>&1; then
  ok "the chart applies, with its Ingress and HTTPRoute accepted by the API server"
else
  bad "the chart applies"; tail -n 5 "$tmp/apply.log" | indent
fi
eventually 90 "operator pod Ready" k wait pods -n manofwar-system -l app.kubernetes.io/name=manofwar,app.kubernetes.io/component=operator \
  --for condition=Ready --timeout=2s
operator_pod=$(k get pods -n manofwar-system -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].metadata.name}')
eventually 30 "the operator pod holds the leader Lease" bash -c \
  "kubectl get lease manofwar-operator -n manofwar-system -o jsonpath='{.spec.holderIdentity}' | grep -qx $operator_pod"

step "a library from examples/ with two profiles: a Job per profile, served through its Service"
media=$tmp/media
mkdir -p "$media" && chmod 755 "$media"
clip "Clip One (2020)" 4 320x180 && clip "Clip Two (2021)" 4 320x180
# The examples ask what a homelab server has (2 CPUs a standard worker); this node has 2 in all,
# and the scheduler counts them. The library says so; the user asks for what fits.
k apply -f examples/profiles/standard.yaml -f examples/profiles/mobile.yaml >/dev/null
# Shared with friends through the PeerGroup `friends` (below).
library home-videos home-videos-data "standard, mobile" |
  sed 's/^  profiles: .*/&\n  sharing: {peerGroup: friends}/' >"$tmp/home-videos.yaml" && k apply -f "$tmp/home-videos.yaml" >/dev/null
eventually 120 "the library says its transcoder pods cannot be scheduled, and why" bash -c \
  "kubectl get ml home-videos -n media -o json | jq -r '.status.conditions[].message' | grep -q 'cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu'"
for profile in standard mobile; do
  sed 's/cpu: "[0-9]*"/cpu: 250m/' "examples/profiles/$profile.yaml" | k apply -f - >/dev/null
done
eventually 240 "MediaLibrary Ready with 2 of 2 items ready" bash -c \
  "[ \"\$(kubectl get ml home-videos -n media -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status} {.status.items.ready}/{.status.items.total}')\" = 'True 2/2' ]"
for profile in standard mobile; do # the Job controller may see its pod finish after the library
  eventually 60 "the $profile transcoder Job succeeded" bash -c \
    "kubectl get jobs -n media -l manofwar.io/profile=$profile -o jsonpath='{.items[*].status.succeeded}' | grep -Eq '[1-9]'"
done
check "the server pod's data is on the provisioned volume" bash -c \
  "[ \"\$(kubectl get pvc home-videos-data -n media -o jsonpath='{.status.phase}')\" = Bound ]"
svc=$(k get svc home-videos -n media -o jsonpath='{.spec.clusterIP}')
bearer="Authorization: Bearer $(token home-videos)"
check "the library server answers nothing without its token (401)" test \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://$svc:8096/api/v1/items")" = 401
id=$(items home-videos | jq -r '.items[] | select(.title == "Clip One") | .id')
if curl -fsS -H "$bearer" "http://$svc:8096/hls/$id/master.m3u8" -o "$tmp/master.m3u8" && grep -q '^#EXT-X-STREAM-INF' "$tmp/master.m3u8"; then
  ok "master playlist through the Service (http://$svc:8096/hls/$id/master.m3u8)"
else
  bad "master playlist through the Service"
fi
check "it offers both profiles' packages" bash -c \
  "grep -q '^standard/.*index.m3u8' $tmp/master.m3u8 && grep -q '^mobile/.*index.m3u8' $tmp/master.m3u8"
if ffmpeg -v error -headers "$bearer"$'\r\n' -i "http://$svc:8096/hls/$id/master.m3u8" -map 0 -f null - 2>"$tmp/decode.log" && [ ! -s "$tmp/decode.log" ]; then
  ok "ffmpeg decodes every variant and rendition through the Service"
else
  bad "decode through the Service"; head -5 "$tmp/decode.log" | indent
fi
duration=$(ffprobe -v error -headers "$bearer"$'\r\n' -show_entries format=duration -of csv=p=0 "http://$svc:8096/hls/$id/master.m3u8")
check "its duration is the source's (4 s, got $duration)" python3 -c "import sys; sys.exit(abs(float('$duration') - 4) > 0.5)"

step "a transcode worker killed mid-item"
clip "Long Walk (2022)" 30 1920x1080
# Container processes are the host's processes too: the worker is found and killed as root.
standard_worker='^manofwar transcode .*/standard.yaml'
eventually 90 "the standard worker pod claims the new item" bash -c \
  "[ \"\$(item_state home-videos 'Long Walk')\" = transcoding ] && pgrep -f '$standard_worker' >/dev/null"
killed=$(pkill -KILL -e -f "$standard_worker" | wc -l)
if ((killed > 0)); then ok "killed $killed worker(s) with SIGKILL"; else bad "no worker process to kill"; fi
eventually 60 "the Job saw a failed pod" bash -c \
  "kubectl get jobs -n media -l manofwar.io/profile=standard -o jsonpath='{.items[*].status.failed}' | grep -Eq '[1-9]'"
eventually 240 "the lease ran out, the item was queued again and another worker finished it" bash -c \
  "[ \"\$(item_state home-videos 'Long Walk')\" = ready ]"
long=$(items home-videos | jq -r '.items[] | select(.title == "Long Walk") | .id')
duration=$(ffprobe -v error -headers "$bearer"$'\r\n' -show_entries format=duration -of csv=p=0 "http://$svc:8096/hls/$long/master.m3u8")
check "the finished package is whole (30 s, got $duration)" python3 -c "import sys; sys.exit(abs(float('$duration') - 30) > 0.5)"

step "a profile edit re-transcodes"
segments() { curl -fsS -H "$bearer" "http://$svc:8096/hls/$long/standard/source/index.m3u8" | grep -c '^#EXTINF'; }
before=$(segments)
k patch tp standard -n media --type=merge -p '{"spec":{"segmentSeconds":4}}' >/dev/null
eventually 240 "the 30 s item is packaged again in 4 s segments (was $before segments)" bash -c \
  "[ \"\$(curl -fsS -H '$bearer' http://$svc:8096/hls/$long/standard/source/index.m3u8 | grep -c '^#EXTINF')\" -gt $before ]"
eventually 120 "all 3 items ready again" bash -c \
  "[ \"\$(kubectl get ml home-videos -n media -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status} {.status.items.ready}/{.status.items.total}')\" = 'True 3/3' ]"

step "the operator killed mid-reconcile"
library home-videos-2 home-videos-2-data standard >"$tmp/home-videos-2.yaml" && k apply -f "$tmp/home-videos-2.yaml" >/dev/null
sleep 0.3
if pkill -KILL -f '^manofwar-operator'; then ok "operator killed with SIGKILL"; else bad "no operator process"; fi
eventually 60 "the kubelet restarted it" bash -c \
  "[ \"\$(kubectl get pod $operator_pod -n manofwar-system -o jsonpath='{.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type==\"Ready\")].status}')\" = '1 True' ]"
eventually 240 "the new library converges: Ready with 3 of 3 items" bash -c \
  "[ \"\$(kubectl get ml home-videos-2 -n media -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status} {.status.items.ready}/{.status.items.total}')\" = 'True 3/3' ]"
sel=manofwar.io/library=home-videos-2
for kind in deployment service secret configmap pod; do
  n=$(count "$kind" "$sel,app.kubernetes.io/component!=transcoder")
  if [ "$n" = 1 ]; then ok "exactly one $kind"; else bad "$n of kind $kind (want 1)"; fi
done
n=$(count job "$sel")
if ((n <= 1)); then ok "at most one transcoder Job ($n)"; else bad "$n transcoder Jobs for one profile"; fi

step "the front door: one login over both libraries, one library granted"
eventually 90 "the hub pod is Ready" k wait pods -n manofwar-system -l app.kubernetes.io/component=hub \
  --for condition=Ready --timeout=2s
hub=http://$MANOFWAR_NODE_IP:$(k get svc manofwar-hub -n manofwar-system -o jsonpath='{.spec.ports[0].nodePort}')
password=$(k get secret manofwar-initial-admin -n manofwar-system -o jsonpath='{.data.password}' | base64 -d)
login() { # jar user password -> status code; the session cookie lands in the jar
  curl -s -o /dev/null -w '%{http_code}' -c "$tmp/$1" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$3\"}" "$hub/api/v1/auth/login"
}
check "the initial admin signs in with the chart's generated password" test "$(login admin.jar admin "$password")" = 200
check "a wrong password: 401" test "$(login wrong.jar admin "not-$password")" = 401
admin_get() { curl -fsS -b "$tmp/admin.jar" "$hub$1"; }
export -f admin_get; export hub tmp
eventually 150 "the hub sees both libraries (the operator's directory)" bash -c \
  "[ \"\$(admin_get /api/v1/libraries | jq -c '[.libraries[] | [.name, .items]]')\" = '[[\"home-videos\",3],[\"home-videos-2\",3]]' ]"
# Each library's Ready condition goes operator → directory Secret → the hub's mount (the kubelet
# refreshes it within about a minute).
hub_states_match() {
  local lib reason
  for lib in home-videos home-videos-2; do
    reason=$(kubectl get medialibrary "$lib" -n media -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')
    [ -n "$reason" ] && [ "$(admin_get /api/v1/libraries | jq -r ".libraries[] | select(.name == \"$lib\") | .state.reason")" = "$reason" ] || return 1
  done
}
export -f hub_states_match
eventually 150 "the admin sees each MediaLibrary's Ready condition, as kubectl does" hub_states_match
csrf=$(admin_get /api/v1/auth/me | jq -r .csrf)
created=$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/admin.jar" -H "X-CSRF-Token: $csrf" \
  -H 'content-type: application/json' -d '{"name":"ann","password":"ann-password-1","role":"member","libraries":["home-videos"]}' \
  "$hub/api/v1/users")
check "the admin adds ann, granted home-videos ($created)" test "$created" = 201
check "ann signs in" test "$(login ann.jar ann ann-password-1)" = 200
curl -fsS -b "$tmp/ann.jar" "$hub/api/v1/items" >"$tmp/ann-items.json"
check "ann does not see the operator's conditions" test \
  "$(curl -fsS -b "$tmp/ann.jar" "$hub/api/v1/libraries" | jq -c '[.libraries[].state]')" = '[null]'
check "ann sees home-videos' 3 items and nothing else" test \
  "$(jq -r '[.items[].library] | join(",")' "$tmp/ann-items.json")" = home-videos,home-videos,home-videos
other=$(admin_get /api/v1/items | jq -r '[.items[] | select(.library == "home-videos-2")][0].id')
check "home-videos-2's item $other is 404 for ann" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/ann.jar" "$hub/api/v1/items/$other")" = 404
signed=$(jq -r '.items[] | select(.title == "Clip One") | .hls_url' "$tmp/ann-items.json")
if ffmpeg -v error -i "$hub$signed" -map 0 -f null - 2>"$tmp/hub-decode.log" && [ ! -s "$tmp/hub-decode.log" ]; then
  ok "ann's player plays Clip One through the hub's NodePort ($signed: no cookie, no header)"
else
  bad "decode through the hub"; head -3 "$tmp/hub-decode.log" | indent
fi

step "a PeerGroup's gateway shares through the hub"
coordinator=/dns4/manofwar-coordinator.manofwar-system.svc.cluster.local/tcp/4001/p2p/$coordinator_id
peer_group() { # namespace friend's-PeerId friend's-name library: a group trusting one friend
  k apply -f - >/dev/null <<EOF
apiVersion: manofwar.io/v1alpha1
kind: PeerGroup
metadata: {name: friends, namespace: $1}
spec:
  peers:
    - {peerId: $2, name: $3, libraries: [$4]}
  coordinators: [$coordinator]
  service: {type: ClusterIP}
EOF
}
peer_group media "$friend_id" friend home-videos
eventually 60 "the operator made its hub token" k get secret friends-hub-token -n media
check "its gateway runs with --server <the hub's Service>" bash -c \
  "kubectl get deploy friends-gateway -n media -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q 'http://manofwar-hub.manofwar-system.svc:80'"
gateway_token=$(k get secret friends-hub-token -n media -o jsonpath='{.data.token}' | base64 -d)
# The directory reaches the hub as a Secret volume, which the kubelet refreshes on its own sync
# (about a minute on a real node), not at once.
eventually 150 "the hub admits the gateway's token for home-videos' 3 items only (the library that names its group)" bash -c \
  "[ \"\$(curl -fsS -H 'Authorization: Bearer $gateway_token' $hub/api/v1/items | jq -r '[(.items | map(.library) | unique | join(\",\")), (.items | length)] | join(\" \")')\" = 'home-videos 3' ]"
check "the token is no admin's (403 on /api/v1/users)" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $gateway_token" "$hub/api/v1/users")" = 403
eventually 90 "the gateway pod is Ready (its HTTP answers /healthz)" k wait pods -n media \
  -l manofwar.io/peer-group=friends --for condition=Ready --timeout=2s

step "two homelabs share peer to peer: namespaces media and friend, through the chart's coordinator"
peer_group friend "$home_id" home home-videos-2
eventually 90 "the friend's gateway pod is Ready" k wait pods -n friend \
  -l manofwar.io/peer-group=friends --for condition=Ready --timeout=2s
eventually 60 "the chart's coordinator runs (its identity from the Secret)" k wait pods -n manofwar-system \
  -l app.kubernetes.io/component=coordinator --for condition=Ready --timeout=2s
for ns in media friend; do
  eventually 90 "the $ns gateway holds a relay reservation at the coordinator" bash -c \
    "kubectl logs -n $ns -l manofwar.io/peer-group=friends --tail=-1 | grep -q 'reservation accepted'"
done
gateway() { # namespace path -> the answer of that namespace's gateway (its pod address, its token)
  local ip token
  ip=$(kubectl get pods -n "$1" -l manofwar.io/peer-group=friends -o jsonpath='{.items[0].status.podIP}')
  token=$(kubectl get secret friends-http-token -n "$1" -o jsonpath='{.data.token}' | base64 -d)
  curl -fsS -H "Authorization: Bearer $token" "http://$ip:8097$2"
}
export -f gateway
export home_id friend_id
for ns in media friend; do
  eventually 150 "kubectl get pg -n $ns: one connected peer (the operator asks the gateway)" bash -c \
    "[ \"\$(kubectl get pg friends -n $ns -o jsonpath='{.status.connectedPeers}')\" = 1 ]"
done
k get pg -A | indent
check "each gateway says its friends are its PeerGroup's to edit (peersEditable: false, a read-only mount)" bash -c \
  "[ \"\$(gateway media /api/v1/p2p | jq .peersEditable),\$(gateway friend /api/v1/p2p | jq .peersEditable)\" = false,false ]"
eventually 60 "the friend's gateway is connected to home directly (pod to pod, no relay)" bash -c \
  "[ \"\$(gateway friend /api/v1/peers | jq -r '.peers[0].connection')\" = direct ]"
# The operator asks the gateway every 20 s, so its condition may still say "relayed" for a poll.
eventually 60 "the Ready condition names the friend and how it is connected" bash -c \
  "kubectl get pg friends -n friend -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].message}' | grep -q '1 of 1 trusted peers connected (home direct)'" ||
  k get pg friends -n friend -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}{"\n"}' | indent
eventually 150 "the friend sees home's home-videos, and only that library (3 items)" bash -c \
  "[ \"\$(gateway friend /api/v1/peers/$home_id/items | jq -r '[(.items | map(.library) | unique | join(\",\")), (.items | length)] | join(\" \")')\" = 'home-videos 3' ]"
# The friend's entry for home lists home-videos-2, but that library is in namespace media and
# names no group: the friend's gateway may not read it from the hub.
eventually 150 "home sees nothing of the friend's (its list names home-videos-2, which is not the friend's to share)" bash -c \
  "[ \"\$(gateway media /api/v1/peers/$friend_id/items | jq '.items | length')\" = 0 ]"
p2p_url=$(gateway friend "/api/v1/peers/$home_id/items" | jq -r '.items[] | select(.title == "Clip One") | .hls_url')
friend_ip=$(k get pods -n friend -l manofwar.io/peer-group=friends -o jsonpath='{.items[0].status.podIP}')
friend_bearer="Authorization: Bearer $(k get secret friends-http-token -n friend -o jsonpath='{.data.token}' | base64 -d)"
if ffmpeg -v error -headers "$friend_bearer"$'\r\n' -i "http://$friend_ip:8097$p2p_url" -map 0 -f null - 2>"$tmp/p2p-decode.log" &&
  [ ! -s "$tmp/p2p-decode.log" ]; then
  ok "ffmpeg plays home's Clip One, every variant, through the friend's gateway ($p2p_url)"
else
  bad "decode through the friend's gateway"; head -3 "$tmp/p2p-decode.log" | indent
fi
check "a gateway's HTTP answers nothing without its token (401)" test \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://$friend_ip:8097/api/v1/peers")" = 401

step "the hub offers friends' libraries through each gateway's HTTP (its ClusterIP Service)"
eventually 150 "the hub lists both gateways' friends" bash -c \
  "[ \"\$(admin_get /api/v1/peers | jq -r '[.peers[].name] | sort | join(\",\")')\" = friend,home ]"
eventually 60 "through the hub, home's items as the friend's gateway sees them (home-videos, 3)" bash -c \
  "[ \"\$(admin_get /api/v1/peers/$home_id/items | jq -r '[(.items | map(.library) | unique | join(\",\")), (.items | length)] | join(\" \")')\" = 'home-videos 3' ]"
check "not for ann, who has no @friends grant (404)" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/ann.jar" "$hub/api/v1/peers")" = 404

step "the node enforces what the chart asks"
hub_pod=$(k get pods -n manofwar-system -l app.kubernetes.io/component=hub -o jsonpath='{.items[0].metadata.name}')
check "the hub's container runs as uid 65532" test "$(k exec -n manofwar-system "$hub_pod" -- id -u)" = 65532
# /var/tmp is world-writable in the image; only a read-only root file system stops the write.
# (Output captured first: kubectl exits 1 when touch fails, which pipefail would pass on.)
touched=$(k exec -n manofwar-system "$hub_pod" -- touch /var/tmp/probe 2>&1)
if grep -q 'Read-only file system' <<<"$touched"; then
  ok "its root file system is read-only"
else
  bad "its root file system is writable: $touched"
fi
cgroup=$(k exec -n manofwar-system "$hub_pod" -- cat /proc/1/cgroup | sed -n 's/^[0-9]*:memory://p')
check "its memory limit (256Mi in the chart) is the container's cgroup limit" test \
  "$(cat "/sys/fs/cgroup/memory$cgroup/memory.limit_in_bytes" 2>/dev/null)" = $((256 << 20))
check "the hub resolves a library server by its DNS name (CoreDNS) to its ClusterIP" test \
  "$(k exec -n manofwar-system "$hub_pod" -- getent hosts home-videos.media.svc.cluster.local | cut -d' ' -f1)" = "$svc"
# Every pod of ours is Ready and was never restarted, but the operator, killed on purpose above.
restarted=$(for ns in media manofwar-system; do
  k get pods -n "$ns" -o json | jq -r --arg op "$operator_pod" '.items[]
    | select(.status.phase == "Running" and .metadata.name != $op)
    | select(any(.status.containerStatuses[]; .restartCount > 0 or .ready != true)) | .metadata.name'
done)
check "every other running pod of ours is Ready with no restart${restarted:+ (not: $restarted)}" test -z "$restarted"
test_pod() { # name extra-container-fields...: a pod of our image that `restricted` admits
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: media}
spec:
  restartPolicy: ${RESTART:-Never}
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: $1
      image: $image
      imagePullPolicy: IfNotPresent
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
$2
EOF
}
refused=$(test_pod privileged "      command: [sleep, '60']" |
  sed 's/allowPrivilegeEscalation: false/privileged: true/' | k apply -f - 2>&1)
if grep -q 'violates PodSecurity "restricted' <<<"$refused"; then
  ok "Pod Security refuses a privileged pod in the namespace"
else
  bad "a privileged pod was not refused: $refused"
fi
RESTART=Always test_pod liveness "      command: [sleep, '3600']
      livenessProbe: {exec: {command: ['false']}, periodSeconds: 1, failureThreshold: 1}" | k apply -f - >/dev/null
eventually 90 "a container whose liveness probe fails is restarted" bash -c \
  "[ \"\$(kubectl get pod liveness -n media -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 1 ]"
RESTART=Always test_pod unready "      command: [sleep, '3600']
      readinessProbe: {exec: {command: ['false']}, periodSeconds: 1}" |
  sed 's/^metadata: {name: unready, namespace: media}/metadata: {name: unready, namespace: media, labels: {app: unready}}/' |
  k apply -f - >/dev/null
k create service clusterip unready -n media --tcp=80:8096 >/dev/null # selects app=unready
eventually 60 "a container whose readiness probe fails runs, not Ready, and its Service has no ready endpoint" bash -c \
  "[ \"\$(kubectl get pod unready -n media -o jsonpath='{.status.phase} {.status.conditions[?(@.type==\"Ready\")].status}')\" = 'Running False' ] &&
   [ \"\$(kubectl get endpointslices -n media -l kubernetes.io/service-name=unready -o jsonpath='{.items[*].endpoints[*].conditions.ready}')\" = false ]"
test_pod oom "      command: [dd, if=/dev/zero, of=/dev/null, bs=200M, count=1]   # a 200 MB buffer
      resources: {limits: {memory: 32Mi}}" | k apply -f - >/dev/null
eventually 90 "a container over its 32Mi memory limit is OOM-killed" bash -c \
  "[ \"\$(kubectl get pod oom -n media -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')\" = OOMKilled ]"
k delete pod liveness oom unready -n media --wait=false >/dev/null
k delete service unready -n media >/dev/null

step "GitOps: examples/flux's unit through its lifecycle, judged by Flux's kstatus and Argo CD's health.lua"
# shellcheck source=e2e/k8s/gitops/lifecycle.sh
source "$here/gitops/lifecycle.sh"
gitops_lifecycle gitops

step "deleting a library garbage-collects its children and stops its pods"
k delete ml home-videos-2 -n media --wait=false >/dev/null
for kind in deployment service secret configmap job pod; do
  eventually 90 "no $kind left" bash -c "[ \"\$(kubectl get $kind -n media -l $sel -o name | wc -l)\" = 0 ]"
done
check "the other library still serves" bash -c "curl -fsS -H '$bearer' http://$svc:8096/hls/$id/master.m3u8"

step "logs"
# Both runs of the operator (it was killed once). A dropped watch or an API request cut short is
# normal on a real cluster and is retried (the library checks above show it converged): such
# errors are counted, not failed. Any other ERROR is a failure.
transient='watcher error|SendRequest|connection (reset|refused|closed)|broken pipe|timed out|EOF|503 Service Unavailable|too old resource version'
for previous in false true; do
  k logs -n manofwar-system "$operator_pod" --previous="$previous" 2>/dev/null
done | grep -h '"level":"ERROR"' >"$tmp/errors"
grep -E "$transient" "$tmp/errors" >"$tmp/errors.transient"
if grep -vE "$transient" "$tmp/errors" >"$tmp/errors.real"; then
  bad "operator logged errors"; head -5 "$tmp/errors.real" | cut -c1-300 | indent
else
  ok "no ERROR in the operator's logs but $(wc -l <"$tmp/errors.transient") transient API error(s), retried"
fi

#!/usr/bin/env bash
# The whole system on a real control plane with a real data plane: e2e/k8s/control-plane.sh
# (etcd, kube-apiserver, controller manager, scheduler) plus e2e/k8s/pod_runner.py, which
# registers a Node and runs the pods bound to it as local processes of the binaries built here,
# each in its own network and mount namespace, and proxies Service ClusterIPs. Checks:
#   1. the Helm chart installs the operator, which runs in a pod (in-cluster config, its
#      ServiceAccount's RBAC) and takes the leader Lease;
#   2. examples/libraries/home-videos-hostpath.yaml with examples/profiles/standard.yaml and
#      mobile.yaml (media path and node name filled in): the library server pod scans, a
#      transcoder Job per profile makes that profile's package of every item, the library
#      becomes Ready, and its HLS (one master over both packages) is fetched through the
#      Service's ClusterIP and decoded by ffmpeg;
#   3. a transcode worker killed -9 mid-item: its lease expires, the item is queued again and
#      another worker pod finishes it;
#   4. a profile edit (standard's segmentSeconds 6 -> 4): the server sees the new profile in
#      its ConfigMap volume, queues the packages made with the old one again, and a new Job
#      re-transcodes them;
#   5. the operator killed -9 right after a new library is applied: the pod restarts it and
#      the library converges with exactly one of each child;
#   6. the front door (the chart's `manofwar hub`) over both libraries: the library servers
#      answer nothing without their token; the initial admin (from the chart's Secret) grants a
#      member one library, who sees only that one and plays it through the hub's Service;
#   7. a PeerGroup in hub mode: its gateway gets --server <the hub> and a token of its own, which
#      the hub admits (the operator's directory) as a reader of every library, and runs;
#   8. deleting a library garbage-collects its children and its pods stop.
# Needs root (network namespaces, mounts). Prints `N passed, M failed`; exits 1 on any failure.
# MANOFWAR_K8S_KEEP=1 keeps the cluster, the runner and the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
CP=$here/control-plane.sh
# shellcheck source=e2e/k8s/lib.sh
source "$here/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "cluster_test: needs root: the pod runner makes network namespaces and mounts" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-cluster-e2e.XXXXXX")
chmod 755 "$tmp" # the pods run as the image's non-root user and read media from here
cpdir=$tmp/control-plane
runner_pid=""
finish() {
  local rc=$?
  if ((failed > 0)); then
    echo "last lines of the pod runner and of each container:"
    tail -n 15 "$tmp/runner.log" 2>/dev/null | indent
    for f in "$tmp"/runner/pods/*/*.log; do
      [ -f "$f" ] && { echo "  $f"; tail -n 4 "$f" | cut -c1-300 | indent; }
    done
  fi
  if [ "${MANOFWAR_K8S_KEEP:-0}" = 1 ]; then
    echo "the pod runner (pid $runner_pid) keeps running its pods; stop it with kill $runner_pid"
  elif [ -n "$runner_pid" ]; then
    kill "$runner_pid" 2>/dev/null && wait "$runner_pid" 2>/dev/null
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
library() { # name claim profiles: the hostPath example, pointed at $media and our node
  sed -e "s#name: home-videos\$#name: $1#" -e "s#home-videos-data#$2#" \
    -e "s#/srv/media/home-videos#$media#" -e "s#nas-node#pod-runner#" \
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

step "build, control plane, pod runner"
cargo build --quiet -p manofwar-node -p manofwar-operator || { bad "cargo build"; exit 1; }
"$CP" up "$cpdir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; bad "control plane up"; exit 1; }
# shellcheck disable=SC1091
source "$cpdir/env"
python3 "$here/pod_runner.py" --server "$MANOFWAR_K8S_SERVER" --token-file "$MANOFWAR_K8S_TOKEN_FILE" \
  --ca "$MANOFWAR_K8S_CA" --bin-dir target/debug --state "$tmp/runner" >"$tmp/runner.log" 2>&1 &
runner_pid=$!
eventually 30 "node pod-runner is Ready" bash -c \
  "kubectl get node pod-runner -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

step "helm chart: the operator runs in a pod"
helm=$( (source e2e/k8s-static/tools.sh >/dev/null && command -v helm) ) || { bad "install helm"; exit 1; }
k create namespace manofwar-system >/dev/null
"$helm" template manofwar charts/manofwar -n manofwar-system | k apply -f - >/dev/null
eventually 90 "operator pod Ready" k wait pods -n manofwar-system -l app.kubernetes.io/name=manofwar,app.kubernetes.io/component=operator \
  --for condition=Ready --timeout=2s
operator_pod=$(k get pods -n manofwar-system -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].metadata.name}')
eventually 30 "the operator pod holds the leader Lease" bash -c \
  "kubectl get lease manofwar-operator -n manofwar-system -o jsonpath='{.spec.holderIdentity}' | grep -qx $operator_pod"

step "a library from examples/ with two profiles: a Job per profile, served through its Service"
media=$tmp/media
mkdir -p "$media" && chmod 755 "$media"
clip "Clip One (2020)" 4 320x180 && clip "Clip Two (2021)" 4 320x180
k apply -f examples/namespace.yaml -f examples/profiles/standard.yaml -f examples/profiles/mobile.yaml >/dev/null
library home-videos home-videos-data "standard, mobile" | k apply -f - >/dev/null
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
standard_worker='^/usr/local/bin/manofwar transcode .*/standard.yaml'
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
library home-videos-2 home-videos-2-data standard | k apply -f - >/dev/null
sleep 0.3
if pkill -KILL -f '^/usr/local/bin/manofwar-operator'; then ok "operator killed with SIGKILL"; else bad "no operator process"; fi
eventually 60 "the pod restarted it" bash -c \
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
hub=http://$(k get svc manofwar-hub -n manofwar-system -o jsonpath='{.spec.clusterIP}'):80
password=$(k get secret manofwar-initial-admin -n manofwar-system -o jsonpath='{.data.password}' | base64 -d)
login() { # jar user password -> status code; the session cookie lands in the jar
  curl -s -o /dev/null -w '%{http_code}' -c "$tmp/$1" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$3\"}" "$hub/api/v1/auth/login"
}
check "the initial admin signs in with the chart's generated password" test "$(login admin.jar admin "$password")" = 200
check "a wrong password: 401" test "$(login wrong.jar admin "not-$password")" = 401
admin_get() { curl -fsS -b "$tmp/admin.jar" "$hub$1"; }
export -f admin_get; export hub tmp
eventually 60 "the hub sees both libraries (the operator's directory)" bash -c \
  "[ \"\$(admin_get /api/v1/libraries | jq -c '[.libraries[] | [.name, .items]]')\" = '[[\"home-videos\",3],[\"home-videos-2\",3]]' ]"
csrf=$(admin_get /api/v1/auth/me | jq -r .csrf)
created=$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/admin.jar" -H "X-CSRF-Token: $csrf" \
  -H 'content-type: application/json' -d '{"name":"ann","password":"ann-password-1","role":"member","libraries":["home-videos"]}' \
  "$hub/api/v1/users")
check "the admin adds ann, granted home-videos ($created)" test "$created" = 201
check "ann signs in" test "$(login ann.jar ann ann-password-1)" = 200
curl -fsS -b "$tmp/ann.jar" "$hub/api/v1/items" >"$tmp/ann-items.json"
check "ann sees home-videos' 3 items and nothing else" test \
  "$(jq -r '[.items[].library] | join(",")' "$tmp/ann-items.json")" = home-videos,home-videos,home-videos
other=$(admin_get /api/v1/items | jq -r '[.items[] | select(.library == "home-videos-2")][0].id')
check "home-videos-2's item $other is 404 for ann" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/ann.jar" "$hub/api/v1/items/$other")" = 404
signed=$(jq -r '.items[] | select(.title == "Clip One") | .hls_url' "$tmp/ann-items.json")
if ffmpeg -v error -i "$hub$signed" -map 0 -f null - 2>"$tmp/hub-decode.log" && [ ! -s "$tmp/hub-decode.log" ]; then
  ok "ann's player plays Clip One through the hub's Service ($signed: no cookie, no header)"
else
  bad "decode through the hub"; head -3 "$tmp/hub-decode.log" | indent
fi

step "a PeerGroup's gateway shares through the hub"
k apply -f - >/dev/null <<'EOF'
apiVersion: manofwar.io/v1alpha1
kind: PeerGroup
metadata: {name: friends, namespace: media}
spec:
  peers:
    - {peerId: 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp, name: alice, libraries: [home-videos]}
  service: {type: ClusterIP}
EOF
eventually 60 "the operator made its hub token" k get secret friends-hub-token -n media
check "its gateway runs with --server <the hub's Service>" bash -c \
  "kubectl get deploy friends-gateway -n media -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q 'http://manofwar-hub.manofwar-system.svc:80'"
gateway_token=$(k get secret friends-hub-token -n media -o jsonpath='{.data.token}' | base64 -d)
eventually 30 "the hub admits the gateway's token and lists it all 6 items (the operator's directory)" bash -c \
  "[ \"\$(curl -fsS -H 'Authorization: Bearer $gateway_token' $hub/api/v1/items | jq '.items | length')\" = 6 ]"
check "the token is no admin's (403 on /api/v1/users)" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $gateway_token" "$hub/api/v1/users")" = 403
eventually 90 "the gateway pod runs" bash -c \
  "kubectl get pods -n media -l manofwar.io/peer-group=friends -o jsonpath='{.items[*].status.phase}' | grep -qx Running"

step "deleting a library garbage-collects its children and stops its pods"
k delete ml home-videos-2 -n media --wait=false >/dev/null
for kind in deployment service secret configmap job pod; do
  eventually 90 "no $kind left" bash -c "[ \"\$(kubectl get $kind -n media -l $sel -o name | wc -l)\" = 0 ]"
done
check "the other library still serves" bash -c "curl -fsS -H '$bearer' http://$svc:8096/hls/$id/master.m3u8"

step "logs"
if grep -h '"level":"ERROR"' "$tmp"/runner/pods/*/operator.log >"$tmp/errors" 2>/dev/null && [ -s "$tmp/errors" ]; then
  bad "operator logged errors"; head -5 "$tmp/errors" | cut -c1-300 | indent
else
  ok "no ERROR in the operator's logs"
fi

#!/usr/bin/env bash
# The front door (`manofwar hub`) over two real library servers (`manofwar serve --private`,
# each transcoding a generated clip), with real accounts:
#   1. a private library server answers nobody without its token (but /healthz);
#   2. the hub lists both libraries' items under ids of its own, and ffmpeg plays an item
#      through the hub's signed URL;
#   3. a member granted one library sees only it: the other's item is 404 by id, and a URL
#      signed for one item does not open another, nor does a modified signature;
#   4. a user's bit-rate limit takes variants out of the master playlist the hub passes on;
#   5. paths that try to leave the package are refused;
#   6. a library server that stops: the other library still lists, the stopped one says why;
#   7. the directory file changes (a library removed): the hub follows without a restart;
#   8. a restarted hub keeps its item ids;
#   and through P2P gateways: our gateway reads what it shares through the hub, and the hub
#   offers a friend's library (their gateway, over libp2p, to ours, to the hub) to its users.
# Prints `N passed, M failed`; exits 1 on a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=e2e/k8s/lib.sh
source "$root/e2e/k8s/lib.sh"
bin=${MANOFWAR_BIN:-$root/target/debug/manofwar}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/manofwar-hub-e2e.XXXXXX")
pids=()
finish() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if ((failed > 0)); then
    for log in "$tmp"/*.log; do echo "  $log"; tail -n 5 "$log" | indent; done
  fi
  rm -rf "$tmp"
  echo
  echo "$passed passed, $failed failed"
  if ((failed > 0 || rc != 0)); then exit 1; fi
}
trap finish EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
clip() { # folder title: 3 s of H.264 + AAC
  mkdir -p "$tmp/$1"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=24:duration=3 -f lavfi -i sine=duration=3 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$tmp/$1/$2.mp4"
}
films_port=$(port) home_port=$(port) hub_port=$(port)
hub=http://127.0.0.1:$hub_port
cat >"$tmp/profile.yaml" <<'EOF'
segmentSeconds: 2
audioBitrateKbps: 64
renditions:
  - {name: 144p, height: 144, videoBitrateKbps: 100}
EOF
serve() { # name port token: two variants (the source's 180p and 144p)
  "$bin" serve --media "$1=$tmp/$1" --data "$tmp/data-$1" --listen "127.0.0.1:$2" --token "$3" \
    --private --workers 1 --profile "$tmp/profile.yaml" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
start_hub() {
  MANOFWAR_INITIAL_ADMIN_PASSWORD=admin-password-1 "$bin" hub --data "$tmp/data-hub" \
    --libraries "$tmp/libraries.json" --listen "127.0.0.1:$hub_port" --initial-admin admin \
    >>"$tmp/hub.log" 2>&1 &
  hub_pid=$!
  pids+=("$hub_pid")
  eventually 20 "the hub answers" curl -fsS "$hub/healthz"
}
gateway_token=gateway-token-0123456789
# Our P2P gateway's HTTP, where the hub reads friends' libraries for its users.
gateway_http_port=$(port) gateway_http_token=gateway-http-token-0123456789
directory() { # name:port:token ... -> the directory file (and our P2P gateway's tokens and HTTP)
  local entries=() n p t
  for lib in "$@"; do
    IFS=: read -r n p t <<<"$lib"
    entries+=("{\"name\":\"$n\",\"url\":\"http://127.0.0.1:$p\",\"token\":\"$t\"}")
  done
  local IFS=,
  echo "{\"libraries\":[${entries[*]}],\"gateways\":[{\"name\":\"friends\",\"token\":\"$gateway_token\",\"libraries\":[\"films\"],\
\"url\":\"http://127.0.0.1:$gateway_http_port\",\"http_token\":\"$gateway_http_token\"}]}" \
    >"$tmp/libraries.json.new"
  mv "$tmp/libraries.json.new" "$tmp/libraries.json"
}
as() { # token path -> body
  curl -fsS -H "Authorization: Bearer $1" "$hub$2"
}
code() { # curl args -> the status code
  curl -s -o /dev/null -w '%{http_code}' "$@"
}

step "two private library servers, one hub"
clip films "Night Train (2020)" && clip home "Beach Day (2021)"
serve films "$films_port" films-token
serve home "$home_port" home-token
directory "films:$films_port:films-token" "home:$home_port:home-token"
start_hub
admin=$("$bin" token create --data "$tmp/data-hub" --user admin --label e2e | tail -n 1)
eventually 120 "both items are transcoded and listed through the hub" bash -c \
  "[ \"\$(curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/items | jq '[.items[] | select(.state == \"ready\")] | length')\" = 2 ]"

step "a private library server answers only with its token"
check "/api/v1/items without the token: 401" test "$(code "http://127.0.0.1:$films_port/api/v1/items")" = 401
check "/hls/1/master.m3u8 without the token: 401" test "$(code "http://127.0.0.1:$films_port/hls/1/master.m3u8")" = 401
check "with a wrong token: 401" test "$(code -H 'Authorization: Bearer nope' "http://127.0.0.1:$films_port/api/v1/items")" = 401
check "/healthz: 200" test "$(code "http://127.0.0.1:$films_port/healthz")" = 200
check "with the token: 200" test "$(code -H 'Authorization: Bearer films-token' "http://127.0.0.1:$films_port/api/v1/items")" = 200

step "every library under one API"
as "$admin" /api/v1/items >"$tmp/items.json"
night=$(jq -r '.items[] | select(.title == "Night Train") | .id' "$tmp/items.json")
beach=$(jq -r '.items[] | select(.title == "Beach Day") | .id' "$tmp/items.json")
check "each item has its library's name" test "$(jq -r '[.items[] | .library] | sort | join(",")' "$tmp/items.json")" = films,home
check "two items, two ids (both servers call theirs 1)" test "$night" != "$beach"
check "libraries: films 1, home 1" test "$(as "$admin" /api/v1/libraries | jq -c '[.libraries[] | [.name, .items]]')" = '[["films",1],["home",1]]'
check "scan now, through the hub to films' server: 202" \
  test "$(code -X POST -H "Authorization: Bearer $admin" "$hub/api/v1/libraries/films/scan")" = 202
check "scan now of a library no server has: 404" \
  test "$(code -X POST -H "Authorization: Bearer $admin" "$hub/api/v1/libraries/nope/scan")" = 404
url=$(as "$admin" "/api/v1/items/$beach" | jq -r .hls_url)
check "the detail's hls_url is signed (/s/…)" grep -q '^/s/' <<<"$url"
if ffmpeg -v error -i "$hub$url" -map 0 -f null - 2>"$tmp/decode.log" && [ ! -s "$tmp/decode.log" ]; then
  ok "ffmpeg plays every variant through the hub's signed URL, no header, no cookie"
else
  bad "decode through the hub"; head -3 "$tmp/decode.log" | indent
fi
check "the poster, through the hub (a JPEG)" bash -c \
  "curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/items/$beach/poster | head -c 3 | od -An -tx1 | grep -q 'ff d8 ff'"

step "a member granted one library"
echo member-password-1 | "$bin" user add ann --data "$tmp/data-hub" --role member --library films >/dev/null
ann=$("$bin" token create --data "$tmp/data-hub" --user ann | tail -n 1)
check "ann lists films only" test "$(as "$ann" /api/v1/items | jq -r '[.items[].library] | join(",")')" = films
check "ann's libraries: films" test "$(as "$ann" /api/v1/libraries | jq -r '[.libraries[].name] | join(",")')" = films
check "ann may not scan films: 403" \
  test "$(code -X POST -H "Authorization: Bearer $ann" "$hub/api/v1/libraries/films/scan")" = 403
check "home's item by id: 404" test "$(code -H "Authorization: Bearer $ann" "$hub/api/v1/items/$beach")" = 404
check "home's master playlist: 404" test "$(code -H "Authorization: Bearer $ann" "$hub/hls/$beach/master.m3u8")" = 404
signed=$(as "$ann" "/api/v1/items/$night" | jq -r .hls_url)
check "ann plays films through her signed URL" bash -c "ffmpeg -v error -i '$hub$signed' -map 0 -f null -"
check "her URL opened on home's item: 403" test "$(code "$hub${signed/\/hls\/$night\//\/hls\/$beach\/}")" = 403
tampered=$(python3 -c 'import sys; s = sys.argv[1]; i = s.index("/hls/") - 1
print(s[:i] + ("B" if s[i] == "A" else "A") + s[i + 1:])' "$signed")
check "a modified signature: 403" test "$(code "$hub$tampered")" = 403
check "no credentials: 401" test "$(code "$hub/api/v1/items")" = 401

post_user() { # JSON -> status code of POST /api/v1/users as the admin
  code -X POST -H "Authorization: Bearer $admin" -H 'content-type: application/json' -d "$1" "$hub/api/v1/users"
}
check "the admin grants bob home through the API (201)" test \
  "$(post_user '{"name":"bob","password":"bob-password-1","role":"guest","libraries":["home"]}')" = 201
check "a grant of a library no server has: 400" test \
  "$(post_user '{"name":"carl","password":"carl-password-1","role":"guest","libraries":["nope"]}')" = 400

step "resume: where each user stopped"
put_position() { # token item body -> status code
  code -X PUT -H "Authorization: Bearer $1" -H 'content-type: application/json' -d "$3" "$hub/api/v1/items/$2/position"
}
check "ann saves 1.5 s into Night Train (204)" test "$(put_position "$ann" "$night" '{"position_s": 1.5}')" = 204
check "her listing offers to resume at 1.5 s" test \
  "$(as "$ann" /api/v1/items | jq -r ".items[] | select(.id == $night) | .resume.position_s")" = 1.5
check "and so does the item's detail" test "$(as "$ann" "/api/v1/items/$night" | jq -r .resume.position_s)" = 1.5
check "the admin's listing has no position of hers" test \
  "$(as "$admin" /api/v1/items | jq -r ".items[] | select(.id == $night) | .resume")" = null
check "a position in an item she may not see: 404" test "$(put_position "$ann" "$beach" '{"position_s": 1}')" = 404
check "a negative position: 400" test "$(put_position "$ann" "$night" '{"position_s": -1}')" = 400
check "not a number: 422" test "$(put_position "$ann" "$night" '{"position_s": "x"}')" = 422

step "manofwar download: one rendition as an MP4, through the hub"
"$bin" download --server "$hub" --token "$admin" "$beach" --rendition 144p -o "$tmp/beach.mp4" 2>"$tmp/download.log"
probe=$(ffprobe -v error -show_entries stream=codec_type,height -of csv=p=0 "$tmp/beach.mp4" 2>&1 | sort | tr '\n' ' ')
check "the MP4 has the 144p video and the audio ($probe)" test "$probe" = "audio video,144 "
length=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$tmp/beach.mp4" 2>/dev/null)
check "and the item's 3 s (got $length)" python3 -c "import sys; sys.exit(abs(float('${length:-0}') - 3) > 0.3)"
"$bin" download --server "$hub" --token "$admin" "$beach" --rendition 4k -o "$tmp/none.mp4" 2>"$tmp/download.log"
check "a rendition it does not have: the error lists those it has, no file" bash -c \
  "grep -q 'it has: .*144p' $tmp/download.log && ! ls $tmp/none*"
"$bin" download --server "$hub" --token "$ann" "$beach" -o "$tmp/none.mp4" 2>"$tmp/download.log"
check "an item of a library not granted: says so, no file" bash -c "grep -q 'not yours to see' $tmp/download.log && ! ls $tmp/none*"

step "sharing with a friend: our P2P gateway reads the libraries through the hub"
check "the gateway's token lists the items of the library it shares (films), not home's" test \
  "$(as "$gateway_token" /api/v1/items | jq -r '[.items[].library] | unique | join(",")')" = films
check "and is no admin (403 on /api/v1/users)" test "$(code -H "Authorization: Bearer $gateway_token" "$hub/api/v1/users")" = 403
check "nor an account: it cannot make itself an API token (403)" test "$(code -X POST -H "Authorization: Bearer $gateway_token" \
  -H 'content-type: application/json' -d '{"label":"x"}' "$hub/api/v1/tokens")" = 403
ours=$("$bin" identity --key "$tmp/ours.key" | head -n 1)
friend=$("$bin" identity --key "$tmp/friend.key" | head -n 1)
printf -- '- {peerId: %s, name: friend, libraries: [films]}\n' "$friend" >"$tmp/our-peers.yaml"
printf -- '- {peerId: %s, name: us, libraries: ["*"]}\n' "$ours" >"$tmp/friend-peers.yaml"
p2p_port=$(port) friend_http=$(port)
"$bin" gateway --identity "$tmp/ours.key" --peers "$tmp/our-peers.yaml" --no-lan \
  --listen "/ip4/127.0.0.1/tcp/$p2p_port" --server "$hub" --token "$gateway_token" \
  --http "127.0.0.1:$gateway_http_port" --http-token "$gateway_http_token" >"$tmp/our-gateway.log" 2>&1 &
pids+=($!)
# The friend shares a library of theirs with us: home's server stands in for it.
"$bin" gateway --identity "$tmp/friend.key" --peers "$tmp/friend-peers.yaml" --no-lan \
  --listen /ip4/127.0.0.1/tcp/0 --peer-address "/ip4/127.0.0.1/tcp/$p2p_port/p2p/$ours" \
  --server "http://127.0.0.1:$home_port" --token home-token \
  --http "127.0.0.1:$friend_http" >"$tmp/friend-gateway.log" 2>&1 &
pids+=($!)
friend_api=http://127.0.0.1:$friend_http
eventually 30 "the friend sees our films, and only them, over libp2p" bash -c \
  "[ \"\$(curl -fsS $friend_api/api/v1/peers/$ours/items | jq -r '[.items[].library] | join(\",\")')\" = films ]"
shared=$(curl -fsS "$friend_api/api/v1/peers/$ours/items" | jq -r '.items[0].hls_url')
if ffmpeg -v error -i "$friend_api$shared" -map 0 -f null - 2>"$tmp/p2p-decode.log" && [ ! -s "$tmp/p2p-decode.log" ]; then
  ok "the friend's ffmpeg plays it ($shared): hub -> our gateway -> libp2p -> theirs"
else
  bad "decode at the friend's gateway"; head -3 "$tmp/p2p-decode.log" | indent
fi

step "the friend's library, through our hub (hub -> our gateway's HTTP -> libp2p -> theirs)"
check "the libraries' answer says friends share with the admin" test "$(as "$admin" /api/v1/libraries | jq .friends)" = true
check "but not with ann (no @friends grant)" test "$(as "$ann" /api/v1/libraries | jq .friends)" = false
check "ann's /api/v1/peers: 404" test "$(code -H "Authorization: Bearer $ann" "$hub/api/v1/peers")" = 404
eventually 30 "the hub lists the friend, connected" bash -c \
  "curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/peers | jq -e '.peers[] | select(.peerId == \"$friend\" and .connected)' >/dev/null"
check "and our gateway's identity (GET /api/v1/p2p)" test "$(as "$admin" /api/v1/p2p | jq -r .peerId)" = "$ours"
eventually 30 "the hub lists the friend's items (home's Beach Day)" bash -c \
  "[ \"\$(curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/peers/$friend/items | jq -r '[.items[].title] | join(\",\")')\" = 'Beach Day' ]"
theirs=$(as "$admin" "/api/v1/peers/$friend/items" | jq -r '.items[0].hls_url')
if ffmpeg -v error -headers "Authorization: Bearer $admin"$'\r\n' -i "$hub$theirs" -map 0 -f null - 2>"$tmp/friend-decode.log" &&
  [ ! -s "$tmp/friend-decode.log" ]; then
  ok "ffmpeg plays the friend's item through the hub ($theirs)"
else
  bad "decode of the friend's item through the hub"; head -3 "$tmp/friend-decode.log" | indent
fi
check "the friend's media without credentials: 401" test "$(code "$hub$theirs")" = 401
check "and for ann: 404" test "$(code -H "Authorization: Bearer $ann" "$hub$theirs")" = 404
check "a path that climbs out of the friend's package: 404" test \
  "$(code -H "Authorization: Bearer $admin" "$hub${theirs%/master.m3u8}/..%2F..%2Fapi%2Fv1%2Fp2p")" = 404
check "ann may not add a friend: 403" test "$(code -X POST -H "Authorization: Bearer $ann" \
  -H 'content-type: application/json' -d '{"code":"x","name":"x"}' "$hub/api/v1/peers")" = 403

step "a bit-rate limit"
curl -fsS -X PATCH -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"max_kbps": 400}' "$hub/api/v1/users/ann" >/dev/null
variants() { curl -fsS "$hub$1" | grep '^#EXT-X-STREAM-INF' | grep -o ',RESOLUTION=[0-9x]*' | tr '\n' ' '; }
check "the master ann gets through the hub offers only the variant under 400 kb/s ($(variants "$signed"))" \
  test "$(variants "$signed")" = ",RESOLUTION=256x144 "
check "the admin's offers both ($(variants "$url"))" test "$(variants "$url" | wc -w)" = 2

step "paths that try to leave the package"
for bad_path in "hls/$night/..%2F..%2Fcatalog.sqlite" "hls/$night/%2e%2e/x" "hls/$night/.hidden" "hls/$night/a%5Cb"; do
  check "/$bad_path: 404" test "$(code -H "Authorization: Bearer $admin" "$hub/$bad_path")" = 404
done

step "a library server stops"
kill "${pids[1]}" && wait "${pids[1]}" 2>/dev/null
check "films still lists" test "$(as "$admin" /api/v1/items | jq -r '[.items[].library] | join(",")')" = films
check "libraries says why home has nothing" bash -c \
  "curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/libraries | jq -r '.libraries[] | select(.name == \"home\") | .error' | grep -q unreachable"
check "home's item: 502 with what to check" bash -c \
  "curl -sS -H 'Authorization: Bearer $admin' $hub/api/v1/items/$beach | jq -r .error | grep -q 'is its pod running'"

step "the directory changes"
directory "films:$films_port:films-token"
eventually 10 "home is gone from the libraries" bash -c \
  "[ \"\$(curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/libraries | jq -r '[.libraries[].name] | join(\",\")')\" = films ]"
echo '{"libraries": [' >"$tmp/libraries.json"
sleep 3
check "a directory that does not parse keeps the libraries" test "$(as "$admin" /api/v1/libraries | jq -r '[.libraries[].name] | join(",")')" = films
check "the hub said so in its log" grep -q 'does not parse' "$tmp/hub.log"

step "admins see what the operator says of each library"
directory "films:$films_port:films-token"
stalled='{"ready":false,"stalled":true,"reason":"ProfileNotFound","message":"TranscodeProfile \"x\" not found in namespace \"media\": create it or remove it from spec.profiles"}'
jq --argjson s "$stalled" '.libraries[0].state = $s' "$tmp/libraries.json" >"$tmp/libraries.json.new"
mv "$tmp/libraries.json.new" "$tmp/libraries.json"
eventually 10 "the admin's libraries: films stalled, with what to change" bash -c \
  "curl -fsS -H 'Authorization: Bearer $admin' $hub/api/v1/libraries | jq -e '.libraries[0].state | .reason == \"ProfileNotFound\" and .stalled and (.message | contains(\"spec.profiles\"))'"
check "ann's libraries: films, without the operator's words" test \
  "$(as "$ann" /api/v1/libraries | jq -c '[.libraries[] | [.name, .state]]')" = '[["films",null]]'

step "a restarted hub keeps its ids"
directory "films:$films_port:films-token"
kill "$hub_pid" && wait "$hub_pid" 2>/dev/null
start_hub
check "Night Train keeps id $night" test "$(as "$admin" /api/v1/items | jq -r '.items[] | select(.title == "Night Train") | .id')" = "$night"

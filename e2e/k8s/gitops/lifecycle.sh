# shellcheck shell=bash disable=SC2154  # failed comes from e2e/k8s/lib.sh
# gitops_lifecycle NAMESPACE: the GitOps unit of examples/flux, applied as Flux's
# kustomize-controller applies it, judged by kstatus (what Flux's `wait: true` health checks
# run) and by examples/argocd/health.lua under gopher-lua (what Argo CD runs), through a
# MediaLibrary's lifecycle. Sourced by e2e/k8s/cluster_test.sh; uses e2e/k8s/lib.sh's ok, bad,
# eventually, indent and k, and the KUBECONFIG of a live cluster with the real operator running.
#
#   1. finds the unit: `kubectl kustomize examples/flux` fails (examples/flux holds a GitRepository
#      and two Flux Kustomizations, no kustomization.yaml), so the Flux Kustomizations' spec.path
#      are followed and the one whose build holds a MediaLibrary is taken: ./examples
#      (manofwar-media; the other, ./examples/flux/operator, is a Flux HelmRelease of the chart,
#      which the caller installs itself);
#   2. builds it through an overlay that does what a Flux Kustomization's targetNamespace and
#      patches would do for this cluster (below), and applies it with
#      `kubectl apply --server-side --force-conflicts --field-manager=kustomize-controller`
#      (Flux's field manager, and it forces conflicts too);
#   3. MediaLibrary home-videos (GITOPS_LIBRARY): applied -> kstatus=InProgress argo=Progressing
#      first, then kstatus=Current argo=Healthy; edited (re-applied with a profile that does not
#      exist added to spec.profiles) -> kstatus=Failed argo=Degraded (Stalled, ProfileNotFound);
#      fixed (the unit re-applied) -> Current/Healthy; deleted -> kstatus=NotFound argo=Missing.
#      A judge watching from before the apply records every state it saw (printed, indented):
#      kstatus says Current while the status is still empty (it has no conditions yet), Argo CD
#      Progressing;
#   4. prints what both say about every manofwar object of the unit once the library is Healthy
#      (information only), then deletes the unit (its namespace) and waits for it to go.
#
# What it assumes (examples/ as they are cannot all become Ready on a test cluster):
#   - NAMESPACE is the unit's own (kustomize `namespace:`, Flux's targetNamespace): it must not
#     exist yet or must allow hostPath volumes (no Pod Security `baseline`/`restricted` label:
#     the example library reads its media from a hostPath), and must not be `media`, where the
#     caller's own home-videos and friends live. The unit creates it (renamed examples/namespace.yaml)
#     and this function deletes it at the end.
#   - home-videos (examples/libraries/home-videos-hostpath.yaml) is the library judged. Patched:
#     spec.media.hostPath.path -> a new empty directory made here (world-readable, under
#     ${TMPDIR:-/tmp}; the node is this machine), spec.server.nodeSelector's
#     kubernetes.io/hostname nas-node -> $MANOFWAR_NODE (else the first Node). Empty media means
#     no items, so no transcoder Job: the hevc-4k profile's workers need a GPU node
#     (nvidia.com/gpu.present) that a test cluster lacks, and a library with items waiting for
#     them would stay Progressing (Transcoding). Its data PVC home-videos-data (20Gi RWO, no
#     class, in the unit) must be bound by a provisioner: e2e/k8s/node.sh's binds any pending
#     claim to a hostPath PV.
#   - the product image is in the node's containerd (the operator's server Deployment uses it);
#     the operator watches all namespaces (the chart's default).
#   - the rest of the unit is applied unchanged and not waited for: movies (NFS from
#     nas.home.arpa, a longhorn PVC, an nginx Ingress) never becomes Ready here, and friends
#     (PeerGroup, coordinators at coord.example.org) may not. Flux's manofwar-media Kustomization
#     (`wait: true`) would wait for all of them: on a cluster without that NAS it times out.
# Knobs: GITOPS_LIBRARY (home-videos), GITOPS_TIMEOUT (seconds for each state, 240),
# GITOPS_MISSING_PROFILE (no-such-profile). Returns 1 when a check failed.

_gitops_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_gitops_root=$(cd "$_gitops_here/../../.." && pwd)

# _gitops_flux_paths FILE...: spec.path of every Flux Kustomization in the files.
_gitops_flux_paths() {
  awk '
    function flush() { if (flux && path != "") print path; flux = 0; path = "" }
    /^---/ { flush(); next }
    /^apiVersion: kustomize\.toolkit\.fluxcd\.io\// { flux = 1 }
    /^  path:/ { sub(/^  path: */, ""); sub(/ *#.*$/, ""); path = $0 }
    END { flush() }' "$@"
}

# _gitops_unit: the directory of the kustomization with our resources that examples/flux names.
_gitops_unit() {
  local flux=$_gitops_root/examples/flux built path dir
  local -a paths
  if built=$(kubectl kustomize "$flux" 2>/dev/null); then
    if grep -q '^kind: MediaLibrary$' <<<"$built"; then
      echo "$flux"
      return 0
    fi
    mapfile -t paths < <(_gitops_flux_paths <(printf '%s\n' "$built"))
  else
    mapfile -t paths < <(_gitops_flux_paths "$flux"/*.yaml)
  fi
  for path in "${paths[@]}"; do
    # spec.path is relative to the GitRepository's root: this repository.
    dir=$_gitops_root/${path#./}
    if kubectl kustomize "$dir" 2>/dev/null | grep -q '^kind: MediaLibrary$'; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# _gitops_overlay DIR UNIT NAMESPACE MEDIA NODE [EXTRA-PROFILE]: the unit as this cluster's Flux
# Kustomization would deliver it (targetNamespace + patches).
_gitops_overlay() {
  local dir=$1 unit=$2 ns=$3 media=$4 node=$5 extra=${6:-} lib=${GITOPS_LIBRARY:-home-videos}
  mkdir -p "$dir"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "namespace: $ns"
    echo "resources: [$(realpath --relative-to="$dir" "$unit")]"
    echo "patches:"
    echo "  - target: {group: manofwar.io, kind: MediaLibrary, name: $lib}"
    echo "    patch: |-"
    echo "      - {op: replace, path: /spec/media/hostPath/path, value: \"$media\"}"
    echo "      - {op: replace, path: /spec/server/nodeSelector/kubernetes.io~1hostname, value: \"$node\"}"
    if [ -n "$extra" ]; then
      echo "      - {op: add, path: /spec/profiles/-, value: \"$extra\"}"
    fi
  } >"$dir/kustomization.yaml"
}

# _gitops_states FILE: the kstatus/argo pairs a judge saw (its stderr), in order, on one line.
_gitops_states() {
  sed -n 's/^gitops-judge: +[0-9.]*s \(kstatus=[A-Za-z]* argo=[A-Za-z]*\).*/\1/p' "$1" |
    sed 's/kstatus=//; s/ argo=/\//' | uniq | paste -sd' ' | sed 's/ / -> /g'
}

# _gitops_gone NAMESPACE: true once the namespace is gone.
_gitops_gone() { ! kubectl get namespace "$1" >/dev/null 2>&1; }

gitops_lifecycle() {
  local ns=${1:-}
  if [ -z "$ns" ]; then
    bad "gitops_lifecycle: usage: gitops_lifecycle NAMESPACE"
    return 1
  fi
  local before=$failed lib=${GITOPS_LIBRARY:-home-videos} timeout=${GITOPS_TIMEOUT:-240}
  local missing=${GITOPS_MISSING_PROFILE:-no-such-profile}
  local lua=$_gitops_root/examples/argocd/health.lua
  local work judge unit node pid line states
  work=$(mktemp -d "${TMPDIR:-/tmp}/gitops-lifecycle.XXXXXX") || { bad "mktemp"; return 1; }
  chmod 755 "$work"
  mkdir -m 755 "$work/media"

  if ! judge=$("$_gitops_here/build.sh" 2>"$work/build.log"); then
    indent <"$work/build.log"
    bad "build gitops-judge (e2e/k8s/gitops/build.sh)"
    rm -rf "$work"
    return 1
  fi
  # _j PREFIX NAME: judge the library until the line starts with PREFIX; stdout in NAME.out,
  # every state seen in NAME.err.
  _j() {
    "$judge" --kubeconfig "${KUBECONFIG:-$HOME/.kube/config}" --health-lua "$lua" \
      --wait-for "$1" --timeout "${timeout}s" MediaLibrary "$ns" "$lib" >"$work/$2.out" 2>"$work/$2.err"
  }

  if ! unit=$(_gitops_unit); then
    bad "no kustomization with a MediaLibrary behind examples/flux's Flux Kustomizations"
    rm -rf "$work"
    return 1
  fi
  node=${MANOFWAR_NODE:-$(k get nodes -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)}
  _gitops_overlay "$work/good" "$unit" "$ns" "$work/media" "$node"
  _gitops_overlay "$work/bad" "$unit" "$ns" "$work/media" "$node" "$missing"
  if ! kubectl kustomize "$work/good" >"$work/unit.yaml" 2>"$work/kustomize.log" ||
    ! kubectl kustomize "$work/bad" >"$work/unit-bad.yaml" 2>>"$work/kustomize.log"; then
    indent <"$work/kustomize.log"
    bad "kubectl kustomize of ${unit#"$_gitops_root"/} (namespace $ns, $lib patched for node $node)"
    rm -rf "$work"
    return 1
  fi
  ok "examples/flux -> Flux Kustomization path ${unit#"$_gitops_root"/}: $(grep -c '^kind:' "$work/unit.yaml") objects built into namespace $ns"

  # Applied: watched from before the apply, so that every state is seen.
  _j 'kstatus=Current argo=Healthy' ready &
  pid=$!
  sleep 1
  if ! k apply --server-side --force-conflicts --field-manager=kustomize-controller \
    -f "$work/unit.yaml" >"$work/apply.log" 2>&1; then
    indent <"$work/apply.log"
    bad "kubectl apply --server-side of the unit"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$work"
    return 1
  fi
  ok "unit applied server-side ($(wc -l <"$work/apply.log") objects)"
  if wait "$pid"; then
    ok "applied: $lib $(cat "$work/ready.out")"
  else
    bad "applied: $lib not kstatus=Current argo=Healthy in ${timeout}s: $(cat "$work/ready.out")"
  fi
  states=$(_gitops_states "$work/ready.err")
  # InProgress/Progressing must come before the last state, Current/Healthy.
  if [[ "$states" == *"InProgress/Progressing -> "*"Current/Healthy" ]]; then
    ok "InProgress/Progressing first, then Current/Healthy: $states"
  else
    bad "states after the apply: '$states', want InProgress/Progressing before Current/Healthy"
  fi
  indent <"$work/ready.err"
  echo "     what kstatus and health.lua say about the unit's other objects (not waited for):"
  while read -r kind name; do
    [ -n "$name" ] || continue
    line=$("$judge" --kubeconfig "${KUBECONFIG:-$HOME/.kube/config}" --health-lua "$lua" "$kind" "$ns" "$name" 2>&1)
    echo "$kind/$name: $line"
  done < <(k get -f "$work/unit.yaml" -o jsonpath='{range .items[?(@.apiVersion=="manofwar.io/v1alpha1")]}{.kind} {.metadata.name}{"\n"}{end}' 2>/dev/null) | indent

  # _reapply FILE WANT NAME WHAT [PATTERN]: FILE applied again (as Flux does after a commit) while
  # a judge waits for WANT; passes when it came and its line has PATTERN.
  _reapply() {
    local file=$1 want=$2 name=$3 what=$4 pid
    _j "$want" "$name" &
    pid=$!
    if ! k apply --server-side --force-conflicts --field-manager=kustomize-controller \
      -f "$file" >/dev/null 2>"$work/apply.log"; then
      kill "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      bad "re-apply ($what)"
      indent <"$work/apply.log"
    elif wait "$pid" && grep -q "${5:-}" "$work/$name.out"; then
      ok "$what: $(cat "$work/$name.out") ($(_gitops_states "$work/$name.err"))"
    else
      bad "$what: not $want${5:+ naming it} in ${timeout}s: $(cat "$work/$name.out")"
      indent <"$work/$name.err"
    fi
  }
  # Edited: the unit re-applied with a profile that does not exist. Fixed: the unit as it is.
  _reapply "$work/unit-bad.yaml" 'kstatus=Failed argo=Degraded' stalled \
    "spec.profiles names $missing" "\"$missing\" not found"
  _reapply "$work/unit.yaml" 'kstatus=Current argo=Healthy' fixed fixed

  # Deleted.
  _j 'kstatus=NotFound argo=Missing' deleted &
  pid=$!
  k delete medialibrary "$lib" -n "$ns" --wait=false >/dev/null 2>&1
  if wait "$pid"; then
    ok "deleted: $(cat "$work/deleted.out") ($(_gitops_states "$work/deleted.err"))"
  else
    bad "deleted: not NotFound/Missing in ${timeout}s: $(cat "$work/deleted.out")"
  fi

  # The rest of the unit goes with its namespace.
  k delete -f "$work/unit.yaml" --ignore-not-found --wait=false >/dev/null 2>&1
  eventually 180 "the unit's namespace $ns deleted" _gitops_gone "$ns"
  rm -rf "$work"
  unset -f _j _reapply
  ((failed == before))
}

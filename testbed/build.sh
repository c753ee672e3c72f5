#!/usr/bin/env bash
# Build the test bed binaries (kube-apiserver, kube-controller-manager, kubectl, etcd, and
# testbed-kubelet, the kubelet's port-forward endpoint) from the Go tools module in
# testbed/tools/kube, into one cache directory:
#
#   ${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/testbed/k8s-v1.36.3/bin
#
# Idempotent: a binary that already exists is not rebuilt (delete it to force a rebuild).
# Fast path: if KUBEBUILDER_ASSETS points at a directory holding etcd, kube-apiserver and kubectl,
# those are symlinked instead of built (kube-controller-manager is still built).
# Also copies Istio's CRDs (istio.io/api v1.31.1) next to the binaries.
set -euo pipefail

K8S_VERSION=v1.36.3
K8S_MINOR=36
ISTIO_API_VERSION=v1.31.1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODDIR="$HERE/tools/kube"
CACHE_ROOT="${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/testbed"
BIN="$CACHE_ROOT/k8s-$K8S_VERSION/bin"
CRDS="$CACHE_ROOT/istio-api-$ISTIO_API_VERSION/customresourcedefinitions.gen.yaml"

export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
log() { echo "[testbed build] $*" >&2; }

T0=$(now)

# --- fast path: envtest assets -------------------------------------------------------------
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if [ -x "$KUBEBUILDER_ASSETS/etcd" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/kubectl" ]; then
    for b in etcd kube-apiserver kubectl; do
      if [ ! -e "$BIN/$b" ]; then
        ln -sfn "$KUBEBUILDER_ASSETS/$b" "$BIN/$b"
        log "using $KUBEBUILDER_ASSETS/$b"
      fi
    done
  else
    log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks etcd/kube-apiserver/kubectl; building instead"
  fi
fi

# --- kube-apiserver, kube-controller-manager, kubectl --------------------------------------
LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF="$LDF -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR"
  LDF="$LDF -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
done

pkgs=()
for b in kube-apiserver kube-controller-manager kubectl; do
  if [ ! -e "$BIN/$b" ]; then
    rm -f "$BIN/$b" # a dangling symlink
    pkgs+=("k8s.io/kubernetes/cmd/$b")
  fi
done
if [ ${#pkgs[@]} -gt 0 ]; then
  T=$(now)
  log "building ${pkgs[*]##*/} (a cold build takes tens of minutes on 2 cores)"
  (cd "$MODDIR" && go build -trimpath -ldflags "$LDF" -o "$BIN/" "${pkgs[@]}")
  log "built ${pkgs[*]##*/} in $(elapsed "$T")"
fi

# --- etcd (version pinned by the tools module: go.etcd.io/etcd/server/v3 v3.6.8) -----------
if [ ! -e "$BIN/etcd" ]; then
  rm -f "$BIN/etcd"
  T=$(now)
  log "building etcd"
  (cd "$MODDIR" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  log "built etcd in $(elapsed "$T")"
fi

# --- testbed-kubelet: the kubelet's port-forward endpoint (testbed/tools/kube/kubelet) ------
if [ ! -e "$BIN/testbed-kubelet" ]; then
  T=$(now)
  log "building testbed-kubelet"
  (cd "$MODDIR" && go build -trimpath -ldflags "-s -w" -o "$BIN/testbed-kubelet" ./kubelet)
  log "built testbed-kubelet in $(elapsed "$T")"
fi

# --- Istio CRDs -----------------------------------------------------------------------------
if [ ! -s "$CRDS" ]; then
  dir=$(cd / && GOFLAGS= go mod download -json "istio.io/api@$ISTIO_API_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$dir" ] || [ ! -s "$dir/kubernetes/customresourcedefinitions.gen.yaml" ]; then
    log "could not locate istio.io/api@$ISTIO_API_VERSION in the module cache"
    exit 1
  fi
  mkdir -p "$(dirname "$CRDS")"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$CRDS.tmp"
  chmod 0644 "$CRDS.tmp"
  mv "$CRDS.tmp" "$CRDS"
  log "copied Istio CRDs from $dir"
fi

for b in etcd kube-apiserver kube-controller-manager kubectl testbed-kubelet; do
  [ -x "$BIN/$b" ] || { log "missing $BIN/$b"; exit 1; }
done
log "binaries ready in $BIN ($(elapsed "$T0"))"

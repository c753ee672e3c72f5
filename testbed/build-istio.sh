#!/usr/bin/env bash
# Build Istio's control plane (pilot-discovery = istiod) and CLI (istioctl) from the Go tools module
# in testbed/tools/istio, and the test bed's xDS probe (testbed/tools/istio/cmd/xds-probe: Istio's
# ADS client posing as a proxy; same module, so same pins and the same build cache), into one cache
# directory:
#
#   ${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/testbed/istio-<ISTIO_VERSION>/bin
#
# Idempotent: a binary that already exists is not rebuilt (delete it to force a rebuild); the bed's
# own tools (xds-probe, testbed-dns, ztunnel-probe) are rebuilt when their sources changed
# (<tool>.src-sha256 next to each).
# Prints the bin directory on stdout when done.
#
# Which Istio: istio/istio has no v-prefixed tags, so Go only knows it by pseudo-version, and the
# module proxy reachable here refuses tag queries (`istio.io/istio@1.31.1` -> 403). The pinned
# commit is the newest the proxy serves, on the 1.31 line (VERSION file "1.31", istio.io/api
# pinned at the v1.31.0 tag commit). The tools module raises istio.io/api and istio.io/client-go to
# v1.31.1 (the CRDs the test bed installs; manifests/charts/base/files/crd-all.gen.yaml of the
# pinned commit is byte-identical to istio.io/api v1.31.1's CRDs), and the envoy go-control-plane
# modules to versions the proxy serves. See docs/istio-testbed.md.
set -euo pipefail

ISTIO_COMMIT=eed52ebb66ad
ISTIO_VERSION=1.31-$ISTIO_COMMIT # not a release tag: the 1.31 line at this commit

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODDIR="$HERE/tools/istio"
CACHE_ROOT="${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/testbed"
BIN="$CACHE_ROOT/istio-$ISTIO_VERSION/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
log() { echo "[testbed build-istio] $*" >&2; }

mkdir -p "$BIN"
T0=$(now)

LDF="-s -w"
LDF="$LDF -X istio.io/istio/pkg/version.buildVersion=$ISTIO_VERSION"
LDF="$LDF -X istio.io/istio/pkg/version.buildGitRevision=$ISTIO_COMMIT"
LDF="$LDF -X istio.io/istio/pkg/version.buildTag=$ISTIO_VERSION"
LDF="$LDF -X istio.io/istio/pkg/version.buildStatus=Clean"
# what release builds stamp: istioctl then renders images docker.io/istio/*:$ISTIO_VERSION, not :latest
# (binaries built before this line lacked it; testbed/istio-install.ts passes hub/tag explicitly)
LDF="$LDF -X istio.io/istio/pkg/version.buildHub=docker.io/istio"

pkgs=()
[ -e "$BIN/pilot-discovery" ] || pkgs+=(istio.io/istio/pilot/cmd/pilot-discovery)
[ -e "$BIN/istioctl" ] || pkgs+=(istio.io/istio/istioctl/cmd/istioctl)

if [ ${#pkgs[@]} -gt 0 ]; then
  T=$(now)
  log "building ${pkgs[*]##*/} $ISTIO_VERSION (a cold build takes tens of minutes on 2 cores)"
  # Upstream's STANDARD_TAGS (Makefile.core.mk): vtprotobuf, disable_pgv.
  (cd "$MODDIR" && go build -trimpath -tags vtprotobuf,disable_pgv -ldflags "$LDF" -o "$BIN/" "${pkgs[@]}")
  log "built ${pkgs[*]##*/} in $(elapsed "$T")"
fi

# build_tool NAME TAGS [DIR...]: build ./cmd/NAME (a tool of the module) into $BIN/NAME with these build
# tags, when it is missing or its sources changed: the sha256 of go.mod, go.sum, cmd/NAME/*.go and
# the module's own packages it imports (DIR/*.go, e.g. internal/probe) differs from NAME.src-sha256
# beside it.
build_tool() {
  local name=$1 tags=$2 sum T dir
  shift 2
  local srcs=("$MODDIR/go.mod" "$MODDIR/go.sum" "$MODDIR/cmd/$name"/*.go)
  for dir in "$@"; do srcs+=("$MODDIR/$dir"/*.go); done
  sum=$(cat "${srcs[@]}" | sha256sum | cut -d' ' -f1)
  if [ -e "$BIN/$name" ] && [ "$(cat "$BIN/$name.src-sha256" 2>/dev/null)" = "$sum" ]; then
    return
  fi
  T=$(now)
  log "building $name"
  (cd "$MODDIR" && go build -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w" -o "$BIN/$name" "./cmd/$name")
  echo "$sum" > "$BIN/$name.src-sha256"
  log "built $name in $(elapsed "$T")"
}

# The xDS probe reuses every compiled package of pilot-discovery (same flags and tags): seconds when
# those are in Go's build cache. It shares its command line and proxy description with the ztunnel
# probe (internal/probe).
build_tool xds-probe vtprotobuf,disable_pgv internal/probe

# The bed's DNS server for load-balancer hostnames (github.com/miekg/dns, already in the module graph).
build_tool testbed-dns ""

# The ztunnel probe (testbed/tools/istio/cmd/ztunnel-probe: Istio's delta ADS client posing as a
# ztunnel, istio.workload.Address), the same way.
build_tool ztunnel-probe vtprotobuf,disable_pgv internal/probe

for b in pilot-discovery istioctl xds-probe testbed-dns ztunnel-probe; do
  [ -x "$BIN/$b" ] || { log "missing $BIN/$b"; exit 1; }
done
log "Istio binaries ready in $BIN ($(elapsed "$T0"))"
echo "$BIN"

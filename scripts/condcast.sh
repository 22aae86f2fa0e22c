#!/usr/bin/env bash
# bin/condcast: runs the TypeScript CLI with a Node >= 22 (see scripts/ensure-node.sh).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
exec "$("$root/scripts/ensure-node.sh")/node" "$root/ts/dist/cli/main.js" "$@"

#!/usr/bin/env bash
# Prints the path of the Versity S3 gateway binary, building it from the Go module proxy into
# .tools/bin the first time (docs/DEPLOYMENT.md says why this S3 server). Needs Go (GOTOOLCHAIN may
# name a newer one when the local Go is too old).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION=v1.8.0
BIN="$ROOT/.tools/bin/versitygw"
STAMP="$ROOT/.tools/bin/versitygw.$VERSION"
if [ ! -x "$BIN" ] || [ ! -f "$STAMP" ]; then
  command -v go >/dev/null || PATH="/usr/local/go/bin:$PATH"
  mkdir -p "$ROOT/.tools/bin"
  echo "ensure-versitygw: building github.com/versity/versitygw $VERSION (go install)" >&2
  GOBIN="$ROOT/.tools/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
  touch "$STAMP"
fi
echo "$BIN"

#!/usr/bin/env bash
# Keeps spec/ honest: buf lint, buf breaking against the previous version on main, generated
# TypeScript code and golden vectors in step with their sources.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "spec-check: buf lint"
buf lint spec

# The previous version: HEAD when the working tree changes spec/proto, else HEAD's parent.
base=HEAD
if git diff --quiet HEAD -- spec/proto 2>/dev/null; then base=HEAD~1; fi
if git rev-parse --verify --quiet "$base^{commit}" >/dev/null && git cat-file -e "$base:spec/proto" 2>/dev/null; then
  echo "spec-check: buf breaking against $base ($(git rev-parse --short "$base"))"
  buf breaking spec --against ".git#ref=$(git rev-parse "$base"),subdir=spec"
else
  echo "spec-check: buf breaking skipped: no earlier version of spec/proto in this history"
fi

echo "spec-check: generated TypeScript matches spec/proto"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd ts && buf generate ../spec --template buf.gen.yaml -o "$tmp")
diff -r "$tmp/src/gen" ts/src/gen || { echo "spec-check: ts/src/gen drifted from spec/proto: run 'make generate'" >&2; exit 1; }

echo "spec-check: the compiled WebAssembly kernel matches its source"
(cd ts && node scripts/compile-wat.mjs "$tmp/gf256-simd.gen.ts")
diff "$tmp/gf256-simd.gen.ts" ts/src/fec/gf256-simd.gen.ts || { echo "spec-check: ts/src/fec/gf256-simd.gen.ts drifted from gf256-simd.wat: run 'make generate'" >&2; exit 1; }

echo "spec-check: vectors match their generator"
node ts/dist/vectors/write-vectors.js spec/vectors --check || { echo "spec-check: run 'make vectors' and review the diff" >&2; exit 1; }

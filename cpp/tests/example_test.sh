#!/usr/bin/env bash
# The installed package works from another project: cmake --install into a temporary prefix, then
# configure, build and run examples/consumer against it with find_package(condcast).
# usage: example_test.sh <build dir> <examples/consumer dir> <port base> <c++ compiler> [sanitizers]
set -euo pipefail
BUILD=$1
EXAMPLE=$2
PORT=$(($3 + 300))
CXX=$4
SANITIZE=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/condcast/condcast.hpp" || { echo "FAIL: headers not installed" >&2; exit 1; }
test -f "$tmp/prefix/lib/cmake/condcast/condcastConfig.cmake" || { echo "FAIL: package not installed" >&2; exit 1; }
test -x "$tmp/prefix/bin/condcast-send" || { echo "FAIL: tools not installed" >&2; exit 1; }
flags=()
if [[ -n $SANITIZE ]]; then
  flags=(-DCMAKE_CXX_FLAGS="-fsanitize=$SANITIZE" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$SANITIZE")
fi
cmake -S "$EXAMPLE" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_COMPILER="$CXX" "${flags[@]}" \
  > "$tmp/configure.log" || { cat "$tmp/configure.log" >&2; exit 1; }
cmake --build "$tmp/build" > "$tmp/build.log" || { cat "$tmp/build.log" >&2; exit 1; }
line=$("$tmp/build/consumer" "$PORT")
echo "$line"
[[ $line == '{"id":"'*'"path":"Example/Consumer/Calib","size":200000,'*'"metadata":{"runNumber":"523897"}}' ]] || {
  echo "FAIL: unexpected line" >&2
  exit 1
}
echo "installed package: ok"

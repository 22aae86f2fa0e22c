#!/usr/bin/env bash
# Prints the path of the Aeron fat jar (io.aeron:aeron-all, pinned below), copied from Maven Central by
# Maven into .tools/aeron the first time (bench/race.ts runs its io.aeron.samples FileSender/FileReceiver
# and MediaDriver). Needs mvn and a JDK (Debian: maven, default-jdk-headless; installed as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
VERSION=1.51.0
dir="$root/.tools/aeron"
jar="$dir/aeron-all-$VERSION.jar"
if [ ! -s "$jar" ]; then
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
      "$root/scripts/ensure-debs.sh" maven default-jdk-headless >&2
    else
      echo "ensure-aeron: needs mvn and java (Debian: maven, default-jdk-headless; install them as root)" >&2
      exit 1
    fi
  fi
  echo "ensure-aeron: copying io.aeron:aeron-all:$VERSION into $dir (mvn dependency:copy)" >&2
  mkdir -p "$dir"
  mvn -q -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="io.aeron:aeron-all:$VERSION" -DoutputDirectory="$dir" >&2
  [ -s "$jar" ] || { echo "ensure-aeron: $jar missing after mvn" >&2; exit 1; }
fi
echo "$jar"

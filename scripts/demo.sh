#!/usr/bin/env bash
# make demo: a receiver joins the group on loopback, a sender sends three objects with CCDB metadata,
# and the receiver prints what arrived (one JSON line per object).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
condcast="$root/bin/condcast"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

head -c 1000 /dev/urandom > "$work/small.bin"
head -c 2000000 /dev/urandom > "$work/gain-2MB.root"
head -c 10000000 /dev/urandom > "$work/map-10MB.root"

echo "== receiver: condcast recv --count 3 (group 239.255.204.219:3342 on 127.0.0.1)"
"$condcast" recv --count 3 --timeout 30 --out "$work/received" > "$work/received.jsonl" 2> "$work/recv.log" &
recv=$!
sleep 1
echo "== sender: three objects"
"$condcast" send "$work/small.bin" --path TPC/Calib/Pedestals --meta runNumber=523897 --meta "Comment=Größe ≥ 10 µm"
"$condcast" send "$work/gain-2MB.root" --path TPC/Calib/Gain --meta runNumber=523897 --content-type application/octet-stream
"$condcast" send "$work/map-10MB.root" --path GLO/Param/MagneticField --valid-from 1700000000000 --valid-until 1800000000000
wait "$recv"
echo "== received:"
cat "$work/received.jsonl"
echo "== receiver log:"
cat "$work/recv.log"
echo "== payloads identical:"
for f in small.bin gain-2MB.root map-10MB.root; do
  md5=$(md5sum < "$work/$f" | cut -d' ' -f1)
  grep -q "\"md5\":\"$md5\"" "$work/received.jsonl" && echo "  $f md5 $md5 received" || { echo "  $f NOT received" >&2; exit 1; }
done

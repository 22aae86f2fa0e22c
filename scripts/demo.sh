#!/usr/bin/env bash
# make demo, in two parts, everything on loopback:
# 1. a receiver joins the group, a sender sends three objects with CCDB metadata, and the receiver
#    prints what arrived (one JSON line per object);
# 2. `condcast serve`: a repository and two caches. Objects uploaded to the repository with curl reach
#    the caches by multicast; one uploaded before the caches start arrives by their warm start, one
#    kept off multicast is fetched upstream on the first miss. Each cache answers with the CCDB
#    headers, and Condcast-Source tells how the object arrived.
# 3. keys: two objects uploaded into a changeset stay invisible on both caches until the commit, then
#    both flip to key online/1 at once; a second changeset makes key 2; a read pinned to key 1 still
#    answers key 1's object; the diff names what changed; a run starts with the current key.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
condcast="$root/bin/condcast"
node="$("$root/scripts/ensure-node.sh")/node"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "######## part 1: condcast send / recv"
head -c 1000 /dev/urandom > "$work/small.bin"
head -c 2000000 /dev/urandom > "$work/gain-2MB.root"
head -c 10000000 /dev/urandom > "$work/map-10MB.root"

echo "== receiver: condcast recv --count 3 (group 239.255.204.219:3342 on 127.0.0.1)"
"$condcast" recv --count 3 --timeout 30 --out "$work/received" > "$work/received.jsonl" 2> "$work/recv.log" &
recv=$!
pids+=("$recv")
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

echo
echo "######## part 2: condcast serve (a repository and two caches)"
# Three free TCP ports on loopback, and a multicast port of its own.
read -r repo_port cache1_port cache2_port < <("$node" -e '
  const net = require("node:net");
  const one = () => new Promise((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
  Promise.all([one(), one(), one()]).then((p) => console.log(p.join(" ")));')
repo="http://127.0.0.1:$repo_port"
cache1="http://127.0.0.1:$cache1_port"
cache2="http://127.0.0.1:$cache2_port"
export CONDCAST_GROUP=239.255.204.219 CONDCAST_PORT=3343 CONDCAST_INTERFACE=127.0.0.1 CONDCAST_TTL=1

wait_health() {
  for _ in $(seq 1 100); do curl -sf "$1/health" > /dev/null && return 0; sleep 0.1; done
  echo "$1 did not come up" >&2
  return 1
}
# Waits until a cache holds N objects (polling /status, which does not count as a request for an object).
wait_objects() {
  for _ in $(seq 1 100); do
    [ "$(curl -sf "$1/status" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).objects))')" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "$1 did not get $2 objects" >&2
  return 1
}
show() { # the CCDB headers of an answer, and where the object came from
  grep -iE '^(HTTP/[0-9.]+ |(etag|valid-from|valid-until|created|last-modified|content-md5|content-type|content-length|content-disposition|cache-valid-until|runNumber|Comment|condcast-source|location):)' | tr -d '\r' | sed 's/^/    /'
}

echo "== repository on $repo (data in a temporary folder, multicast to 239.255.204.219:3343)"
"$condcast" serve --role repository --listen "127.0.0.1:$repo_port" --data-dir "$work/repo" --heartbeat-interval 200 --log-level warn > "$work/repo.log" 2>&1 &
pids+=("$!")
wait_health "$repo"

now=$(($(date +%s) * 1000))
until=$((now + 86400000))
head -c 300000 /dev/urandom > "$work/pedestals.root"
head -c 2000000 /dev/urandom > "$work/gain.root"
head -c 10000000 /dev/urandom > "$work/field.root"
head -c 50000 /dev/urandom > "$work/offline.root"

echo "== upload before the caches start: TPC/Calib/Pedestals (the caches' warm start will load it)"
curl -s -i -H 'Expect:' -F "send=@$work/pedestals.root" "$repo/TPC/Calib/Pedestals/$((now - 1000))/$until/runNumber=523897" | show

echo "== caches on $cache1 and $cache2 (upstream $repo, warm start for TPC)"
for port in "$cache1_port" "$cache2_port"; do
  "$condcast" serve --role cache --listen "127.0.0.1:$port" --upstream "$repo" --warm TPC --memory 64M --log-level warn > "$work/cache-$port.log" 2>&1 &
  pids+=("$!")
done
wait_health "$cache1"
wait_health "$cache2"
wait_objects "$cache1" 1
wait_objects "$cache2" 1

echo "== uploads while the caches run: TPC/Calib/Gain (2 MB) and GLO/Param/MagneticField (10 MB) go out by multicast"
curl -s -i -H 'Expect:' -F "send=@$work/gain.root" "$repo/TPC/Calib/Gain/$((now - 1000))/$until/runNumber=523897/Comment=gr%C3%B6%C3%9Fer" | show
curl -s -i -H 'Expect:' -F "send=@$work/field.root" "$repo/GLO/Param/MagneticField/$((now - 1000))/$until" | show
echo "== and one kept off multicast (forSyncReco=false): the caches fetch it upstream on a miss"
curl -s -i -H 'Expect:' -F "send=@$work/offline.root" "$repo/TRD/Calib/Offline/$((now - 1000))/$until/forSyncReco=false" | show
wait_objects "$cache1" 3
wait_objects "$cache2" 3

for cache in "$cache1" "$cache2"; do
  echo
  echo "== from the cache at $cache"
  for path in TPC/Calib/Pedestals TPC/Calib/Gain GLO/Param/MagneticField TRD/Calib/Offline; do
    echo "  GET /$path/$now/"
    curl -s -D "$work/headers" -o "$work/body" "$cache/$path/$now/"
    show < "$work/headers"
    echo "    (body md5 $(md5sum < "$work/body" | cut -d' ' -f1), $(wc -c < "$work/body") bytes)"
  done
done

echo
echo "== every payload identical to what was uploaded, on both caches:"
for cache in "$cache1" "$cache2"; do
  for pair in TPC/Calib/Pedestals:pedestals.root TPC/Calib/Gain:gain.root GLO/Param/MagneticField:field.root TRD/Calib/Offline:offline.root; do
    path=${pair%%:*}; file=${pair#*:}
    want=$(md5sum < "$work/$file" | cut -d' ' -f1)
    got=$(curl -sf "$cache/$path/$now" | md5sum | cut -d' ' -f1)
    [ "$want" = "$got" ] && echo "  $cache /$path md5 $got" || { echo "  $cache /$path differs" >&2; exit 1; }
  done
done

etag=$(curl -s -o /dev/null -D - "$cache1/TPC/Calib/Gain/$now" | tr -d '\r' | sed -n 's/^etag: //Ip')
echo "== the O2 client's If-None-Match (its ETag $etag, then a timestamp) on the cache: $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" -H "If-None-Match: $now" "$cache1/TPC/Calib/Gain/$now/")"
echo "== a write to a cache is redirected upstream (307), curl -L follows it:"
echo "upload through a cache" > "$work/via-cache.txt"
curl -s -i -L -H 'Expect:' -F "send=@$work/via-cache.txt" "$cache1/Demo/ViaCache/$now/$until" | grep -iE '^(HTTP/[0-9.]+ |location:)' | tr -d '\r' | sed 's/^/    /'
echo "== /latest/ on the repository (text):"
curl -s "$repo/latest/.*" | grep -E '^(ID|Path|Subfolders)' | sed 's/^/    /'
echo
echo "######## part 3: keys (docs/KEYS.md)"
json_field() { "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
head -c 400000 /dev/urandom > "$work/gain-v2.root"
head -c 80000 /dev/urandom > "$work/drift.root"
head -c 80000 /dev/urandom > "$work/drift-v2.root"
cs=$("$condcast" changeset open --url "$repo" --keytable online | json_field id)
echo "== changeset $cs opened; TPC/Calib/Gain (new) and TPC/Calib/Drift uploaded into it (header Condcast-Changeset)"
curl -s -o /dev/null -H 'Expect:' -H "Condcast-Changeset: $cs" -F "send=@$work/gain-v2.root" "$repo/TPC/Calib/Gain/$((now - 1000))/$until/runNumber=523897"
curl -s -o /dev/null -H 'Expect:' -H "Condcast-Changeset: $cs" -F "send=@$work/drift.root" "$repo/TPC/Calib/Drift/$((now - 1000))/$until"
sleep 0.5
gain_v2=$(md5sum < "$work/gain-v2.root" | cut -d' ' -f1)
echo "== before the commit, both caches still answer the old Gain and no Drift (multicast has delivered the new objects, staged):"
for cache in "$cache1" "$cache2"; do
  echo "    $cache: Gain md5 $(curl -s "$cache/TPC/Calib/Gain/$now" | md5sum | cut -d' ' -f1) (new one: $gain_v2), Drift $(curl -s -o /dev/null -w '%{http_code}' "$cache/TPC/Calib/Drift/$now")"
done
echo "== commit: $("$condcast" changeset commit --url "$repo" --id "$cs" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const k=JSON.parse(s);console.log(`key ${k.keytable}/${k.key}, ${k.entries.length} entries`)})')"
for cache in "$cache1" "$cache2"; do
  "$condcast" keys wait --url "$cache" --keytable online --after 0 --wait 5000 > /dev/null
  got=$(curl -s -D "$work/headers" "$cache/TPC/Calib/Gain/$now" | md5sum | cut -d' ' -f1)
  echo "    $cache flipped: Gain md5 $got, $(tr -d '\r' < "$work/headers" | grep -i '^condcast-key'), Drift $(curl -s -o /dev/null -w '%{http_code}' "$cache/TPC/Calib/Drift/$now")"
  [ "$got" = "$gain_v2" ] || { echo "  $cache did not flip to the new Gain" >&2; exit 1; }
done
cs2=$("$condcast" changeset open --url "$repo" --keytable online | json_field id)
curl -s -o /dev/null -H 'Expect:' -H "Condcast-Changeset: $cs2" -F "send=@$work/drift-v2.root" "$repo/TPC/Calib/Drift/$((now - 1000))/$until"
"$condcast" changeset commit --url "$repo" --id "$cs2" > /dev/null
"$condcast" keys wait --url "$cache1" --keytable online --after 1 --wait 5000 > /dev/null
echo "== key 2 changes Drift; on $cache1:"
echo "    diff 1..2: $("$condcast" keys diff --url "$cache1" --keytable online --from 1 --to 2)"
echo "    Drift now: md5 $(curl -s "$cache1/TPC/Calib/Drift/$now" | md5sum | cut -d' ' -f1) (drift-v2 $(md5sum < "$work/drift-v2.root" | cut -d' ' -f1))"
echo "    Drift pinned to online/1 (Condcast-Key: online/1): md5 $(curl -s -H 'Condcast-Key: online/1' "$cache1/TPC/Calib/Drift/$now" | md5sum | cut -d' ' -f1) (drift $(md5sum < "$work/drift.root" | cut -d' ' -f1))"
echo "== start of run 523897 (its key's objects multicast again): $("$condcast" runs start --url "$repo" --run 523897 --keytable online)"

echo
echo "== cache status (counters):"
for cache in "$cache1" "$cache2"; do
  curl -s "$cache/status" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const c=j.counters;console.log(`    ${process.argv[1]}: ${j.objects} objects, ${j.bytes} bytes; multicast ${c.multicastCompleted}, repaired ${c.repaired}, fetched ${c.fetched}, hits ${c.hits}, misses ${c.misses}`)})' "$cache"
done
echo "== demo done"

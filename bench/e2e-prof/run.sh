#!/bin/bash
# Profiles a repository and N caches on loopback under the e2e client (run inside unshare -n).
# usage: run.sh <caches> <rate-hz> <seconds> <size> <outdir> [prof]
set -u
cd /work/wt/e2e
N=$1; RATE=$2; SECS=$3; SIZE=$4; OUT=$5; PROF=${6:-}
ip link set lo up
ip route add 239.0.0.0/8 dev lo 2>/dev/null || true
data=$(mktemp -d)
opts=""; [ -n "$PROF" ] && opts="--cpu-prof --cpu-prof-dir=$OUT"
mc="--group 239.255.88.7 --port 45170 --log-level info"
NODE_OPTIONS="$opts" bin/condcast serve --role repository --listen 127.0.0.1:45100 --data-dir $data --interface 127.0.0.1 --rate 400000000 --datagram-size 8972 $mc > $OUT/repo.log 2>&1 &
pids=($!)
urls=()
for i in $(seq 1 $N); do
  NODE_OPTIONS="$opts" bin/condcast serve --role cache --listen 127.0.0.1:4510$i --upstream http://127.0.0.1:45100 --interface 127.0.0.1 --memory 512M $mc > $OUT/cache$i.log 2>&1 &
  pids+=($!); urls+=(http://127.0.0.1:4510$i)
done
sleep 3
node bench/e2e-client.ts http://127.0.0.1:45100 $SECS $RATE $SIZE --warmup 2 ${urls[@]} > $OUT/client.json
for p in ${pids[@]}; do echo "pid $p cpu $(awk '{print $14+$15}' /proc/$p/stat)"; kill -INT $p; done
wait
rm -rf $data
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const l=r.latenciesMs.sort((a,b)=>a-b);console.log("uploads",r.uploads,r.warmupUploads,"p50",l[Math.floor(l.length/2)],"p99",l[Math.floor(l.length*0.99)],"max",l.at(-1),"missing",r.missing)' $OUT/client.json

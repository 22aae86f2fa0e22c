#!/usr/bin/env bash
# Cross-language test: C++ sender -> TypeScript receiver and TypeScript sender -> C++ receiver over
# loopback multicast, plain and authenticated. The JSON line a sender prints for an object must be
# byte-identical to the line the other language's receiver prints for it, and the payloads written
# with --out must equal the files sent.
# usage: cross_language.sh <condcast-send> <condcast-recv> <repository root> <port base>
set -euo pipefail
CPP_SEND=$1
CPP_RECV=$2
ROOT=$(cd "$3" && pwd)
PORT_BASE=$4
TS="$ROOT/bin/condcast"
GROUP=239.255.41.20

fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x "$TS" && -f "$ROOT/ts/dist/cli/main.js" ]] || fail "TypeScript CLI $TS is not built (run 'make ts' at the top level)"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Objects: 0 B, 1 B, a few fragments, 1 MiB.
: > "$tmp/empty.bin"
printf 'x' > "$tmp/one.bin"
head -c 5000 /dev/urandom > "$tmp/small.bin"
head -c 1048576 /dev/urandom > "$tmp/onemb.bin"
files=("$tmp/empty.bin" "$tmp/one.bin" "$tmp/small.bin" "$tmp/onemb.bin")
# Metadata with non-ASCII keys, characters JSON must escape, keys that look like numbers (printed in
# UTF-8 order: "10" before "2") and "__proto__" (a key like any other).
meta=(--meta runNumber=523897 --meta 'Ünïcödé=✓ ok' --meta 'quote=say "hi"\now' --meta 'Zeta=tab	here' --meta 'a.b='
  --meta 10=ten --meta 2=two --meta __proto__=x)
printf '000102030405060708090a0b0c0d0e0f\n101112131415161718191a1b1c1d1e1f\n' > "$tmp/key.hex"

# wait_listening <stderr file> <pid>: until the receiver has joined the group.
wait_listening() {
  for _ in $(seq 1 200); do
    grep -q '"event":"listening"' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; fail "receiver exited before listening"; }
    sleep 0.05
  done
  cat "$1" >&2
  fail "receiver did not start listening"
}

# run_case <name> <sender: cpp|ts> <receiver: cpp|ts> <port offset> [extra flags for both...]
run_case() {
  local name=$1 from=$2 to=$3 port=$((PORT_BASE + $4))
  shift 4
  local extra=("$@")
  local dir="$tmp/$name"
  mkdir -p "$dir/out"
  local recv_cmd send_cmd
  if [[ $to == cpp ]]; then recv_cmd=("$CPP_RECV"); else recv_cmd=("$TS" recv); fi
  if [[ $from == cpp ]]; then send_cmd=("$CPP_SEND"); else send_cmd=("$TS" send); fi
  "${recv_cmd[@]}" --group $GROUP --port $port --interface 127.0.0.1 --count ${#files[@]} --timeout 60 \
    --out "$dir/out" "${extra[@]}" > "$dir/recv.out" 2> "$dir/recv.err" &
  local rpid=$!
  pids+=("$rpid")
  wait_listening "$dir/recv.err" "$rpid"
  "${send_cmd[@]}" "${files[@]}" --group $GROUP --port $port --interface 127.0.0.1 --ttl 1 \
    --path Test/Cross/Language --sender-id "${SENDER_ID:-00c0ffee00c0ffee}" --valid-from 1700000000000 \
    --valid-until 1700086400000 --content-type application/x-root "${meta[@]}" "${extra[@]}" \
    --heartbeat-interval 200 > "$dir/send.out" 2> "$dir/send.err" || { cat "$dir/send.err" >&2; fail "$name: sender failed"; }
  local status=0
  wait "$rpid" || status=$?
  if [[ $status -ne 0 ]]; then
    cat "$dir/recv.err" >&2
    fail "$name: receiver exited with $status"
  fi
  [[ $(wc -l < "$dir/send.out") -eq ${#files[@]} ]] || fail "$name: sender printed $(wc -l < "$dir/send.out") lines"
  if ! diff "$dir/send.out" "$dir/recv.out" >&2; then fail "$name: receiver lines differ from sender lines"; fi
  grep -q '"event":"counters"' "$dir/recv.err" || fail "$name: no counters line"
  grep '"event":"counters"' "$dir/recv.err" | grep -q "\"objectsCompleted\":${#files[@]}," || fail "$name: counters"
  grep '"event":"counters"' "$dir/recv.err" | grep -q '"fec":{"blocksDecoded":[0-9]*,"parityUsed":[0-9]*,"fragmentsRecovered":[0-9]*}' ||
    fail "$name: no fec counters"
  # Every payload written by the receiver equals the file sent (ids from the sender's lines).
  local i=0
  while IFS= read -r line; do
    local id=${line#*\"id\":\"}
    id=${id%%\"*}
    cmp "${files[$i]}" "$dir/out/$id" || fail "$name: payload of ${files[$i]} differs"
    i=$((i + 1))
  done < "$dir/send.out"
  # The C++ receiver logs the receive buffer it asked for and was granted.
  if [[ $to == cpp ]]; then
    grep '"event":"listening"' "$dir/recv.err" | grep -q '"receiveBufferGranted":[1-9]' || fail "$name: listening line"
  fi
  echo "ok: $name ($from -> $to) $(head -c 120 "$dir/recv.out" | head -1)..."
}

# run_wrong_key <name> <sender> <receiver> <port offset>: signed with another key: nothing delivered,
# the receiver times out (exit 1) and counts every fragment as bad_mac.
run_wrong_key() {
  local name=$1 from=$2 to=$3 port=$((PORT_BASE + $4))
  local dir="$tmp/$name"
  mkdir -p "$dir"
  printf 'ffeeddccbbaa99887766554433221100' > "$dir/other.hex"
  local recv_cmd send_cmd
  if [[ $to == cpp ]]; then recv_cmd=("$CPP_RECV"); else recv_cmd=("$TS" recv); fi
  if [[ $from == cpp ]]; then send_cmd=("$CPP_SEND"); else send_cmd=("$TS" send); fi
  "${recv_cmd[@]}" --group $GROUP --port $port --count 1 --timeout 3 --key-file "$tmp/key.hex" --key-id 7 \
    > "$dir/recv.out" 2> "$dir/recv.err" &
  local rpid=$!
  pids+=("$rpid")
  wait_listening "$dir/recv.err" "$rpid"
  "${send_cmd[@]}" "$tmp/small.bin" --group $GROUP --port $port --path Test/Cross/WrongKey --key-file "$dir/other.hex" \
    --key-id 7 --heartbeat-interval 0 > "$dir/send.out" 2> "$dir/send.err" || fail "$name: sender failed"
  local status=0
  wait "$rpid" || status=$?
  [[ $status -eq 1 ]] || fail "$name: receiver exited with $status, expected 1 (timeout)"
  [[ ! -s "$dir/recv.out" ]] || fail "$name: an object was delivered"
  grep '"event":"counters"' "$dir/recv.err" | grep -q '"bad_mac":[1-9]' || fail "$name: bad_mac not counted"
  echo "ok: $name ($from -> $to): rejected as bad_mac"
}

run_case cpp-to-ts cpp ts 100
run_case ts-to-cpp ts cpp 101
run_case cpp-to-ts-auth cpp ts 102 --key-file "$tmp/key.hex" --key-id 7
run_case ts-to-cpp-auth ts cpp 103 --key-file "$tmp/key.hex" --key-id 7
# Jumbo datagrams, given through the environment (CONDCAST_DATAGRAM_SIZE) to both tools.
CONDCAST_DATAGRAM_SIZE=8972 run_case cpp-to-ts-jumbo cpp ts 104
CONDCAST_DATAGRAM_SIZE=8972 run_case ts-to-cpp-jumbo ts cpp 105
# Sender id 0: the Fragment's sender_id field is omitted on the wire (proto3 default).
SENDER_ID=0 run_case cpp-to-ts-zero-sender cpp ts 106
SENDER_ID=0 run_case ts-to-cpp-zero-sender ts cpp 107
# FEC (SPEC 10): the defaults above (p 0.05, B 242, D 16) are on in both; off, and other parameters,
# through CONDCAST_FEC_* (the receivers do not take --fec-* flags).
CONDCAST_FEC_PARITY=0 run_case cpp-to-ts-no-fec cpp ts 110
CONDCAST_FEC_PARITY=0 run_case ts-to-cpp-no-fec ts cpp 111
CONDCAST_FEC_PARITY=0.2 CONDCAST_FEC_BLOCK=50 CONDCAST_FEC_INTERLEAVE=3 run_case cpp-to-ts-fec-params cpp ts 112
CONDCAST_FEC_PARITY=0.2 CONDCAST_FEC_BLOCK=50 CONDCAST_FEC_INTERLEAVE=3 run_case ts-to-cpp-fec-params ts cpp 113
run_wrong_key cpp-to-ts-wrong-key cpp ts 108
run_wrong_key ts-to-cpp-wrong-key ts cpp 109
echo "cross-language: all cases passed"

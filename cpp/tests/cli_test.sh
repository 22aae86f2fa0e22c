#!/usr/bin/env bash
# The CLI contract of condcast-send / condcast-recv on their own (spec/CLI.md): exit codes, usage
# errors, environment variables, --out, standard input, timeouts, wrong keys and the counters line.
# usage: cli_test.sh <condcast-send> <condcast-recv> <port base>
set -euo pipefail
SEND=$1
RECV=$2
PORT_BASE=$3
GROUP=239.255.41.30
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect_status() {  # expect_status <status> <command...>
  local want=$1
  shift
  local got=0
  "$@" > "$tmp/out" 2> "$tmp/err" || got=$?
  [[ $got -eq $want ]] || { cat "$tmp/err" >&2; fail "'$*' exited $got, expected $want"; }
}

wait_listening() {
  for _ in $(seq 1 200); do
    grep -q '"event":"listening"' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "receiver did not start listening"
}

# Usage errors: exit 2 with a message.
expect_status 2 "$SEND" "$tmp/none" --port $PORT_BASE
grep -q -- "--path is required" "$tmp/err" || fail "missing --path message"
expect_status 2 "$SEND" --path a/b
expect_status 2 "$SEND" x --path a/b --port 0
expect_status 2 "$SEND" x --path a/b --group 10.1.2.3
expect_status 2 "$SEND" x --path a/b --datagram-size 255
expect_status 2 "$SEND" x --path a/b --bogus 1
expect_status 2 "$SEND" x y --path a/b --id 3f2504e0-4f89-11d3-9a0c-0305e82c3301
expect_status 2 "$SEND" x --path a/b --valid-from 10 --valid-until 10
expect_status 2 "$SEND" x --path a/b --sender-id xyz
expect_status 2 "$SEND" x --path a/b --fec-parity 1.5
expect_status 2 "$SEND" x --path a/b --fec-parity -0.1
expect_status 2 "$SEND" x --path a/b --fec-block 243
expect_status 2 "$SEND" x --path a/b --fec-block 128 --fec-parity 1
expect_status 2 "$SEND" x --path a/b --fec-interleave 0
CONDCAST_FEC_BLOCK=255 expect_status 2 "$SEND" x --path a/b
expect_status 2 "$RECV" --count 0
expect_status 2 "$RECV" --timeout -1
expect_status 2 env CONDCAST_PORT=70000 "$RECV"
expect_status 0 "$RECV" --help
grep -q "usage: condcast-recv" "$tmp/out" || fail "recv --help"
# A failure that is not a usage error: exit 1 (a file that cannot be read).
expect_status 1 "$SEND" "$tmp/does-not-exist" --path a/b --port $PORT_BASE --group $GROUP --heartbeat-interval 0

# Timeout: exit 1, a timeout event and the final counters line.
expect_status 1 "$RECV" --group $GROUP --port $((PORT_BASE + 200)) --timeout 0.3 --count 1
grep -q '"event":"timeout","seconds":0.3,"received":0,"expected":1' "$tmp/err" || fail "timeout event"
tail -1 "$tmp/err" | grep -q '^{"event":"counters","datagrams":0,' || fail "counters line last"

# Flags from the environment, --out, and standard input as "-".
head -c 300000 /dev/urandom > "$tmp/payload"
CONDCAST_GROUP=$GROUP CONDCAST_PORT=$((PORT_BASE + 201)) "$RECV" --count 2 --timeout 30 --out "$tmp/out-dir" \
  > "$tmp/recv.out" 2> "$tmp/recv.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/recv.err"
CONDCAST_GROUP=$GROUP CONDCAST_PORT=$((PORT_BASE + 201)) CONDCAST_META=$'a=1\nb=2' "$SEND" "$tmp/payload" - \
  --path Test/Cli --id 3f2504e0-4f89-11d3-9a0c-0305e82c3301 < "$tmp/payload" > "$tmp/send.out" 2> "$tmp/send.err" && \
  fail "--id with two files must be refused" || true
CONDCAST_GROUP=$GROUP CONDCAST_PORT=$((PORT_BASE + 201)) CONDCAST_META=$'a=1\nb=2' "$SEND" "$tmp/payload" - \
  --path Test/Cli --interval 50 < "$tmp/payload" > "$tmp/send.out"
wait "$rpid" || fail "receiver exit status"
diff "$tmp/send.out" "$tmp/recv.out" || fail "lines differ"
grep -q '"fileName":"stdin"' "$tmp/recv.out" || fail "stdin file name"
grep -q '"metadata":{"a":"1","b":"2"}' "$tmp/recv.out" || fail "metadata from CONDCAST_META"
for id in $(sed 's/^{"id":"\([^"]*\)".*/\1/' "$tmp/recv.out"); do cmp "$tmp/payload" "$tmp/out-dir/$id" || fail "payload $id"; done

# Wrong key: nothing delivered, the datagrams counted as bad_mac, exit 1 at the timeout.
printf '000102030405060708090a0b0c0d0e0f' > "$tmp/key-a"
printf 'ffffffffffffffffffffffffffffffff' > "$tmp/key-b"
"$RECV" --group $GROUP --port $((PORT_BASE + 202)) --key-file "$tmp/key-a" --count 1 --timeout 2 \
  > "$tmp/recv2.out" 2> "$tmp/recv2.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/recv2.err"
"$SEND" "$tmp/payload" --group $GROUP --port $((PORT_BASE + 202)) --key-file "$tmp/key-b" --path Test/Cli \
  --heartbeat-interval 0 > /dev/null
status=0
wait "$rpid" || status=$?
[[ $status -eq 1 ]] || fail "wrong key: receiver exit $status"
[[ ! -s "$tmp/recv2.out" ]] || fail "wrong key: object delivered"
grep '"event":"counters"' "$tmp/recv2.err" | grep -q '"bad_mac":2[0-9][0-9],' || fail "wrong key: bad_mac not counted"
echo "cli: all checks passed"

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
# ---- changesets (SPEC 11) ----------------------------------------------------------------------------
expect_status 2 "$SEND" x --path a/b --keytable online
expect_status 2 "$SEND" x --path a/b --abort
expect_status 2 "$SEND" x --path a/b --remove A/B
expect_status 2 "$SEND" x --path a/b --changeset 'not valid!'
expect_status 2 "$SEND" x --path a/b --changeset new --keytable ''
expect_status 2 "$SEND" x --path a/b --changeset new --key 0
expect_status 2 "$SEND" x --path a/b --changeset new --key 3 --parent-key 3
expect_status 2 "$RECV" --stage-timeout 0

field() {  # field <name> <json line>: a number or string member's value
  sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[0-9]*\).*/\1/p" <<< "$2" | tr -d '"'
}

# A changeset of four objects: recv prints them only after the Commit, in ascending id order, then the
# changeset event; stdout and stderr go to one file so the order of the lines is the order of events.
for n in 1 2 3 4; do head -c $((n * 70000)) /dev/urandom > "$tmp/cs-$n"; done
"$RECV" --group $GROUP --port $((PORT_BASE + 203)) --count 4 --timeout 30 > "$tmp/cs.all" 2>&1 &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/cs.all"
"$SEND" "$tmp/cs-1" "$tmp/cs-2" "$tmp/cs-3" "$tmp/cs-4" --group $GROUP --port $((PORT_BASE + 203)) --path Test/Cs \
  --changeset new --keytable online --key 7 --remove B/b --remove A/a --remove B/b --interval 100 \
  --heartbeat-interval 0 > "$tmp/cs-send.out"
wait "$rpid" || fail "changeset: receiver exit status"
[[ $(wc -l < "$tmp/cs-send.out") -eq 5 ]] || fail "changeset: send prints 4 object lines and a commit line"
commit_line=$(tail -1 "$tmp/cs-send.out")
[[ $commit_line == '{"event":"commit",'* ]] || fail "changeset: send's last line is not the commit"
changeset=$(field changeset "$commit_line")
[[ $changeset =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "changeset new: $changeset"
grep -q '"key":7,"parentKey":6,' <<< "$commit_line" || fail "changeset: key and default parent key"
grep -q '"objectCount":4,' <<< "$commit_line" || fail "changeset: objectCount"
grep -q '"removedPaths":\["A/a","B/b"\],' <<< "$commit_line" || fail "changeset: removedPaths sorted and unique"
sent_ids=$(head -4 "$tmp/cs-send.out" | sed 's/^{"id":"\([^"]*\)".*/\1/' | LC_ALL=C sort | paste -sd, -)
wire_ids=$(sed 's/.*"objectIds":\[\([^]]*\)\].*/\1/' <<< "$commit_line" | tr -d '"')
[[ $wire_ids == "$sent_ids" ]] || fail "changeset: objectIds $wire_ids, sent $sent_ids"
grep -c "\"changeset\":\"$changeset\"" "$tmp/cs-send.out" | grep -q '^5$' || fail "changeset: id in every object line"
# recv: listening, the commit (as send printed it), the four objects in id order, the changeset event.
grep -v '"event":"counters"' "$tmp/cs.all" | sed -n '2,$p' > "$tmp/cs.events"
[[ $(sed -n 1p "$tmp/cs.events") == "$commit_line" ]] || fail "changeset: recv's commit event differs from send's line"
sed -n '2,5p' "$tmp/cs.events" > "$tmp/cs.objects"
head -4 "$tmp/cs-send.out" | LC_ALL=C sort > "$tmp/cs.sorted"
diff "$tmp/cs.sorted" "$tmp/cs.objects" || fail "changeset: object lines not the sent ones in ascending id order"
[[ $(sed -n 6p "$tmp/cs.events") == "{\"event\":\"changeset\",\"senderId\":\"$(field senderId "$commit_line")\",\"keytable\":\"online\",\"key\":7,\"parentKey\":6,\"changeset\":\"$changeset\",\"objects\":4}" ]] ||
  fail "changeset event: $(sed -n 6p "$tmp/cs.events")"
[[ $(wc -l < "$tmp/cs.events") -eq 6 ]] || fail "changeset: unexpected lines"

# Twelve objects whose ids do not fit a 256-byte Commit: sent without them, delivered by count.
small=()
for n in $(seq 1 12); do echo "object $n" > "$tmp/small-$n"; small+=("$tmp/small-$n"); done
"$RECV" --group $GROUP --port $((PORT_BASE + 207)) --count 12 --timeout 30 > "$tmp/om.out" 2> "$tmp/om.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/om.err"
"$SEND" "${small[@]}" --group $GROUP --port $((PORT_BASE + 207)) --path Test/Cs --changeset cs-omitted --datagram-size 256 \
  --heartbeat-interval 0 > "$tmp/om-send.out"
wait "$rpid" || fail "ids omitted: receiver exit status"
grep -q '"objectCount":12,"objectIds":\[\],' <<< "$(tail -1 "$tmp/om-send.out")" || fail "ids omitted: send's commit line"
head -12 "$tmp/om-send.out" | LC_ALL=C sort | diff - "$tmp/om.out" || fail "ids omitted: objects not delivered in id order"
grep -q '"changeset":"cs-omitted","objects":12}' "$tmp/om.err" || fail "ids omitted: changeset event"

# --abort: nothing printed; every staged object dropped as uncommitted.
"$RECV" --group $GROUP --port $((PORT_BASE + 204)) --count 1 --timeout 2 > "$tmp/ab.out" 2> "$tmp/ab.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/ab.err"
"$SEND" "$tmp/cs-1" "$tmp/cs-2" --group $GROUP --port $((PORT_BASE + 204)) --path Test/Cs --changeset cs-abort \
  --abort --heartbeat-interval 0 > "$tmp/ab-send.out"
status=0
wait "$rpid" || status=$?
[[ $status -eq 1 ]] || fail "abort: receiver exit $status (expected the timeout)"
[[ ! -s "$tmp/ab.out" ]] || fail "abort: objects printed"
grep -q '"key":0,"parentKey":0,"changeset":"cs-abort","objectCount":2,.*"aborted":true}$' <<< "$(tail -1 "$tmp/ab-send.out")" ||
  fail "abort: send's commit line"
for id in $(head -2 "$tmp/ab-send.out" | sed 's/^{"id":"\([^"]*\)".*/\1/'); do
  grep -qx "{\"event\":\"object_dropped\",\"id\":\"$id\",\"reason\":\"uncommitted\"}" "$tmp/ab.err" || fail "abort: no drop of $id"
done
grep '"event":"counters"' "$tmp/ab.err" | grep -q '"objectsCompleted":2,.*"uncommitted":2}' || fail "abort: uncommitted not counted"

# A stale key (same sender and keytable, key not above the delivered one): commit_ignored, objects dropped.
"$RECV" --group $GROUP --port $((PORT_BASE + 205)) --count 2 --timeout 30 > "$tmp/st.out" 2> "$tmp/st.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/st.err"
for key in 5 5 6; do
  "$SEND" "$tmp/cs-1" --group $GROUP --port $((PORT_BASE + 205)) --path Test/Cs --changeset "cs-key-$key-$RANDOM" --key $key \
    --sender-id 00000000000000aa --heartbeat-interval 0 >> "$tmp/st-send.out"
done
wait "$rpid" || fail "stale key: receiver exit status"
[[ $(wc -l < "$tmp/st.out") -eq 2 ]] || fail "stale key: expected the objects of keys 5 and 6"
stale=$(sed -n 4p "$tmp/st-send.out")
grep -qx "{\"event\":\"commit_ignored\",\"senderId\":\"00000000000000aa\",\"keytable\":\"online\",\"key\":5,\"heldKey\":5,\"changeset\":\"$(field changeset "$stale")\"}" "$tmp/st.err" ||
  fail "stale key: commit_ignored event"
grep -q "{\"event\":\"object_dropped\",\"id\":\"$(field id "$(sed -n 3p "$tmp/st-send.out")")\",\"reason\":\"uncommitted\"}" "$tmp/st.err" ||
  fail "stale key: its object not dropped"
[[ $(grep -c '"event":"changeset"' "$tmp/st.err") -eq 2 ]] || fail "stale key: changeset events"

# --stage-timeout: an object whose Commit does not come (the sender is stopped first) is dropped.
"$RECV" --group $GROUP --port $((PORT_BASE + 206)) --stage-timeout 200 --count 1 --timeout 2 \
  > "$tmp/to.out" 2> "$tmp/to.err" &
rpid=$!
pids+=("$rpid")
wait_listening "$tmp/to.err"
"$SEND" "$tmp/cs-1" "$tmp/cs-2" --group $GROUP --port $((PORT_BASE + 206)) --path Test/Cs --changeset cs-never \
  --interval 10000 --heartbeat-interval 0 > "$tmp/to-send.out" &
spid=$!
pids+=("$spid")
status=0
wait "$rpid" || status=$?
kill "$spid" 2>/dev/null || true
[[ $status -eq 1 ]] || fail "stage timeout: receiver exit $status"
[[ ! -s "$tmp/to.out" ]] || fail "stage timeout: object printed"
grep -q '"event":"object_dropped","id":"[^"]*","reason":"uncommitted"' "$tmp/to.err" || fail "stage timeout: no drop"
grep '"event":"counters"' "$tmp/to.err" | grep -q '"uncommitted":1}' || fail "stage timeout: not counted"
echo "cli: all checks passed"

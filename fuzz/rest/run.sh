#!/usr/bin/env bash
# Fuzzes the REST API of both roles against spec/openapi.yaml with schemathesis (pinned in
# fuzz/rest/requirements.txt): a repository (temp data dir, multicast on loopback) and a cache whose
# upstream it is, both started with `bin/condcast serve` and always stopped again.
#
#   fuzz/rest/run.sh [--short | --long] [schemathesis run options...]
#
# --short (default; `make test`): derandomized generation (the same requests every run), at most 50
#   examples per operation and phase, under a minute on two cores. --long (`make fuzz-rest`): seeded
#   generation (FUZZ_SEED, default 1), at most 1000. FUZZ_EXAMPLES overrides either; FUZZ_MAX_TIME=S
#   instead repeats fuzzing and stateful runs until S seconds per role are spent. Further
#   options go to both schemathesis runs (e.g. --include-path-regex '^/latest' to fuzz one route).
#
# Properties, per role: the checks named in fuzz/rest/schemathesis.toml pass for every answer (no
# 5xx, every status code documented, content type, body schema and headers as documented, schema-valid
# requests accepted and invalid ones refused with 4xx, 405 with Allow for undocumented methods,
# objects created stay available until deleted); afterwards both processes are alive and /health
# answers. When anything fails, the servers' logs and schemathesis' output stay in
# out/fuzz-rest/<mode>-<time>/ (the path is printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

mode=short
case "${1:-}" in
  --short) shift ;;
  --long) mode=long; shift ;;
  -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
extra=("$@")

if [ "$mode" = short ]; then
  examples=${FUZZ_EXAMPLES:-50}
  generation=(--generation-deterministic)
else
  examples=${FUZZ_EXAMPLES:-1000}
  generation=(--seed "${FUZZ_SEED:-1}" --generation-database none)
fi
budget=()
[ -z "${FUZZ_MAX_TIME:-}" ] || budget=(--max-time "$FUZZ_MAX_TIME")

[ -x bin/condcast ] && [ -f ts/dist/cli/main.js ] || { echo "fuzz-rest: build first (make ts)" >&2; exit 1; }
schemathesis=$(scripts/ensure-schemathesis.sh)
python=$(dirname "$schemathesis")/python

work=$(mktemp -d "${TMPDIR:-/tmp}/condcast-fuzz-rest.XXXXXX")
repo_pid=""
cache_pid=""
failed=1
finish() {
  local status=$?
  for pid in $cache_pid $repo_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $cache_pid $repo_pid; do wait "$pid" 2>/dev/null || true; done
  if [ "$failed" -ne 0 ]; then
    local keep
    keep="$root/out/fuzz-rest/$mode-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$keep"
    cp "$work"/*.log "$work"/*.txt "$work"/*.xml "$keep"/ 2>/dev/null || true
    echo "fuzz-rest: FAILED; the servers' logs and schemathesis' output are in ${keep#"$root"/}" >&2
    [ "$status" -ne 0 ] || status=1
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 for each server; a group in 239.255.60.x and a UDP port in
# 40700-40749 that no socket here has bound (a bind without SO_REUSEADDR fails on one that has).
read -r repo_port cache_port udp_port <<<"$("$python" - <<'EOF'
import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
for port in range(40700, 40750):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("0.0.0.0", port))
    except OSError:
        continue
    finally:
        u.close()
    ports.append(port)
    break
else:
    raise SystemExit("no free UDP port in 40700-40749")
print(*ports)
EOF
)"
group="239.255.60.$((udp_port - 40700 + 1))"
repo="http://127.0.0.1:$repo_port"
cache="http://127.0.0.1:$cache_port"
multicast=(--group "$group" --port "$udp_port" --interface 127.0.0.1 --ttl 1)

mkdir -p "$work/data"
bin/condcast serve --role repository --data-dir "$work/data" --listen "127.0.0.1:$repo_port" "${multicast[@]}" --heartbeat-interval 500 --max-upload 1M --stream-max-ms 100 --log-level info >"$work/repository.log" 2>&1 &
repo_pid=$!
bin/condcast serve --role cache --upstream "$repo" --listen "127.0.0.1:$cache_port" "${multicast[@]}" --memory 64M --startup-grace 30000 --log-level info >"$work/cache.log" 2>&1 &
cache_pid=$!

healthy() { # role url pid: the process runs and /health answers 200 with the role
  kill -0 "$3" 2>/dev/null || { echo "fuzz-rest: the $1 (pid $3) is not running" >&2; return 1; }
  curl -sf --max-time 5 "$2/health" | grep -q "\"role\":\"$1\"" || { echo "fuzz-rest: the $1's /health does not answer" >&2; return 1; }
}
for _ in $(seq 300); do
  healthy repository "$repo" "$repo_pid" 2>/dev/null && healthy cache "$cache" "$cache_pid" 2>/dev/null && break
  sleep 0.1
done
healthy repository "$repo" "$repo_pid"
healthy cache "$cache" "$cache_pid"

# Objects for the spec's examples (TPC/Calib/Gain at 1750000000000, /download/3f2504e0-...) to find;
# several, as a DELETE of the examples removes one. The cache receives them by multicast.
printf 'gain calibration\n' >"$work/gain.root"
seed() { curl -sf -o /dev/null -F "send=@$work/gain.root;type=$2" "$repo$1"; }
seed /TPC/Calib/Gain/1700000000000/1800000000000/3f2504e0-4f89-11d3-9a0c-0305e82c3301/runNumber=523897 application/octet-stream
seed /TPC/Calib/Gain/1700000000000/1800000000000/runNumber=523898 text/plain
seed /TPC/Calib/Gain/1700000000000/1800000000000 application/octet-stream
for _ in $(seq 50); do
  curl -sf "$cache/status" | grep -q '"objects":3' && break
  sleep 0.1
done

echo "fuzz-rest ($mode): schemathesis $("$schemathesis" --version | sed 's/.* //'), at most $examples examples per operation and phase, ${generation[*]}${budget[*]:+, ${budget[*]} s per role}"
echo "fuzz-rest: repository $repo (pid $repo_pid), cache $cache (pid $cache_pid), multicast $group:$udp_port on 127.0.0.1"
status=0
cp fuzz/rest/schemathesis.toml "$work/repository.toml"
cat fuzz/rest/schemathesis.toml fuzz/rest/cache.toml >"$work/cache.toml"
fuzz() { # role url extra-args...
  local role=$1 url=$2 rc=0
  shift 2
  echo "fuzz-rest: --- $role ---"
  "$schemathesis" --config-file "$work/$role.toml" run spec/openapi.yaml --url "$url" \
    --max-examples "$examples" "${generation[@]}" "${budget[@]}" \
    --workers 1 --request-timeout 10 --no-color --warnings off \
    --report junit --report-junit-path "$work/junit-$role.xml" "$@" >"$work/schemathesis-$role.txt" 2>&1 || rc=$?
  grep -E '^ +(✅|❌|⏭).*\(in ' "$work/schemathesis-$role.txt" || true
  sed -n '/^=* SUMMARY =*$/,$p' "$work/schemathesis-$role.txt"
  if [ "$rc" -ne 0 ]; then
    status=1
    sed -n '/^=* \(ERRORS\|FAILURES\) =*$/,/^=* SUMMARY =*$/p' "$work/schemathesis-$role.txt" | head -200
    grep -q SUMMARY "$work/schemathesis-$role.txt" || tail -20 "$work/schemathesis-$role.txt"
  fi
}
start=$SECONDS
fuzz repository "$repo" "${extra[@]}"
# A cache answers writes with 307 to the repository: checked as such, not followed.
fuzz cache "$cache" --max-redirects 0 "${extra[@]}"
alive=yes
healthy repository "$repo" "$repo_pid" || alive=no
healthy cache "$cache" "$cache_pid" || alive=no
[ "$alive" = yes ] || status=1
echo "fuzz-rest ($mode): $((SECONDS - start)) s of fuzzing; both servers alive and healthy afterwards: $alive; $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
[ "$status" -eq 0 ] && failed=0
exit "$status"

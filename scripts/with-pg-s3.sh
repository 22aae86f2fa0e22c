#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server and a private S3 server (Versity S3 gateway, posix
# backend) on 127.0.0.1, on free ports, in a temporary directory, and stops both afterwards. The
# command sees CONDCAST_PG_URL and CONDCAST_S3_{ENDPOINT,BUCKET,ACCESS_KEY,SECRET_KEY} (and
# CONDCAST_PGS3_DIR: pg-restart / s3-stop / s3-start helpers below, for fault tests).
# As root it installs PostgreSQL from Debian's packages first (with service starts refused) and runs
# the server as the postgres user (PostgreSQL refuses root).
#   scripts/with-pg-s3.sh COMMAND [ARGS...]
#   scripts/with-pg-s3.sh --prepare   (installs and builds both, starts nothing: run it before a
#                                      network namespace that cannot reach the registries)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    # The package's install would start a cluster daemon: refuse every service start meanwhile.
    had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
    [ $had_policy -eq 1 ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
    "$ROOT/scripts/ensure-debs.sh" postgresql || { [ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
    [ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d
  else
    echo "with-pg-s3: PostgreSQL is not installed (run as root to install it)" >&2; exit 1
  fi
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
GW="$("$ROOT/scripts/ensure-versitygw.sh")"
[ "${1:-}" != "--prepare" ] || exit 0

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
DIR="$(mktemp -d /tmp/condcast-pgs3.XXXXXX)"
chmod 755 "$DIR"
PGPORT="$(free_port)"; S3PORT="$(free_port)"
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then mkdir -p "$DIR/pg"; chown postgres "$DIR/pg"; RUNAS=(runuser -u postgres --); fi

"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/pg/data" -A trust -U postgres --no-sync >/dev/null
cat > "$DIR/pg-ctl" <<CTL
#!/usr/bin/env bash
exec ${RUNAS[*]} "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -t 30 -o "-p $PGPORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=300" "\$@"
CTL
chmod +x "$DIR/pg-ctl"
"$DIR/pg-ctl" start >/dev/null

mkdir -p "$DIR/s3/data"
cat > "$DIR/s3-start" <<S3
#!/usr/bin/env bash
# Starts (again) the S3 gateway on the same port and data.
ROOT_ACCESS_KEY=condcast ROOT_SECRET_KEY=condcast-secret nohup "$GW" --port 127.0.0.1:$S3PORT posix "$DIR/s3/data" >>"$DIR/s3/log" 2>&1 &
echo \$! > "$DIR/s3/pid"
for i in \$(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$S3PORT) 2>/dev/null && exit 0; sleep 0.1; done
echo "with-pg-s3: the S3 gateway did not start (\$(tail -3 $DIR/s3/log))" >&2; exit 1
S3
cat > "$DIR/s3-stop" <<S3
#!/usr/bin/env bash
[ -f "$DIR/s3/pid" ] && kill "\$(cat $DIR/s3/pid)" 2>/dev/null; rm -f "$DIR/s3/pid"; sleep 0.2
S3
chmod +x "$DIR/s3-start" "$DIR/s3-stop"

cleanup() {
  "$DIR/s3-stop" || true
  "$DIR/pg-ctl" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"$DIR/s3-start"

export CONDCAST_PGS3_DIR="$DIR"
export CONDCAST_PG_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export CONDCAST_S3_ENDPOINT="http://127.0.0.1:$S3PORT"
export CONDCAST_S3_BUCKET="condcast"
export CONDCAST_S3_ACCESS_KEY="condcast"
export CONDCAST_S3_SECRET_KEY="condcast-secret"
"$@"

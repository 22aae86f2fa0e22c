#!/usr/bin/env bash
# Like ensure-debs.sh, but no package's maintainer script may start a service meanwhile (Debian's
# prometheus starts its daemon on install): a policy-rc.d refusing every start (exit 101) is in place
# for the install; an existing policy-rc.d is put back after (Docker images ship one refusing starts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" -ne 0 ] && exec "$here/ensure-debs.sh" "$@" # says what is missing and fails
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved=$(mktemp)
  cp -p "$policy" "$saved"
fi
restore() { if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore EXIT
printf '#!/bin/sh\n# condcast ensure-debs-no-daemons: no service starts during the install\nexit 101\n' >"$policy"
chmod 755 "$policy"
"$here/ensure-debs.sh" "$@"

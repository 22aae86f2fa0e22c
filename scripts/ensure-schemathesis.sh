#!/usr/bin/env bash
# Prints the path of a schemathesis executable: the version pinned in fuzz/rest/requirements.txt (with
# every dependency pinned too), in a virtualenv under .tools/schemathesis. Uses Debian's python3 when
# there is one; as root it installs python3-venv (scripts/ensure-debs.sh) when venv cannot work.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/fuzz/rest/requirements.txt"
venv="$root/.tools/schemathesis"
stamp="$venv/.installed"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [ -x "$venv/bin/schemathesis" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/schemathesis"
  exit 0
fi

python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
if [ -z "$python" ] || ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    "$root/scripts/ensure-debs.sh" python3 python3-venv >&2
    python=/usr/bin/python3
  else
    echo "ensure-schemathesis: needs python3 with venv (Debian: python3-venv; install it as root)" >&2
    exit 1
  fi
fi

echo "ensure-schemathesis: installing $(grep -m1 '^schemathesis==' "$requirements") into $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
echo "$want" > "$stamp"
echo "$venv/bin/schemathesis"

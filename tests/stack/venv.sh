#!/usr/bin/env bash
# Creates (or refreshes) .venv with the pinned local-stack tools when requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=tests/stack/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setting up .venv from $req"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"

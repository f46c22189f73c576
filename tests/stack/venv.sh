#!/usr/bin/env bash
# Creates (or refreshes) a venv with pinned requirements when the requirements file changes.
# Usage: venv.sh [VENV REQUIREMENTS]; default: .venv with the local-stack tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-.venv}
req=${2:-tests/stack/requirements.txt}
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setting up $venv from $req"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"

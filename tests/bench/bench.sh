#!/usr/bin/env bash
# `make bench`: builds what it measures (arm64 zips through `make build`, x86_64 release binaries
# to run here), starts the emulator and servers as `make test` does, and runs the harness.
# Arguments go to the harness (tests/src/bin/bench/main.rs), e.g. `make bench ARGS="--runs 3"`.
set -euo pipefail
cd "$(dirname "$0")/../.."

tests/stack/venv.sh
# The baseline's own environment, apart from the tools': boto3 and awslambdaric only.
req=tests/bench/requirements.txt
stamp=.venv-bench/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if ! [ -x .venv-bench/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv-bench from $req"
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

started=()
cleanup() {
  for s in "${started[@]}"; do
    case "$s" in
    emulator) tests/stack/emulator.sh stop || true ;;
    servers) tests/stack/servers.sh stop || true ;;
    esac
  done
}
trap cleanup EXIT
if ! curl -sf -o /dev/null "http://127.0.0.1:${LATCHKEY_EMULATOR_PORT:-4566}/moto-api/"; then
  tests/stack/emulator.sh start
  started+=(emulator)
fi
tests/stack/servers.sh start
started+=(servers)

make --no-print-directory build
# One build for the functions and the harness, so its proxy adds as little as it can.
packages=(-p latchkey-tests)
for f in functions/*/; do packages+=(-p "latchkey-$(basename "$f")"); done
cargo build --release --locked "${packages[@]}"
target/release/bench "$@"

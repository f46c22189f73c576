#!/usr/bin/env bash
# `make bench`: builds what it measures (arm64 zips through `make build`, x86_64 release binaries
# to run here), starts the emulator and servers as `make test` does, and runs the harness.
# Arguments go to the harness (tests/src/bin/bench/main.rs), e.g. `make bench ARGS="--runs 3"`.
set -euo pipefail
cd "$(dirname "$0")/../.."

tests/stack/venv.sh
# The baseline's own environment, apart from the tools': boto3 and awslambdaric only.
tests/stack/venv.sh .venv-bench tests/bench/requirements.txt
source tests/stack/up.sh

make --no-print-directory build
# One build for the functions and the harness, so its proxy adds as little as it can.
packages=(-p latchkey-tests)
for f in functions/*/; do packages+=(-p "latchkey-$(basename "$f")"); done
cargo build --release --locked "${packages[@]}"
target/release/bench "$@"

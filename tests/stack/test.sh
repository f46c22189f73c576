#!/usr/bin/env bash
# `make test`: everything CI checks, on a fresh machine. Starts what the tests need, lints,
# runs every test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

source tests/stack/up.sh

# The SAM template is valid and lint-clean. No telemetry: the network is loopback only.
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .venv/bin/sam validate --lint --template-file infra/template.yaml

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
mkdir -p .local
cargo test --workspace --locked 2>&1 | tee .local/test.log
# One closing line over every test binary (cargo prints one per binary, the last often empty).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i }' .local/test.log

# The API against its contract: infra/openapi.json validated as OpenAPI 3.1, then schemathesis
# (fixed seed, bounded), and proof that the check can fail.
tests/fuzz/fuzz.sh ci broken

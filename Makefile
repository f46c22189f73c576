# Latchkey: the two commands a newcomer needs. Each sets up what it needs itself.
#   make run    the local stack in the foreground: emulator + API and console on 127.0.0.1:$(LATCHKEY_PORT)
#   make test   everything CI runs: format, lints, unit and integration tests against the emulator,
#               the API fuzzed against its contract, the console in Chromium
#   make build  the arm64 Lambda zips (target/lambda/<function>/bootstrap.zip) and their sizes
#   make bench  the benchmarks BENCHMARKS.md records (slow: release builds, 10,000 credentials)
#   make fuzz   long property-based API tests (schemathesis, random seed; FUZZ_EXAMPLES=200)
#   make openapi  regenerate infra/openapi.json from the code
SHELL := /bin/bash

EMULATOR_PORT := $(or $(LATCHKEY_EMULATOR_PORT),4566)
# The local stack never talks to a real AWS account: the endpoint is forced to the emulator,
# with the emulator's dummy credentials.
export AWS_ENDPOINT_URL := http://127.0.0.1:$(EMULATOR_PORT)
export AWS_REGION := us-east-1
export AWS_ACCESS_KEY_ID := test
export AWS_SECRET_ACCESS_KEY := test
export LATCHKEY_PORT ?= 3000
export LATCHKEY_DEV_JWT_SECRET ?= latchkey-dev-secret

.PHONY: run test build bench watch emulator emulator-stop fmt lint openapi fuzz

run: emulator
	cargo run --quiet -p latchkey-tests --bin local-api

test:
	tests/stack/test.sh

# Every crate under functions/ is the package latchkey-<dir> with the binary <dir>; refresh
# also builds refresh-worker.
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
BINARIES := $(FUNCTIONS) refresh-worker

# cargo-lambda cross-compiles with the Zig linker its PyPI wheel brings; only the Rust target's
# standard library comes from rustup.
build:
	@tests/stack/venv.sh
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --arm64 --locked --output-format zip $(addprefix -p latchkey-,$(FUNCTIONS))
	@{ printf '%-16s %12s\n' function 'zip (bytes)'; for f in $(BINARIES); do \
		printf '%-16s %12s\n' $$f $$(stat -c %s target/lambda/$$f/bootstrap.zip); done; } | tee target/lambda/sizes.txt
	@cd functions/console/web && npm run --silent build 2>&1 | tail -1

bench:
	tests/bench/bench.sh $(ARGS)

fuzz: emulator
	tests/fuzz/fuzz.sh long

# The OpenAPI document, generated from the handlers' types: commit the result (a test fails
# when the checked-in file and the code disagree).
openapi:
	cargo run --quiet --locked -p latchkey-tests --bin local-api -- openapi > infra/openapi.json.tmp
	mv infra/openapi.json.tmp infra/openapi.json

emulator:
	tests/stack/emulator.sh start

emulator-stop:
	tests/stack/emulator.sh stop

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

# `cargo lambda watch` with the environment the template gives each function in the local stack;
# then e.g. `cargo lambda invoke --invoke-address 127.0.0.1 credentials --data-file functions/credentials/events/list-connectors.json`
# or `cargo lambda invoke --invoke-address 127.0.0.1 janitor --data-file functions/janitor/events/scheduled.json`.
watch: emulator
	@mkdir -p .local
	cargo run --quiet -p latchkey-tests --bin local-api -- env > .local/functions.env
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda watch --invoke-address 127.0.0.1 --env-file .local/functions.env

#!/usr/bin/env bash
# Property-based API tests: schemathesis generates valid and invalid requests for every
# operation of infra/openapi.json, follows its links (create -> read -> edit -> test -> share ->
# delete -> restore), and checks that no answer is a 5xx and every answer matches the document
# (status, content type, headers, body schema).
#
#   fuzz.sh ci      bounded and deterministic (fixed seed; FUZZ_EXAMPLES per operation, default
#                   25): with `broken`, what `make test` runs
#   fuzz.sh long    `make fuzz`: every phase (coverage too), a random seed and many more examples
#                   (FUZZ_EXAMPLES, default 200)
#   fuzz.sh broken  the check is live: against a copy of the document with one response field's
#                   type flipped, the run must fail
# Several modes run one after the other against one local stack: `fuzz.sh ci broken`.
#
# Needs the emulator (tests/stack/up.sh starts it). Serves a fresh local stack on its own port.
set -euo pipefail
cd "$(dirname "$0")/../.."
modes=("${@:-ci}")

tests/stack/venv.sh .venv-fuzz tests/fuzz/requirements.txt
.venv-fuzz/bin/openapi-spec-validator --schema 3.1 infra/openapi.json

port=${LATCHKEY_FUZZ_PORT:-3311}
out=.local/fuzz
mkdir -p "$out"
# Every destination a generated credential names is pinned to loopback by tests/fuzz/hooks.py
# (Snowflake's by its base URL here), and the outbound guard refuses loopback
# (LATCHKEY_OUTBOUND_ALLOW stays empty): nothing leaves the stack, not even a DNS query.
# No test rate limit, so that which calls answer 429 does not depend on the wall clock.
export LATCHKEY_OUTBOUND_ALLOW= LATCHKEY_SNOWFLAKE_BASE_URL='http://127.0.0.1:9/{account}'
export LATCHKEY_TEST_RATE_PER_USER=0 LATCHKEY_TEST_RATE_PER_ORG=0
export LATCHKEY_STACK="latchkey-fuzz-$(date +%s)"
source tests/stack/local_api.sh
start_local_api "$port" "$out/local-api.log"
token=$("$local_api" token fuzzer acme)

for mode in "${modes[@]}"; do
  schema=infra/openapi.json
  case "$mode" in
  ci) args=(--seed 20261129 --max-examples "${FUZZ_EXAMPLES:-25}" --phases examples,fuzzing,stateful) ;;
  long) args=(--max-examples "${FUZZ_EXAMPLES:-200}" --phases examples,coverage,fuzzing,stateful) ;;
  broken)
    # CredentialView.version is an integer; say it is a string, and the answers must disagree.
    schema=$out/broken-openapi.json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["components"]["schemas"]["CredentialView"]["properties"]["version"]={"type":"string"}; json.dump(d,open(sys.argv[2],"w"))' infra/openapi.json "$schema"
    args=(--seed 20261129 --max-examples 5 --include-operation-id createCredential --phases fuzzing) ;;
  *) echo "usage: fuzz.sh [ci|long|broken]..." >&2; exit 2 ;;
  esac

  set +e
  SCHEMATHESIS_HOOKS=tests/fuzz/hooks.py .venv-fuzz/bin/schemathesis run "$schema" \
    --url "http://127.0.0.1:$port" -H "Authorization: Bearer $token" \
    --generation-database none --workers 1 \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --report junit,har --report-junit-path "$out/junit-$mode.xml" --report-har-path "$out/requests-$mode.har" \
    "${args[@]}" 2>&1 | tee "$out/schemathesis-$mode.log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$mode" = broken ]; then
    if [ "$rc" -ne 1 ] || ! grep -q "Response violates schema" "$out/schemathesis-$mode.log"; then
      echo "fuzz.sh broken: a response that contradicts the document was not caught (exit $rc)" >&2
      exit 1
    fi
    echo "fuzz.sh broken: the flipped field type was caught, as it must be"
  elif [ "$rc" -ne 0 ]; then
    exit "$rc"
  fi
done

# Sourced by the scripts that test a running local API (fuzz.sh, console-e2e.sh):
#   start_local_api PORT LOG
# serves a fresh local stack (named by LATCHKEY_STACK, set up by the LATCHKEY_* variables of the
# environment) on 127.0.0.1:PORT in the background until the sourcing script exits, and sets
# $local_api (the binary, also for `$local_api token`) and $api (its process id).
# Needs the emulator (tests/stack/up.sh starts it).
start_local_api() {
  local port=$1 log=$2
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "something already listens on 127.0.0.1:$port (a leftover run?)" >&2
    return 1
  fi
  cargo build --quiet --locked -p latchkey-tests --bin local-api
  local_api="$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/local-api"
  LATCHKEY_PORT=$port "$local_api" > "$log" 2>&1 &
  api=$!
  trap 'kill $api 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/openapi.json" && return 0
    kill -0 $api 2>/dev/null || break
    sleep 0.5
  done
  echo "the local API did not come up on 127.0.0.1:$port" >&2
  cat "$log" >&2
  return 1
}

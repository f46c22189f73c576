#!/usr/bin/env bash
# The local AWS emulator on 127.0.0.1:$LATCHKEY_EMULATOR_PORT (default 4566).
#   emulator.sh start   start it unless something already answers there (moto server by default;
#                       LATCHKEY_EMULATOR=localstack runs LocalStack in Docker where Docker exists)
#   emulator.sh stop    stop the one this script started
#   emulator.sh reset   wipe its state (moto only)
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${LATCHKEY_EMULATOR_PORT:-4566}
state=.local
mkdir -p "$state"
pidfile=$state/emulator-$port.pid

ready() {
  curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/" ||
    curl -sf -o /dev/null "http://127.0.0.1:$port/_localstack/health"
}

case "${1:-start}" in
start)
  if ready; then
    echo "emulator already answering on 127.0.0.1:$port"
    exit 0
  fi
  if [ "${LATCHKEY_EMULATOR:-moto}" = localstack ]; then
    docker run -d --rm --name "latchkey-localstack-$port" -p "127.0.0.1:$port:4566" \
      -e SERVICES=dynamodb,secretsmanager,events,s3,iam,sqs,kms localstack/localstack >/dev/null
    echo "docker:latchkey-localstack-$port" > "$pidfile"
  else
    tests/stack/venv.sh
    # One request at a time, transactions rolled back by item: see moto_serial.py for why. Its
    # patches of moto's internals are checked first (the moto version, and the rollback).
    .venv/bin/python tests/stack/moto_serial.py --self-test
    nohup .venv/bin/python tests/stack/moto_serial.py 127.0.0.1 "$port" > "$state/emulator-$port.log" 2>&1 &
    echo $! > "$pidfile"
  fi
  for _ in $(seq 1 120); do
    if ready; then
      echo "emulator ready on 127.0.0.1:$port"
      exit 0
    fi
    sleep 0.5
  done
  echo "emulator did not become ready; see $state/emulator-$port.log" >&2
  exit 1
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  case "$pid" in
  docker:*) docker stop "${pid#docker:}" >/dev/null || true ;;
  *) kill "$pid" 2>/dev/null || true ;;
  esac
  rm -f "$pidfile"
  ;;
reset)
  curl -sf -X POST "http://127.0.0.1:$port/moto-api/reset" >/dev/null
  ;;
*)
  echo "usage: $0 start|stop|reset" >&2
  exit 2
  ;;
esac

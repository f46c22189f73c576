# Sourced by test.sh and bench.sh: starts the emulator (unless one runs) and the test servers,
# and stops what it started when the sourcing script exits.
started=()
stack_down() {
  for s in "${started[@]}"; do
    case "$s" in
    emulator) tests/stack/emulator.sh stop || true ;;
    servers) tests/stack/servers.sh stop || true ;;
    esac
  done
}
trap stack_down EXIT

if ! curl -sf -o /dev/null "http://127.0.0.1:${LATCHKEY_EMULATOR_PORT:-4566}/moto-api/"; then
  tests/stack/emulator.sh start
  started+=(emulator)
fi
# Real servers for the connection tests (PostgreSQL, MariaDB, FTP, SSH, signing S3, OAuth).
tests/stack/servers.sh start
started+=(servers)

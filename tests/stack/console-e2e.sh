#!/usr/bin/env bash
# The console in a real browser: Playwright (pinned in functions/console/web/package-lock.json)
# drives Debian's Chromium (servers.sh installs it) through every screen, against a fresh local
# stack served on its own port with the test servers (PostgreSQL, oidc-provider, ...) reachable.
# Screenshots of each screen and, on failure, traces: .local/console-e2e/.
#   console-e2e.sh [playwright args]     e.g. `-g "share"` for one test
# Needs the emulator and the test servers (tests/stack/up.sh starts them).
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${LATCHKEY_E2E_PORT:-3900}
out=$PWD/.local/console-e2e
rm -rf "$out"
mkdir -p "$out"

# The credentials the tests create reach the local servers; the OAuth provider sends the browser
# back to this stack's callback (registered in tests/stack/oidc/provider.mjs).
export LATCHKEY_OUTBOUND_ALLOW=127.0.0.1/32
export LATCHKEY_OAUTH_REDIRECT_URI="http://127.0.0.1:$port/oauth/callback"
export LATCHKEY_TEST_RATE_PER_USER=0 LATCHKEY_TEST_RATE_PER_ORG=0
# The production sign-in too: tests/stack/oidc's console client, its tokens for this audience.
export LATCHKEY_JWT_ISSUER=http://127.0.0.1:4800 LATCHKEY_JWT_AUDIENCE=urn:latchkey:api
export LATCHKEY_CONSOLE_CLIENT_ID=latchkey-console
export LATCHKEY_STACK="latchkey-e2e-$(date +%s)"
source tests/stack/local_api.sh
start_local_api "$port" "$out/local-api.log"

cd functions/console/web
# build.rs installed it when the console was compiled; by hand, this does.
[ -d node_modules/@playwright/test ] || npm ci
# The bundle as the console function embeds it, and its size against the budget.
npm run --silent build > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
tail -1 "$out/build.log"
LATCHKEY_CONSOLE_URL="http://127.0.0.1:$port/" LATCHKEY_E2E_OUT="$out/results" \
  npx --no-install playwright test "$@"
echo "console screenshots: $out/results"

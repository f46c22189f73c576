import { defineConfig } from '@playwright/test';

// The browser tests drive Debian's Chromium (Playwright's own download cannot reach the internet
// here) against a running local stack: `tests/stack/console-e2e.sh` starts it and sets
// LATCHKEY_CONSOLE_URL; by hand, `make run` and `npx playwright test`.
export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env.LATCHKEY_E2E_OUT ?? 'test-results',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.LATCHKEY_CONSOLE_URL ?? 'http://127.0.0.1:3000/',
    launchOptions: { executablePath: process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium' },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});

// The console end to end, against a running stack (LATCHKEY_CONSOLE_URL): one person's day with
// credentials, in order. Controls are found by role and accessible name only; every screen is
// scanned with axe (no serious or critical violation) and photographed.
import { expect, test, type BrowserContext, type Locator, type Page, type TestInfo } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

const run = Date.now().toString(36);
const names = {
  postgres: `warehouse-${run}`,
  rest: `openid-metadata-${run}`,
  oauth: `oidc-connect-${run}`,
  canary: `canary-holder-${run}`,
};
// A secret typed once: it must never come back anywhere the browser can see.
const canary = `canary-${run}-${Math.random().toString(36).slice(2)}`;

/** Network tests touch only loopback: anything else a page asks for (the provider's login page
 * links a web font) is refused before it leaves the browser. */
async function loopbackOnly(context: BrowserContext) {
  await context.route(
    (url) => !['127.0.0.1', 'localhost'].includes(url.hostname),
    (route) => route.abort('blockedbyclient'),
  );
}

test.describe.serial('the console', () => {
  let page: Page;
  const consoleLines: string[] = [];

  test.beforeAll(async ({ browser }, testInfo) => {
    // One page for the whole story (axe needs it in a context of its own).
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    await loopbackOnly(context);
    page = await context.newPage();
    page.on('console', (m) => consoleLines.push(m.text()));
    page.on('popup', (p) => p.on('console', (m) => consoleLines.push(m.text())));
  });
  test.afterAll(async () => {
    await page.context().close();
  });

  async function screen(name: string, testInfo: TestInfo) {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
    const { violations } = await new AxeBuilder({ page }).analyze();
    const serious = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    expect(serious, `accessibility of ${name}`).toEqual([]);
  }

  async function signIn(user: string, teams: string) {
    await page.goto('console/credentials');
    await page.getByRole('textbox', { name: 'User' }).fill(user);
    await page.getByRole('textbox', { name: 'Organisation' }).fill('acme');
    await page.getByRole('textbox', { name: /Teams/ }).fill(teams);
    await page.getByRole('button', { name: 'Sign in as this user' }).click();
    await expect(page.getByRole('heading', { name: 'Credentials', level: 1 })).toBeVisible();
    await expect(page.getByText(`Signed in as ${user}`)).toBeVisible();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByRole('heading', { name: 'Sign in to Latchkey' })).toBeVisible();
  }

  async function openCredential(name: string) {
    await page.getByRole('link', { name: 'Credentials', exact: true }).click();
    await page.getByRole('searchbox', { name: 'Search by name' }).fill(name);
    await page.getByRole('link', { name, exact: true }).click();
    return page.getByRole('complementary', { name });
  }

  /** Presses Tab until `target` has the focus, as a keyboard user moves through the page. */
  async function tabTo(target: Locator, limit = 40) {
    for (let i = 0; i < limit; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`not reachable with Tab in ${limit} steps: ${target}`);
  }

  async function newCredential(connector: string, name: string) {
    await page.getByRole('link', { name: 'Credentials', exact: true }).click(); // closes any drawer
    await page.getByRole('link', { name: 'New credential' }).click();
    await page.getByRole('textbox', { name: 'Name' }).fill(name);
    await page.getByRole('combobox', { name: 'Connector' }).selectOption({ label: connector });
  }

  test('signs in with the development sign-in', async ({}, testInfo) => {
    await page.goto('console/credentials');
    await expect(page.getByRole('heading', { name: 'Sign in to Latchkey' })).toBeVisible();
    await screen('sign-in', testInfo);
    await signIn('alice', 'data');
    await screen('list', testInfo);
  });

  test('creates a PostgreSQL credential and tests it: valid', async ({}, testInfo) => {
    await newCredential('PostgreSQL', names.postgres);
    await page.getByRole('textbox', { name: 'Host' }).fill('127.0.0.1');
    await page.getByRole('textbox', { name: 'Database' }).fill('sales');
    await page.getByRole('textbox', { name: 'User', exact: true }).fill('latchkey');
    await page.getByLabel(/^Password/).fill('pg-right-password');
    await page.getByRole('spinbutton', { name: 'Port' }).fill('55432');
    // The local server's certificate names localhost and comes from a private CA.
    await page.getByRole('combobox', { name: 'TLS mode' }).selectOption('disable');
    await page.getByRole('textbox', { name: 'Tags' }).fill('e2e sales');
    await page.getByRole('checkbox', { name: /Test the connection when saving/ }).uncheck();
    await expect(page.getByRole('checkbox', { name: /Re-test it on a schedule/ })).toBeChecked();
    await screen('create-form', testInfo);
    await page.getByRole('button', { name: 'Create credential' }).click();

    const drawer = page.getByRole('complementary', { name: names.postgres });
    await expect(drawer).toBeVisible();
    await expect(drawer.getByText('Untested', { exact: true })).toBeVisible();
    await drawer.getByRole('button', { name: 'Test connection' }).click();
    await expect(drawer.getByText('Test result: Valid')).toBeVisible();
    await expect(drawer.getByText('Valid', { exact: true })).toBeVisible();
    await expect(drawer.getByRole('definition').filter({ hasText: /^set$/ })).toBeVisible(); // the password
    await expect(drawer.getByRole('definition').filter({ hasText: /^On, next in / })).toBeVisible(); // the health check
    await expect(page.getByRole('row', { name: new RegExp(names.postgres) }).getByText('Valid')).toBeVisible();
    await screen('drawer', testInfo);
  });

  test('edits it with a wrong password: the test says invalid, with a reason', async ({}, testInfo) => {
    const drawer = page.getByRole('complementary', { name: names.postgres });
    await drawer.getByRole('link', { name: 'Edit' }).click();
    await expect(page.getByRole('heading', { name: `Edit ${names.postgres}` })).toBeVisible();
    const password = page.getByLabel(/^Password/);
    await expect(password).toHaveValue('');
    await expect(password).toHaveAccessibleDescription(/Leave empty to keep it/);
    await password.fill('a-wrong-password');
    await page.getByRole('checkbox', { name: /Re-test it on a schedule/ }).uncheck();
    await screen('edit-form', testInfo);
    await page.getByRole('button', { name: 'Save changes' }).click();

    await expect(drawer).toBeVisible();
    await expect(drawer.getByRole('definition').filter({ hasText: /^Off$/ })).toBeVisible(); // the health check
    await drawer.getByRole('button', { name: 'Test connection' }).click();
    await expect(drawer.getByText('Test result: Invalid')).toBeVisible();
    await expect(drawer.getByText(/Edit the credential and fix it/)).toBeVisible();
    // The list row's status tells its reason on keyboard focus.
    const status = page.getByRole('row', { name: new RegExp(names.postgres) }).getByText('Invalid');
    await status.focus();
    await expect(page.getByRole('tooltip')).toBeVisible();
    await expect(status).toHaveAccessibleDescription(/.+/);
  });

  test('creates a REST API credential with a validation URL: valid', async () => {
    await newCredential('REST API', names.rest);
    await expect(page.getByRole('combobox', { name: 'Authentication' })).toHaveValue('none');
    await page
      .getByRole('textbox', { name: 'Validation URL' })
      .fill('http://127.0.0.1:4800/.well-known/openid-configuration');
    await expect(page.getByRole('combobox', { name: 'Validation method' })).toHaveValue('GET');
    await page.getByRole('button', { name: 'Test before saving' }).click();
    await expect(page.getByText('Test result: Valid')).toBeVisible();
    await page.getByRole('button', { name: 'Create credential' }).click();
    const drawer = page.getByRole('complementary', { name: names.rest });
    await expect(drawer.getByText('Test result: Valid')).toBeVisible(); // the test run at creation
    await expect(drawer.getByText('Valid', { exact: true })).toBeVisible();
  });

  test('works by keyboard: find a credential, open it, test it, close it', async () => {
    await page.getByRole('link', { name: 'Credentials', exact: true }).click();
    await page.getByRole('searchbox', { name: 'Search by name' }).focus();
    await page.keyboard.type(names.rest);
    const link = page.getByRole('link', { name: names.rest, exact: true });
    await tabTo(link);
    await page.keyboard.press('Enter');
    const drawer = page.getByRole('complementary', { name: names.rest });
    await expect(drawer.getByRole('heading', { name: names.rest })).toBeFocused();
    await tabTo(drawer.getByRole('button', { name: 'Test connection' }));
    const tested = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/test'));
    await page.keyboard.press('Enter');
    expect((await tested).status()).toBe(200);
    await expect(drawer.getByText('Test result: Valid')).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(drawer).toBeHidden();
    await expect(link).toBeFocused();
    // Back in the drawer for the next step.
    await page.keyboard.press('Enter');
    await expect(drawer).toBeVisible();
  });

  test('shares it with team ops as collaborator', async ({}, testInfo) => {
    const drawer = page.getByRole('complementary', { name: names.rest });
    await drawer.getByRole('link', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog', { name: `Share ${names.rest}` });
    await expect(dialog).toBeVisible();
    await dialog.getByRole('combobox', { name: 'Grant to' }).selectOption('team');
    await dialog.getByRole('textbox', { name: 'Team id' }).fill('ops');
    await dialog.getByRole('combobox', { name: 'Role', exact: true }).selectOption('collaborator');
    await dialog.getByRole('button', { name: 'Grant access' }).click();
    await expect(dialog.getByRole('row', { name: /team ops/ })).toBeVisible();
    await screen('share-dialog', testInfo);
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(drawer.getByText('team ops · Collaborator')).toBeVisible();
  });

  test('a collaborator in team ops sees it, without secrets or edit controls', async () => {
    await signOut();
    await signIn('dave', 'ops');
    const drawer = await openCredential(names.rest);
    await expect(drawer.getByText('Collaborator').first()).toBeVisible();
    await expect(drawer.getByRole('button', { name: 'Test connection' })).toBeVisible();
    for (const control of ['Edit', 'Share', 'Delete']) {
      await expect(drawer.getByRole('link', { name: control })).toHaveCount(0);
      await expect(drawer.getByRole('button', { name: control })).toHaveCount(0);
    }
    // Not shared with dave's team: not listed at all.
    await page.getByRole('searchbox', { name: 'Search by name' }).fill(names.postgres);
    await expect(page.getByRole('heading', { name: 'No credential matches these filters' })).toBeVisible();
    await signOut();
    await signIn('alice', 'data');
  });

  test('deletes the PostgreSQL credential after the usage warning, and restores it', async ({}, testInfo) => {
    const drawer = await openCredential(names.postgres);
    await expect(drawer).toBeVisible();
    // A data source uses it (the data platform records that through the API).
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    const attached = await page.evaluate(async (credentialId) => {
      const token = JSON.parse(sessionStorage.getItem('latchkey.session') ?? '{}').token;
      const r = await fetch(`credentials/${credentialId}/usages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ kind: 'source', resource_id: 'orders-db', name: 'Orders' }),
      });
      return r.status;
    }, id);
    expect(attached).toBe(201);

    await drawer.getByRole('link', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: `Delete ${names.postgres}?` });
    await expect(dialog.getByText('It is in use.')).toBeVisible();
    await expect(dialog.getByText('Orders', { exact: true })).toBeVisible();
    await screen('delete-dialog', testInfo);
    await dialog.getByRole('button', { name: 'Delete anyway' }).click();
    await expect(page.getByRole('status').filter({ hasText: `Deleted ${names.postgres}` })).toContainText(
      'can be restored from Deleted until',
    );

    await page.getByRole('link', { name: 'Deleted', exact: true }).first().click();
    await expect(page.getByRole('heading', { name: 'Deleted credentials' })).toBeVisible();
    await expect(page.getByRole('row', { name: new RegExp(names.postgres) })).toBeVisible();
    await screen('deleted', testInfo);
    await page.getByRole('button', { name: `Restore ${names.postgres}` }).click();
    await expect(page.getByRole('status').filter({ hasText: `Restored ${names.postgres}` })).toBeVisible();
    await page.getByRole('link', { name: names.postgres }).click();
    await expect(page.getByRole('complementary', { name: names.postgres })).toBeVisible();
  });

  test('a secret typed into a form never comes back', async () => {
    await newCredential('MySQL / MariaDB', names.canary);
    await page.getByRole('textbox', { name: 'Host' }).fill('127.0.0.1');
    await page.getByRole('textbox', { name: 'Database' }).fill('sales');
    await page.getByRole('textbox', { name: 'User', exact: true }).fill('latchkey');
    await page.getByLabel(/^Password/).fill(canary);
    await page.getByRole('checkbox', { name: /Test the connection when saving/ }).uncheck();
    await page.getByRole('button', { name: 'Create credential' }).click();
    const drawer = page.getByRole('complementary', { name: names.canary });
    await expect(drawer).toBeVisible();
    await expect(drawer.getByRole('definition').filter({ hasText: /^set$/ })).toBeVisible();

    // And once more through an edit.
    await drawer.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel(/^Password/).fill(canary);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(drawer).toBeVisible();
    await drawer.getByRole('button', { name: 'Test connection' }).click();
    await expect(drawer.getByText(/Test result:/)).toBeVisible();

    expect(await page.content()).not.toContain(canary);
    expect(page.url()).not.toContain(canary);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toContain(canary);
  });

  test('the connected page reports the outcome', async ({}, testInfo) => {
    await page.goto('console/connected?credential_id=cred_01example&error=access_denied');
    await expect(page.getByRole('heading', { name: 'Not connected' })).toBeVisible();
    await expect(page.getByText('Access was declined at the provider.')).toBeVisible();
    await page.goto('console/connected?credential_id=cred_01example&result=connected');
    await expect(page.getByRole('heading', { name: 'Connected' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Back to the credential' })).toBeVisible();
    await screen('connected', testInfo);
  });

  test('no secret reached the console log during the run', async () => {
    expect(consoleLines.join('\n')).not.toContain(canary);
    expect(consoleLines.join('\n')).not.toMatch(/pg-right-password|a-wrong-password|latchkey-test-secret/);
  });

  test('connects an OAuth 2.0 authorization-code credential through the provider', async ({}, testInfo) => {
    // The provider (tests/stack/oidc) sends people back only to registered callbacks: those of
    // the stacks on :3000 (`make run`) and :3900 (the browser tests'). Elsewhere (a dev server
    // proxying another port) it refuses with invalid_redirect_uri before any login.
    const port = new URL(testInfo.project.use.baseURL ?? '').port;
    test.fixme(!['3000', '3900'].includes(port), 'the provider does not know this stack\'s /oauth/callback');
    await page.goto('console/credentials');
    await newCredential('REST API', names.oauth);
    await page.getByRole('combobox', { name: 'Authentication' }).selectOption({ label: 'OAuth 2.0 authorization code' });
    await page.getByRole('textbox', { name: 'Authorization URL' }).fill('http://127.0.0.1:4800/auth');
    await page.getByRole('textbox', { name: 'Token URL', exact: true }).fill('http://127.0.0.1:4800/token');
    await page.getByRole('textbox', { name: 'Client ID' }).fill('latchkey-test');
    await page.getByLabel(/^Client secret/).fill('latchkey-test-secret');
    await page.getByRole('textbox', { name: 'Scopes' }).fill('openid offline_access read');
    await expect(page.getByRole('checkbox', { name: 'Requires auto-refresh of token' })).toBeChecked();
    await page.getByRole('checkbox', { name: /Test the connection when saving/ }).uncheck();
    await page.getByRole('button', { name: 'Create credential' }).click();
    const drawer = page.getByRole('complementary', { name: names.oauth });
    await expect(drawer).toBeVisible();

    const popupOpened = page.waitForEvent('popup');
    await drawer.getByRole('button', { name: 'Connect', exact: true }).click();
    const popup = await popupOpened;
    await popup.getByRole('textbox', { name: 'Enter any login' }).fill('alice');
    await popup.getByRole('textbox', { name: 'and password' }).fill('any-password');
    await popup.getByRole('button', { name: 'Sign-in' }).click();
    await popup.getByRole('button', { name: 'Continue' }).click();
    await expect(drawer.getByText('Connected through the provider')).toBeVisible();
    await expect(drawer.getByText('Valid', { exact: true })).toBeVisible();
  });

  test('signs in through the organisation\'s OpenID Connect provider', async ({ browser }, testInfo) => {
    // Offered where the stack names a console client (the browser tests' stack does).
    const port = new URL(testInfo.project.use.baseURL ?? '').port;
    test.fixme(port !== '3900', 'only the browser tests\' stack names a console client');
    // A browser of its own: no provider session from the OAuth connect above.
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    await loopbackOnly(context);
    const fresh = await context.newPage();
    await fresh.goto('console/credentials/deleted');
    await expect(fresh.getByRole('heading', { name: 'Sign in to Latchkey' })).toBeVisible();
    await fresh.getByRole('button', { name: 'Sign in', exact: true }).click();
    // The provider's pages (tests/stack/oidc: erin is in acme, team data).
    await fresh.getByRole('textbox', { name: 'Enter any login' }).fill('erin');
    await fresh.getByRole('textbox', { name: 'and password' }).fill('any-password');
    await fresh.getByRole('button', { name: 'Sign-in' }).click();
    await fresh.getByRole('button', { name: 'Continue' }).click();
    // Back where sign-in was asked for, with the provider's access token as the API's bearer.
    await expect(fresh.getByRole('heading', { name: 'Deleted credentials' })).toBeVisible();
    await expect(fresh.getByText('Signed in as erin')).toBeVisible();
    expect(new URL(fresh.url()).pathname).toBe('/console/credentials/deleted');
    await fresh.getByRole('link', { name: 'Credentials', exact: true }).click();
    await expect(fresh.getByRole('heading', { name: 'Credentials', level: 1 })).toBeVisible();
    await expect(fresh.getByRole('alert')).toHaveCount(0);
    await fresh.screenshot({ path: testInfo.outputPath('signed-in-oidc.png'), fullPage: true });
    // Tokens live in this tab's sessionStorage only.
    expect(await fresh.evaluate(() => localStorage.length)).toBe(0);
    await context.close();
  });
});

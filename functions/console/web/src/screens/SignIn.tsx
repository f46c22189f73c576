import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { apiRoot } from '../api/client';
import { session } from '../session';
import { completeSignIn, oidcConfig, signIn, type OidcConfig } from '../oidc';
import { paths } from '../routes';
import { useTitle } from '../lib/useTitle';

/** The local stack's development sign-in (`make run`): mints a dev JWT for any user, org and
 * teams. It exists only where the local gateway serves `dev/token`; a deployed stack has no such
 * route, and the form is not shown there. */
const devToken = new URL('dev/token', apiRoot);

interface Ways {
  oidc: OidcConfig | null;
  dev: boolean;
}

async function waysToSignIn(): Promise<Ways> {
  const [oidc, dev] = await Promise.all([
    oidcConfig(),
    fetch(devToken, { headers: { Accept: 'application/json' } })
      .then((r) => r.ok)
      .catch(() => false),
  ]);
  return { oidc, dev };
}

export function SignIn() {
  useTitle('Sign in');
  const { path, url } = useLocation();
  const [ways, setWays] = useState<Ways | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    waysToSignIn().then(setWays);
  }, []);

  async function submitDev(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const teams = String(form.get('teams') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const r = await fetch(devToken, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sub: form.get('user'), org_id: form.get('org'), teams }),
    });
    const body = (await r.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
    if (!r.ok || !body.token) {
      setError(body.error?.message ?? `Sign-in failed (${r.status}).`);
      return;
    }
    session.start(body.token, 'dev');
  }

  async function startOidc(config: OidcConfig) {
    setError(null);
    try {
      // Back to the screen that asked, unless it was the sign-in page itself.
      await signIn(config, path === paths.signIn ? paths.list : url);
    } catch {
      setError('The sign-in service could not be reached. Try again in a moment.');
    }
  }

  return (
    <main id="main" tabIndex={-1} class="sign-in">
      <h1>Sign in to Latchkey</h1>
      {ways === null && <p role="status">Loading…</p>}
      {ways?.oidc && (
        <section aria-labelledby="oidc-heading">
          <h2 id="oidc-heading">With your organisation's account</h2>
          <button type="button" class="primary" onClick={() => startOidc(ways.oidc!)}>
            Sign in
          </button>
        </section>
      )}
      {ways?.dev && (
        <form onSubmit={submitDev} aria-labelledby="dev-heading">
          <h2 id="dev-heading">Development sign-in</h2>
          <p class="hint">Only the local stack offers this: it signs you in as anyone you name.</p>
          <label>
            User
            <input name="user" required defaultValue="alice" autocomplete="username" />
          </label>
          <label>
            Organisation
            <input name="org" required defaultValue="acme" />
          </label>
          <label>
            Teams <span class="hint">(comma-separated)</span>
            <input name="teams" defaultValue="data" />
          </label>
          <button type="submit">Sign in as this user</button>
        </form>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {ways && !ways.oidc && !ways.dev && <p>No sign-in is configured for this console.</p>}
    </main>
  );
}

/** `console/signed-in`: where the issuer sends the browser back with a code. */
export function SignedIn() {
  useTitle('Signing in');
  const { route } = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    (async () => {
      const config = await oidcConfig();
      if (!config) throw new Error('no sign-in configured');
      const returnTo = await completeSignIn(config);
      route(returnTo ?? paths.list, true);
    })().catch(() =>
      setError('Signing in did not complete (it may have been used already or have expired).'),
    );
  }, []);
  return (
    <main id="main" tabIndex={-1} class="sign-in">
      <h1>Signing in</h1>
      {error ? (
        <p role="alert" class="error">
          {error} <a href={paths.signIn}>Sign in again</a>.
        </p>
      ) : (
        <p role="status">Completing the sign-in…</p>
      )}
    </main>
  );
}

// The production sign-in: OpenID Connect authorization code with PKCE against the stack's
// JwtIssuer, through oidc-client-ts. The console function says whether and where
// (`console/config.json`). The access token it obtains (a JWT for the API's audience) is the
// bearer token the API's JWT authorizer checks.
import { InMemoryWebStorage, UserManager, WebStorageStateStore } from 'oidc-client-ts';
import { apiRoot } from './api/client';
import { session } from './session';

export interface OidcConfig {
  authority: string;
  client_id: string;
  scope: string;
}

/** How this deployment signs people in: `null` when it names no console client. */
export async function oidcConfig(): Promise<OidcConfig | null> {
  try {
    const r = await fetch(new URL('console/config.json', apiRoot), { headers: { Accept: 'application/json' } });
    if (!r.ok) return null;
    const body = (await r.json()) as { oidc?: OidcConfig | null };
    return body.oidc ?? null;
  } catch {
    return null;
  }
}

function manager(config: OidcConfig): UserManager {
  return new UserManager({
    authority: config.authority,
    client_id: config.client_id,
    scope: config.scope,
    redirect_uri: new URL('console/signed-in', apiRoot).href,
    response_type: 'code',
    // The round trip's state and PKCE verifier survive the redirect in this tab only; the
    // tokens are handed to `session` (sessionStorage) and not kept a second time.
    stateStore: new WebStorageStateStore({ store: sessionStorage }),
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    automaticSilentRenew: false,
    loadUserInfo: false,
  });
}

/** Off to the issuer; back on `console/signed-in`, then to `returnTo`. */
export async function signIn(config: OidcConfig, returnTo: string): Promise<void> {
  await manager(config).signinRedirect({ state: { returnTo } });
}

/** On `console/signed-in`: exchanges the code, starts the session, says where to go on. */
export async function completeSignIn(config: OidcConfig): Promise<string | null> {
  const user = await manager(config).signinRedirectCallback();
  session.start(user.access_token, 'oidc');
  const state = user.state as { returnTo?: string } | undefined;
  return state?.returnTo ?? null;
}

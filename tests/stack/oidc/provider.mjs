// oidc-provider on 127.0.0.1 only, for two kinds of tests, through its development login and
// consent pages (any login, any password):
// - the token lifecycle tests (client latchkey-test): short access tokens, refresh token
//   rotation, a finite refresh token lifetime, revocation, PKCE required;
// - the console's production sign-in (client latchkey-console, public, PKCE): the browser gets a
//   JWT access token for the API (audience urn:latchkey:api, the stack's JwtAudience) carrying the
//   account's org_id and teams, as a company's identity provider would issue it.
// Usage: node provider.mjs PORT REDIRECT_URI
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 4800);
const redirect = process.argv[3] || 'http://127.0.0.1:9/oauth/callback';
// The template's JwtAudience for these stacks (a resource indicator is an absolute URI).
const API_AUDIENCE = 'urn:latchkey:api';
const CONSOLE_CLIENT = 'latchkey-console';
// The console stacks: `make run`'s and the browser tests'.
const consoles = ['http://127.0.0.1:3000', 'http://127.0.0.1:3900'];

// Who belongs where: the accounts the browser tests sign in as; anyone else is in acme, no team.
const directory = {
  erin: { org_id: 'acme', teams: ['data'] },
  frank: { org_id: 'acme', teams: ['ops'] },
};
const membership = (sub) => directory[sub] ?? { org_id: 'acme', teams: [] };

const configuration = {
  clients: [
    {
      client_id: 'latchkey-test',
      client_secret: 'latchkey-test-secret',
      // The tests' callback, and the console stacks', for the connect flow.
      redirect_uris: [redirect, ...consoles.map((c) => `${c}/oauth/callback`)],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      scope: 'openid offline_access read',
    },
    {
      client_id: CONSOLE_CLIENT,
      token_endpoint_auth_method: 'none',
      redirect_uris: consoles.map((c) => `${c}/console/signed-in`),
      post_logout_redirect_uris: consoles.map((c) => `${c}/console/sign-in`),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid profile',
    },
  ],
  scopes: ['openid', 'offline_access', 'read', 'profile'],
  claims: { openid: ['sub'], profile: ['org_id', 'teams'] },
  async findAccount(ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub, ...membership(sub) }) };
  },
  // The console's access tokens are JWTs for the API; the lifecycle tests' stay opaque.
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'AccessToken' && token.clientId === CONSOLE_CLIENT) {
      return membership(token.accountId);
    }
    return undefined;
  },
  // The console exchanges its code from the browser: its token endpoint calls are cross-origin.
  clientBasedCORS: (ctx, origin, client) => client.clientId === CONSOLE_CLIENT && consoles.includes(origin),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client?.clientId === CONSOLE_CLIENT ? API_AUDIENCE : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== API_AUDIENCE) throw new Error(`unknown resource ${resource}`);
        return { scope: 'openid profile', audience: API_AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  pkce: { methods: ['S256'], required: () => true },
  ttl: { AccessToken: 4, ClientCredentials: 4, RefreshToken: 120, AuthorizationCode: 60, Interaction: 300, Session: 300, Grant: 300, IdToken: 3600 },
  rotateRefreshToken: true,
  cookies: { keys: ['latchkey-test-only-cookie-key'] },
};
const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider on 127.0.0.1:${port}`));

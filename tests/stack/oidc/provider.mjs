// oidc-provider for the token lifecycle tests, on 127.0.0.1 only: short access tokens,
// refresh token rotation, a finite refresh token lifetime, revocation, PKCE required, and the
// development login/consent pages, which the tests drive with plain HTTP.
// Usage: node provider.mjs PORT REDIRECT_URI
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 4800);
const redirect = process.argv[3] || 'http://127.0.0.1:9/oauth/callback';
const configuration = {
  clients: [{
    client_id: 'latchkey-test',
    client_secret: 'latchkey-test-secret',
    // The tests' callback, and `make run`'s, for trying the flow by hand.
    redirect_uris: [redirect, 'http://127.0.0.1:3000/oauth/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    scope: 'openid offline_access read',
  }],
  scopes: ['openid', 'offline_access', 'read'],
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { methods: ['S256'], required: () => true },
  ttl: { AccessToken: 4, ClientCredentials: 4, RefreshToken: 120, AuthorizationCode: 60, Interaction: 300, Session: 300, Grant: 300 },
  rotateRefreshToken: true,
  cookies: { keys: ['latchkey-test-only-cookie-key'] },
};
const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider on 127.0.0.1:${port}`));

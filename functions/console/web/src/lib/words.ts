// What the API's codes mean, in words a person can act on.
import type { Credential, Problem, Schemas } from '../api/client';
import { may } from './roles';

type Status = Schemas['Status'];

export const statusWords: Record<Status, string> = {
  valid: 'Valid',
  invalid: 'Invalid',
  untested: 'Untested',
  reauth_required: 'Re-authentication required',
};

export const verdictWords: Record<Schemas['Verdict'], string> = {
  valid: 'Valid',
  invalid: 'Invalid',
  inconclusive: 'Inconclusive',
};

export const triggerWords: Record<Schemas['Trigger'], string> = {
  create: 'the test run when it was created',
  test: 'a connection test',
  flow: 'a data flow that used it',
  refresh: 'a token refresh',
  edit: 'an edit of its connection details',
  connect: 'connecting through the OAuth provider',
  scheduled_check: 'the scheduled health check',
};

export const historyWords: Record<Schemas['HistoryAction'], string> = {
  created: 'Created',
  edited: 'Edited',
  deleted: 'Deleted',
  restored: 'Restored',
  shared: 'Shared',
  role_changed: 'Changed a role',
  revoked: 'Revoked access',
  owner_changed: 'Transferred ownership',
  usage_added: 'Attached to a data source or destination',
  usage_removed: 'Detached from a data source or destination',
  tested: 'Tested',
  status_changed: 'Status changed',
  used: 'Used by a data flow',
  flow_failure_reported: 'A data flow reported a failure',
  refreshed: 'Token refreshed',
  refresh_failed: 'Token refresh failed',
  connected: 'Connected through the OAuth provider',
  storage_moved: 'Secrets moved to another storage mode',
};

export const isAuthorizationCode = (c: Pick<Credential, 'auth_type'>) => c.auth_type === 'oauth2_authorization_code';

/** What to do about a credential's status, for the person looking at it. */
export function advice(c: Credential): string | null {
  const fix = may.edit(c.access_role)
    ? 'Edit the credential and fix it'
    : 'Ask an admin of this credential (its owner is ' + personWords(c.owner) + ') to fix it';
  switch (c.status) {
    case 'valid':
      return null;
    case 'untested':
      return c.status_code === 'edited'
        ? 'Its connection details changed since the last test: test the connection again.'
        : 'Test the connection to find out whether it works.';
    case 'reauth_required':
      if (!isAuthorizationCode(c)) return `${fix}: supply new secrets, then test the connection.`;
      return may.connect(c.access_role)
        ? 'Re-authenticate: sign in at the provider again so the service gets new tokens.'
        : 'An admin of this credential needs to re-authenticate it at the provider.';
    case 'invalid':
      switch (c.status_code) {
        case 'auth_rejected':
        case 'flow_auth_failed':
          return `${fix}: correct the user name or the secret, then test the connection.`;
        case 'refresh_failed':
          return `The service could not refresh the token. ${fix} (token URL, client id or secret), then test the connection.`;
        default:
          return `${fix} as the reason says, then test the connection.`;
      }
  }
}

/** An API refusal as a sentence; the API's own message (never a secret) when nothing better fits. */
export function problemWords(p: Problem): string {
  switch (p.code) {
    case 'network':
    case 'unexpected':
      return p.message;
    case 'unauthenticated':
      return 'Your sign-in has expired. Sign in again.';
    case 'not_found':
      return 'This credential does not exist, or it is not shared with you.';
    case 'forbidden':
      return `Your access is not enough for this: ${p.message}.`;
    case 'version_mismatch':
    case 'edit_conflict':
      return 'Someone else changed this credential in the meantime. Reload it to see their change, then make yours again.';
    case 'credential_deleted':
      return 'This credential has been deleted. An admin can restore it from Deleted.';
    case 'credential_in_use':
      return 'Data sources or destinations still use this credential.';
    case 'secrets_required':
      return `Type the secret fields again: ${p.message}.`;
    case 'rate_limited':
      return `Too many connection tests in the last minute${p.retryAfter ? `: try again in ${p.retryAfter} seconds` : ''}. ${p.message}.`;
    case 'payload_too_large':
      return 'This is too large to save: shorten the longest values (64 KiB at most in all).';
    case 'recovery_window_expired':
      return 'Its recovery window has ended: it can no longer be restored.';
    case 'internal_error':
      return 'The service failed to do this. Try again in a moment.';
    default:
      return capitalise(p.message) + (p.message.endsWith('.') ? '' : '.');
  }
}

const connectErrorWords: Record<string, string> = {
  access_denied: 'Access was declined at the provider.',
  initiator_lost_access: 'Your access to this credential changed while you were at the provider, so nothing was stored.',
  credential_changed: 'The credential changed while you were at the provider (its URLs or client id), so nothing was stored. Try again.',
  credential_gone: 'The credential was deleted while you were at the provider.',
};

/** The outcome of connecting through the provider (`error=<code>` on the connected page). */
export function connectErrorText(code: string): string {
  return connectErrorWords[code] ?? `The provider did not grant access (${code}). Check the client id, secret and scopes, then try again.`;
}

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `user:alice` → "user alice", `org:acme` → "organisation acme". */
export function principalWords(principal: string): string {
  const [kind = '', id = ''] = principal.split(/:(.*)/s);
  const kinds: Record<string, string> = { user: 'user', team: 'team', org: 'organisation' };
  return kinds[kind] ? `${kinds[kind]} ${id}` : principal;
}

/** `user:alice` → "alice": the API names people as principals. */
export function personWords(principal: string): string {
  return principal.replace(/^user:/, '');
}

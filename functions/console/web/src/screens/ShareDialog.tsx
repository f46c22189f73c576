import { useState } from 'preact/hooks';
import { api, call, type Credential, type Role, type Schemas } from '../api/client';
import { session } from '../session';
import { useAction, useApi } from '../lib/useApi';
import { grantableRoles, may, mayChangeGrant, roleWords } from '../lib/roles';
import { principalWords } from '../lib/words';
import { Dialog } from '../components/Dialog';
import { ProblemText } from '../components/ProblemText';

type Kind = Schemas['PrincipalKind'];
const kindWords: Record<Kind, string> = { user: 'User', team: 'Team', org: 'Organisation' };

/** Who has access, and (for admins and the owner) granting, changing, revoking and transferring. */
export function ShareDialog({
  credential: c,
  onClose,
  onChanged,
}: {
  credential: Credential;
  onClose: () => void;
  onChanged: () => void;
}) {
  const id = c.id;
  const accessors = useApi(() => call(api.GET('/credentials/{id}/accessors', { params: { path: { id } } })), [id, c.version]);
  const [done, setDone] = useState<string | null>(null);
  const offered = grantableRoles(c.access_role);

  const changed = (words: string) => {
    setDone(words);
    onChanged(); // the credential's version moved: the list of accessors reloads with it
  };
  const grant = useAction(async (kind: Kind, pid: string, role: Role) => {
    await call(
      api.PUT('/credentials/{id}/accessors/{type}/{pid}', { params: { path: { id, type: kind, pid } }, body: { role } }),
    );
    changed(`${principalWords(`${kind}:${pid}`)} now has ${roleWords[role].toLowerCase()} access.`);
  });
  const revoke = useAction(async (a: Schemas['Accessor']) => {
    await call(api.DELETE('/credentials/{id}/accessors/{type}/{pid}', { params: { path: { id, type: a.type, pid: a.id } } }));
    changed(`Revoked the access of ${principalWords(a.principal)}.`);
  });

  return (
    <Dialog id="share" title={`Share ${c.name}`} onClose={onClose}>
      <ProblemText problem={accessors.error ?? grant.error ?? revoke.error} />
      <div role="status" class="live">
        {done && <p>{done}</p>}
      </div>
      <table class="grid compact">
        <caption class="sr-only">Who has access</caption>
        <thead>
          <tr>
            <th scope="col">Who</th>
            <th scope="col">Role</th>
            <th scope="col">
              <span class="sr-only">Revoke</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {accessors.data?.items.map((a) => {
            const who = principalWords(a.principal);
            const changeable = mayChangeGrant(c.access_role, a.role);
            return (
              <tr key={a.principal}>
                <th scope="row">{who}</th>
                <td>
                  {changeable ? (
                    <select
                      aria-label={`Role of ${who}`}
                      value={a.role}
                      onChange={(e) => grant.run(a.type, a.id, e.currentTarget.value as Role)}
                    >
                      {offered.map((r) => (
                        <option value={r}>{roleWords[r]}</option>
                      ))}
                    </select>
                  ) : (
                    roleWords[a.role]
                  )}
                </td>
                <td>
                  {changeable && (
                    <button type="button" class="quiet" onClick={() => revoke.run(a)} disabled={revoke.busy}>
                      Revoke {who}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {offered.length > 0 ? (
        <GrantForm offered={offered} busy={grant.busy} onGrant={grant.run} />
      ) : (
        <p class="muted">Your access ({roleWords[c.access_role].toLowerCase()}) lets you see who has access, not change it.</p>
      )}
      {may.transferOwnership(c.access_role) && <TransferOwnership credential={c} onTransferred={changed} />}
      <div class="dialog-foot">
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

function GrantForm({
  offered,
  busy,
  onGrant,
}: {
  offered: Role[];
  busy: boolean;
  onGrant: (kind: Kind, pid: string, role: Role) => Promise<unknown>;
}) {
  const [kind, setKind] = useState<Kind>('team');
  const [pid, setPid] = useState('');
  const [role, setRole] = useState<Role>('collaborator');
  const org = session.current()?.org ?? '';
  return (
    <form
      class="grant"
      aria-labelledby="grant-title"
      onSubmit={async (e) => {
        e.preventDefault();
        await onGrant(kind, kind === 'org' ? org : pid.trim(), role);
        setPid('');
      }}
    >
      <h3 id="grant-title">Grant access</h3>
      <p class="hint">Share with a user, a team or your whole organisation ({org}). Collaborators can use it but never see a secret.</p>
      <div class="row">
        <label>
          Grant to
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
            {(Object.keys(kindWords) as Kind[]).map((k) => (
              <option value={k}>{kindWords[k]}</option>
            ))}
          </select>
        </label>
        {kind !== 'org' && (
          <label>
            {kind === 'user' ? 'User id' : 'Team id'}
            <input
              value={pid}
              required
              pattern="[A-Za-z0-9._@|+=\-]{1,128}"
              title="Letters, digits and . _ @ | + = -"
              autocapitalize="off"
              spellcheck={false}
              onInput={(e) => setPid(e.currentTarget.value)}
            />
          </label>
        )}
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {offered.map((r) => (
              <option value={r}>{roleWords[r]}</option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary" aria-busy={busy}>
          Grant access
        </button>
      </div>
    </form>
  );
}

function TransferOwnership({ credential: c, onTransferred }: { credential: Credential; onTransferred: (words: string) => void }) {
  const [user, setUser] = useState('');
  const [confirming, setConfirming] = useState(false);
  const transfer = useAction(async () => {
    await call(api.POST('/credentials/{id}/owner', { params: { path: { id: c.id } }, body: { user: user.trim() } }));
    setConfirming(false);
    onTransferred(`${user.trim()} is now the owner; you keep admin access.`);
    setUser('');
  });
  return (
    <form
      class="grant"
      aria-labelledby="transfer-title"
      onSubmit={(e) => {
        e.preventDefault();
        setConfirming(true);
      }}
    >
      <h3 id="transfer-title">Transfer ownership</h3>
      <div class="row">
        <label>
          New owner (user id)
          <input
            value={user}
            required
            pattern="[A-Za-z0-9._@|+=\-]{1,128}"
            autocapitalize="off"
            spellcheck={false}
            onInput={(e) => {
              setUser(e.currentTarget.value);
              setConfirming(false);
            }}
          />
        </label>
        {!confirming && <button type="submit">Transfer ownership…</button>}
      </div>
      {confirming && (
        <div class="confirm" role="alert">
          <p>
            Make <strong>{user.trim()}</strong> the owner of {c.name}? You keep admin access, but only the new owner can
            grant admin or transfer it again.
          </p>
          <button type="button" class="danger" aria-busy={transfer.busy} onClick={() => transfer.run()}>
            Yes, make {user.trim()} the owner
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      <ProblemText problem={transfer.error} />
    </form>
  );
}

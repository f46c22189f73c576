import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, call, type Connector, type Credential, type Schemas } from '../api/client';
import { paths } from '../routes';
import { connectorLabel, findAuthType, findConnector, formFields, type FieldView } from '../lib/catalog';
import { fromJson } from '../lib/formValues';
import { useAction, usePaged, type Loaded } from '../lib/useApi';
import { may, roleWords } from '../lib/roles';
import { advice, connectErrorText, historyWords, isAuthorizationCode, personWords, principalWords, triggerWords } from '../lib/words';
import { listenForConnect, type ConnectMessage } from '../lib/connectChannel';
import { recentTests } from '../lib/recentTests';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { ProblemText } from '../components/ProblemText';
import { Verdict } from '../components/Verdict';
import { Tags } from './CredentialList';
import { MoreFoot } from '../components/MoreFoot';

type Report = Schemas['TestReport'] & Partial<Pick<Schemas['SavedTestReport'], 'status_recorded'>>;

/** One credential, in a drawer over the list: what it is, its status and what to do about it. */
export function CredentialDrawer({
  id,
  credential,
  catalog,
  closeHref,
  shareHref,
  removeHref,
}: {
  id: string;
  credential: Loaded<Credential | undefined>;
  catalog: Connector[] | undefined;
  closeHref: string;
  shareHref: string;
  removeHref: string;
}) {
  const { route } = useLocation();
  const heading = useRef<HTMLHeadingElement>(null);
  const c = credential.data?.id === id ? credential.data : undefined;
  // Focus moves into the drawer when it opens (or shows another credential).
  useEffect(() => {
    if (c) heading.current?.focus();
  }, [c?.id]);

  return (
    <aside
      class="drawer"
      aria-labelledby="drawer-title"
      aria-busy={credential.loading}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && !document.querySelector('dialog[open]')) route(closeHref);
      }}
    >
      <div class="drawer-head">
        <h2 id="drawer-title" ref={heading} tabIndex={-1}>
          {c?.name ?? 'Credential'}
        </h2>
        <a class="icon-button" href={closeHref} aria-label="Close details">
          <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
            <path d="M4 4l8 8M12 4l-8 8" />
          </svg>
        </a>
      </div>
      {!c && credential.loading && (
        <p role="status" class="muted">
          Loading…
        </p>
      )}
      <ProblemText problem={credential.error} />
      {c && <DrawerBody key={c.id} c={c} catalog={catalog} reload={credential.reload} shareHref={shareHref} removeHref={removeHref} />}
    </aside>
  );
}

function DrawerBody({
  c,
  catalog,
  reload,
  shareHref,
  removeHref,
}: {
  c: Credential;
  catalog: Connector[] | undefined;
  reload: () => void;
  shareHref: string;
  removeHref: string;
}) {
  const [report, setReport] = useState<Report | undefined>(() => recentTests.take(c.id));
  const [connectOutcome, setConnectOutcome] = useState<ConnectMessage | null>(null);
  const [refreshNote, setRefreshNote] = useState<string | null>(null);
  const id = c.id;

  const test = useAction(async () => {
    setReport(undefined);
    setReport(await call(api.POST('/credentials/{id}/test', { params: { path: { id } } })));
    reload();
  });
  const refresh = useAction(async () => {
    const answer = await call(api.POST('/credentials/{id}/refresh', { params: { path: { id } } }));
    setRefreshNote(refreshWords(answer.refresh));
    reload();
  });
  const connect = useAction(async () => {
    setConnectOutcome(null);
    const answer = await call(
      api.GET('/credentials/{id}/oauth/authorize', { params: { path: { id }, header: { Accept: 'application/json' } } }),
    );
    const url = answer.authorization_url;
    // A popup keeps the console open; where popups are blocked, this tab goes instead.
    if (!window.open(url, 'latchkey-connect', 'popup,width=640,height=760')) location.assign(url);
  });
  // The provider's answer arrives on the connected page, in the other window.
  useEffect(
    () =>
      listenForConnect((m) => {
        if (m.credential_id !== id) return;
        setConnectOutcome(m);
        reload();
      }),
    [id],
  );

  const connector = findConnector(catalog, c.connector);
  const authType = findAuthType(catalog, c.connector, c.auth_type);
  const todo = advice(c);
  const role = c.access_role;
  const oauthCode = isAuthorizationCode(c);

  return (
    <div class="drawer-body">
      <section aria-labelledby="status-title" class="status-block">
        <h3 id="status-title" class="sr-only">
          Status
        </h3>
        <p>
          <StatusBadge status={c.status} id={`drawer-status-${c.id}`} />
          {c.status_trigger && c.status_changed_at && (
            <span class="muted">
              {' '}
              · set by {triggerWords[c.status_trigger]}, <Time at={c.status_changed_at} />
            </span>
          )}
        </p>
        {c.status_reason && <p>{c.status_reason}</p>}
        {todo && (
          <p class="advice">
            <strong>What to do:</strong> {todo}
          </p>
        )}
        <p class="muted">
          Last tested: <Time at={c.verified_at} />
        </p>
      </section>

      <div class="actions" role="group" aria-label="Actions">
        <button type="button" aria-busy={test.busy} onClick={() => !test.busy && test.run()}>
          {test.busy ? 'Testing…' : 'Test connection'}
        </button>
        {oauthCode && may.connect(role) && (
          <button type="button" aria-busy={connect.busy} onClick={() => !connect.busy && connect.run()}>
            {c.status === 'reauth_required' || c.token?.expires_at ? 'Re-authenticate' : 'Connect'}
          </button>
        )}
        {may.edit(role) && (
          <a class="button" href={paths.edit(c.id)}>
            Edit
          </a>
        )}
        {may.share(role) && (
          <a class="button" href={shareHref}>
            Share
          </a>
        )}
        {may.remove(role) && (
          <a class="button danger" href={removeHref}>
            Delete
          </a>
        )}
      </div>
      <div role="status" aria-live="polite" class="live">
        {test.busy && <p>Testing the connection…</p>}
        {report && <Verdict report={report} />}
        {connect.busy && <p>Asking the service for the provider's sign-in page…</p>}
        {connectOutcome &&
          (connectOutcome.error ? (
            <p class="error">Connecting failed: {connectErrorText(connectOutcome.error)}</p>
          ) : (
            <p>Connected through the provider: the service holds new tokens.</p>
          ))}
        {refreshNote && <p>{refreshNote}</p>}
      </div>
      <ProblemText problem={test.error ?? connect.error ?? refresh.error} />

      <section aria-labelledby="details-title">
        <h3 id="details-title">Details</h3>
        <dl class="facts">
          <dt>Connector</dt>
          <dd>{connectorLabel(catalog, c.connector)}</dd>
          <dt>Authentication</dt>
          <dd>{authType?.label ?? c.auth_type}</dd>
          <dt>Description</dt>
          <dd>{c.description ?? <span class="muted">none</span>}</dd>
          {fieldsShown(c, formFields(authType)).map(({ label, value }) => (
            <>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </>
          ))}
          <dt>Tags</dt>
          <dd>
            <Tags tags={c.tags} />
          </dd>
          {!c.token && (
            <>
              <dt>Health check</dt>
              <dd>
                {c.health_check ? (
                  c.next_check_at ? (
                    <>
                      On, next <Time at={c.next_check_at} />
                    </>
                  ) : (
                    'On'
                  )
                ) : (
                  'Off'
                )}
              </dd>
            </>
          )}
          <dt>Owner</dt>
          <dd>{personWords(c.owner)}</dd>
          <dt>Your role</dt>
          <dd>{roleWords[role]}</dd>
          <dt>Created</dt>
          <dd>
            <Time at={c.created_at} />
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time at={c.updated_at} />
          </dd>
        </dl>
        {!connector && <p class="muted">Loading the connector's field labels…</p>}
      </section>

      {c.token && (
        <section aria-labelledby="token-title">
          <h3 id="token-title">Access token</h3>
          <p class="hint">The service keeps the token; it is never shown.</p>
          <dl class="facts">
            <dt>Expires</dt>
            <dd>
              <Time at={c.token.expires_at} fallback={oauthCode ? 'not connected yet' : 'no token yet'} />
            </dd>
            <dt>Automatic refresh</dt>
            <dd>{c.token.auto_refresh ? 'On' : 'Off'}</dd>
            <dt>Next refresh</dt>
            <dd>
              <Time at={c.token.next_refresh_at} fallback="none planned" />
            </dd>
            <dt>Last refresh</dt>
            <dd>
              <Time at={c.token.last_refresh_at} />
            </dd>
            <dt>Refresh failures</dt>
            <dd>{c.token.refresh_failures}</dd>
          </dl>
          {may.refresh(role) && (
            <button type="button" aria-busy={refresh.busy} onClick={() => !refresh.busy && refresh.run()}>
              {refresh.busy ? 'Refreshing…' : 'Refresh token now'}
            </button>
          )}
        </section>
      )}

      <Accessors id={id} version={c.version} />
      <Usages id={id} />
      <History id={id} version={c.version} />
    </div>
  );
}

/** Each field of the auth type: its value, or "set" for a secret (whose value is never shown). */
function fieldsShown(c: Credential, fields: FieldView[]) {
  const stored = c.fields;
  const named = new Set(fields.map((f) => f.name));
  const rows = fields.map((f) => {
    if (f.secret) return { label: f.label, value: c.secret_fields.includes(f.name) ? 'set' : <span class="muted">not set</span> };
    const v = fromJson(f, stored[f.name]);
    const text = typeof v === 'boolean' ? (v ? 'Yes' : 'No') : v;
    return { label: f.label, value: text === '' ? <span class="muted">not set</span> : <span class="value">{text}</span> };
  });
  // Fields the catalog (still loading, or newer than it) does not name: shown by their names.
  for (const [name, value] of Object.entries(stored)) {
    if (!named.has(name)) rows.push({ label: name, value: <span class="value">{JSON.stringify(value)}</span> });
  }
  return rows;
}

function refreshWords(r: Schemas['RefreshOutcome']): string {
  switch (r.outcome) {
    case 'refreshed':
      return 'Token refreshed.';
    case 'skipped':
      return `Nothing to refresh: ${r.reason}.`;
    case 'reauth_required':
      return 'The provider refused the refresh token: the credential needs re-authenticating.';
    case 'failed':
      return `The refresh failed (${r.code}); the service will try again.`;
  }
}

function Accessors({ id, version }: { id: string; version: number }) {
  const list = usePaged(async () => call(api.GET('/credentials/{id}/accessors', { params: { path: { id } } })), [id, version]);
  return (
    <section aria-labelledby="access-title">
      <h3 id="access-title">Who has access</h3>
      <ProblemText problem={list.error} />
      <ul class="plain">
        {list.items.map((a) => (
          <li>
            {principalWords(a.principal)} <span class="muted">· {roleWords[a.role]}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Usages({ id }: { id: string }) {
  const list = usePaged(
    (nextToken) => call(api.GET('/credentials/{id}/usages', { params: { path: { id }, query: { next_token: nextToken } } })),
    [id],
  );
  return (
    <section aria-labelledby="usages-title">
      <h3 id="usages-title">Usages</h3>
      <ProblemText problem={list.error} />
      {!list.loading && list.items.length === 0 && !list.error && (
        <p class="muted">No data source or destination uses it yet.</p>
      )}
      <UsageList usages={list.items} />
      <MoreFoot list={list} what="usages" />
    </section>
  );
}

export function UsageList({ usages }: { usages: Schemas['Usage'][] }) {
  if (usages.length === 0) return null;
  return (
    <ul class="plain">
      {usages.map((u) => (
        <li>
          <strong>{u.name ?? u.resource_id}</strong>{' '}
          <span class="muted">
            · {u.kind === 'source' ? 'data source' : u.kind === 'destination' ? 'destination' : u.kind} {u.resource_id} · added by{' '}
            {personWords(u.added_by)} <Time at={u.added_at} />
          </span>
        </li>
      ))}
    </ul>
  );
}

function History({ id, version }: { id: string; version: number }) {
  const list = usePaged(
    (nextToken) =>
      call(api.GET('/credentials/{id}/history', { params: { path: { id }, query: { limit: 20, next_token: nextToken } } })),
    [id, version],
  );
  return (
    <section aria-labelledby="history-title">
      <h3 id="history-title">History</h3>
      <ProblemText problem={list.error} />
      <ol class="history">
        {list.items.map((h) => (
          <li>
            <span class="muted">
              <Time at={h.at} /> · {personWords(h.actor)}
            </span>
            <span>
              {historyWords[h.action]}
              {historyDetail(h)}
            </span>
          </li>
        ))}
      </ol>
      <MoreFoot list={list} what="history" />
    </section>
  );
}

function historyDetail(h: Schemas['HistoryEntry']): string {
  const parts: string[] = [];
  if (h.fields?.length) parts.push(`fields: ${h.fields.join(', ')}`);
  if (h.principal) parts.push(principalWords(h.principal));
  if (h.role) parts.push(roleWords[h.role]);
  if (h.usage) parts.push(h.usage);
  if (h.result) parts.push(`result ${h.result}`);
  if (h.status) parts.push(`status ${h.status.replace('_', ' ')}`);
  if (h.code) parts.push(h.code.replace(/_/g, ' '));
  if (h.trigger && h.action === 'status_changed') parts.push(`by ${triggerWords[h.trigger]}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, call, type Credential, type Role, type Schemas } from '../api/client';
import { paths } from '../routes';
import { connectorLabel, useCatalog } from '../lib/catalog';
import { useApi, usePaged } from '../lib/useApi';
import { roles, roleWords } from '../lib/roles';
import { statusWords } from '../lib/words';
import { useTitle } from '../lib/useTitle';
import { exactTime } from '../lib/time';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { ProblemText } from '../components/ProblemText';
import { CredentialDrawer } from './CredentialDrawer';
import { ShareDialog } from './ShareDialog';
import { DeleteDialog } from './DeleteDialog';
import { MoreFoot } from '../components/MoreFoot';

type Status = Schemas['Status'];
const statuses: Status[] = ['valid', 'invalid', 'untested', 'reauth_required'];
const filterNames = ['q', 'connector', 'status', 'role', 'tag'] as const;
type Filters = Partial<Record<(typeof filterNames)[number], string>>;

/** The list's filters as a query string, carried into the drawer's URLs and back. */
function queryString(filters: Filters): string {
  const q = new URLSearchParams();
  for (const name of filterNames) if (filters[name]) q.set(name, filters[name]);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** What was deleted last, for the notice that says it can be restored. */
interface Deleted {
  name: string;
  purgeAt: string | undefined;
}

/**
 * Credentials: what the caller can see, filtered by the URL's query; the drawer of one credential
 * (`…/credentials/{id}`) and its share and delete dialogs are drawn over it.
 */
export function CredentialList({ overlay }: { overlay?: 'share' | 'remove' }) {
  useTitle('Credentials');
  const { query, route, path } = useLocation();
  const { params } = useRoute();
  const id = params.id;
  const filters: Filters = Object.fromEntries(filterNames.map((n) => [n, query[n] ?? '']));
  const qs = queryString(filters);
  const catalog = useCatalog();
  const [deleted, setDeleted] = useState<Deleted | null>(null);

  const list = usePaged(
    (nextToken) =>
      call(
        api.GET('/credentials', {
          params: {
            query: {
              connector: (filters.connector || undefined) as Schemas['ConnectorId'] | undefined,
              status: (filters.status || undefined) as Status | undefined,
              role: (filters.role || undefined) as Role | undefined,
              tag: filters.tag || undefined,
              q: filters.q || undefined,
              next_token: nextToken,
            },
          },
        }),
      ),
    [filters.connector, filters.status, filters.role, filters.tag, filters.q],
  );

  const selected = useApi(
    () => (id ? call(api.GET('/credentials/{id}', { params: { path: { id } } })) : Promise.resolve(undefined)),
    [id],
  );
  // What the drawer learns (a test's new status, an edit) shows in the list row too.
  useEffect(() => {
    const fresh = selected.data;
    if (fresh) list.setItems((items) => items.map((c) => (c.id === fresh.id ? fresh : c)));
  }, [selected.data]);

  // Focus returns to the row's link when the drawer closes.
  const lastOpen = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!id && lastOpen.current) document.getElementById(`open-${lastOpen.current}`)?.focus();
    lastOpen.current = id;
  }, [id]);

  const drawerHref = id ? paths.credential(id) + qs : paths.list + qs;
  const onDeleted = (c: Credential) => {
    list.setItems((items) => items.filter((i) => i.id !== c.id));
    setDeleted({ name: c.name, purgeAt: c.purge_at });
    route(paths.list + qs);
  };

  const filtered = filterNames.some((n) => filters[n]);
  return (
    <>
      <main id="main" tabIndex={-1} class={id ? 'list-page beside-drawer' : 'list-page'}>
        <div class="page-head">
          <h1>Credentials</h1>
          <a class="button primary" href={paths.create}>
            New credential
          </a>
        </div>
        {deleted && (
          <div role="status" class="notice">
            <p>
              Deleted <strong>{deleted.name}</strong>. It can be restored from <a href={paths.deleted}>Deleted</a>
              {deleted.purgeAt ? ` until ${exactTime(deleted.purgeAt)}` : ''}.
            </p>
            <button type="button" class="quiet" onClick={() => setDeleted(null)}>
              Dismiss
            </button>
          </div>
        )}
        <FilterBar filters={filters} catalog={catalog.data} onChange={(f) => route(path + queryString(f), true)} />
        <ProblemText problem={list.error ?? catalog.error} />
        {list.items.length > 0 ? (
          <table class="grid">
            <caption class="sr-only">Credentials{filtered ? ' matching the filters' : ''}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Connector</th>
                <th scope="col">Status</th>
                <th scope="col">Your role</th>
                <th scope="col">Tags</th>
                <th scope="col">Last tested</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((c) => (
                <tr key={c.id} class={c.id === id ? 'selected' : undefined}>
                  <th scope="row">
                    <a id={`open-${c.id}`} href={paths.credential(c.id) + qs} aria-current={c.id === id ? 'true' : undefined}>
                      {c.name}
                    </a>
                  </th>
                  <td>{connectorLabel(catalog.data, c.connector)}</td>
                  <td>
                    <StatusBadge status={c.status} reason={c.status_reason} id={`status-${c.id}`} />
                  </td>
                  <td>{roleWords[c.access_role]}</td>
                  <td>
                    <Tags tags={c.tags} />
                  </td>
                  <td>
                    <Time at={c.verified_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          !list.loading && !list.error && <EmptyState filtered={filtered} more={list.more} />
        )}
        <div class="list-foot">
          <MoreFoot list={list} what="credentials" />
        </div>
      </main>
      {id && (
        <CredentialDrawer
          id={id}
          credential={selected}
          catalog={catalog.data}
          closeHref={paths.list + qs}
          shareHref={paths.share(id) + qs}
          removeHref={paths.remove(id) + qs}
        />
      )}
      {id && overlay === 'share' && selected.data && (
        <ShareDialog credential={selected.data} onClose={() => route(drawerHref)} onChanged={selected.reload} />
      )}
      {id && overlay === 'remove' && selected.data && (
        <DeleteDialog credential={selected.data} onClose={() => route(drawerHref)} onDeleted={onDeleted} />
      )}
    </>
  );
}

export function Tags({ tags }: { tags: string[] }) {
  if (tags.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="tags">
      {tags.map((t) => (
        <li>{t}</li>
      ))}
    </ul>
  );
}

function EmptyState({ filtered, more }: { filtered: boolean; more: boolean }) {
  if (filtered) {
    return (
      <div class="empty">
        <h2>No credential matches these filters</h2>
        <p>
          {more ? 'None on the pages loaded so far: load more, or ' : 'Change the filters, or '}
          <a href={paths.list}>show all credentials</a>.
        </p>
      </div>
    );
  }
  return (
    <div class="empty">
      <h2>No credentials yet</h2>
      <p>
        <a href={paths.create}>Create your first credential</a>, or ask a colleague to share one with you or your team.
      </p>
    </div>
  );
}

/** Selects apply at once; the name and tag boxes after a short pause in typing. */
function FilterBar({
  filters,
  catalog,
  onChange,
}: {
  filters: Filters;
  catalog: Schemas['ConnectorView'][] | undefined;
  onChange: (f: Filters) => void;
}) {
  const [text, setText] = useState({ q: filters.q ?? '', tag: filters.tag ?? '' });
  // The URL changed from elsewhere (back button, "show all"): show its values.
  useEffect(() => setText({ q: filters.q ?? '', tag: filters.tag ?? '' }), [filters.q, filters.tag]);
  const timer = useRef<number | undefined>(undefined);
  // The pause may outlast this render (a drawer opened meanwhile): apply to the latest URL.
  const latest = useRef({ filters, onChange });
  latest.current = { filters, onChange };
  const typed = (name: 'q' | 'tag', value: string) => {
    setText((t) => ({ ...t, [name]: value }));
    clearTimeout(timer.current);
    timer.current = window.setTimeout(() => latest.current.onChange({ ...latest.current.filters, [name]: value.trim() }), 300);
  };
  const select = (name: keyof Filters) => (e: Event) =>
    onChange({ ...filters, [name]: (e.currentTarget as HTMLSelectElement).value });

  return (
    <form class="filters" role="search" aria-label="Filter credentials" onSubmit={(e) => e.preventDefault()}>
      <label>
        Search by name
        <input type="search" value={text.q} onInput={(e) => typed('q', e.currentTarget.value)} />
      </label>
      <label>
        Connector
        <select value={filters.connector} onChange={select('connector')}>
          <option value="">All connectors</option>
          {catalog?.map((c) => (
            <option value={c.id}>{c.label}</option>
          ))}
        </select>
      </label>
      <label>
        Status
        <select value={filters.status} onChange={select('status')}>
          <option value="">Any status</option>
          {statuses.map((s) => (
            <option value={s}>{statusWords[s]}</option>
          ))}
        </select>
      </label>
      <label>
        Your role
        <select value={filters.role} onChange={select('role')}>
          <option value="">Any role</option>
          {roles.map((r) => (
            <option value={r}>{r === 'owner' ? 'Owner' : `${roleWords[r]} or above`}</option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input type="text" value={text.tag} autocapitalize="off" onInput={(e) => typed('tag', e.currentTarget.value)} />
      </label>
    </form>
  );
}

import { useState } from 'preact/hooks';
import { api, call, type Credential } from '../api/client';
import { paths } from '../routes';
import { connectorLabel, useCatalog } from '../lib/catalog';
import { useAction, usePaged } from '../lib/useApi';
import { may } from '../lib/roles';
import { useTitle } from '../lib/useTitle';
import { Time } from '../components/Time';
import { ProblemText } from '../components/ProblemText';
import { MoreFoot } from '../components/MoreFoot';

/** Deleted credentials still in their recovery window, and restoring them. */
export function DeletedCredentials() {
  useTitle('Deleted credentials');
  const catalog = useCatalog();
  const list = usePaged(
    (nextToken) => call(api.GET('/credentials', { params: { query: { deleted: true, next_token: nextToken } } })),
    [],
  );
  const [restored, setRestored] = useState<Credential | null>(null);
  const restore = useAction(async (c: Credential) => {
    const back = await call(api.POST('/credentials/{id}/restore', { params: { path: { id: c.id } } }));
    list.setItems((items) => items.filter((i) => i.id !== c.id));
    setRestored(back);
  });

  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>Deleted credentials</h1>
      </div>
      <p class="hint">
        Deleted credentials can be restored until the end of their recovery window; then they and their secrets are removed
        for good. Restoring needs admin access.
      </p>
      <div role="status" class="live">
        {restored && (
          <p class="notice">
            Restored <a href={paths.credential(restored.id)}>{restored.name}</a>.
          </p>
        )}
      </div>
      <ProblemText problem={list.error ?? restore.error} />
      {list.items.length > 0 && (
        <table class="grid">
          <caption class="sr-only">Deleted credentials</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Connector</th>
              <th scope="col">Deleted</th>
              <th scope="col">Restorable until</th>
              <th scope="col">
                <span class="sr-only">Restore</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((c) => (
              <tr key={c.id}>
                <th scope="row">{c.name}</th>
                <td>{connectorLabel(catalog.data, c.connector)}</td>
                <td>
                  <Time at={c.deleted_at} />
                </td>
                <td>
                  <Time at={c.purge_at} />
                </td>
                <td>
                  {may.restore(c.access_role) ? (
                    <button type="button" aria-busy={restore.busy} onClick={() => !restore.busy && restore.run(c)}>
                      Restore {c.name}
                    </button>
                  ) : (
                    <span class="muted">Ask an admin to restore it</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!list.loading && !list.error && list.items.length === 0 && (
        <div class="empty">
          <h2>Nothing deleted</h2>
          <p>
            Credentials you delete stay here for their recovery window. <a href={paths.list}>Back to Credentials</a>.
          </p>
        </div>
      )}
      <MoreFoot list={list} what="deleted credentials" />
    </main>
  );
}

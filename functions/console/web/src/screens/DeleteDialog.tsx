import { useState } from 'preact/hooks';
import { api, ApiError, call, ifMatch, type Credential } from '../api/client';
import { useAction, usePaged } from '../lib/useApi';
import { Dialog } from '../components/Dialog';
import { ProblemText } from '../components/ProblemText';
import { UsageList } from './CredentialDrawer';

/**
 * Deleting, with a warning when data sources or destinations use the credential: then only
 * "Delete anyway" (`force=true`) deletes it. A deleted credential can be restored until purge_at.
 */
export function DeleteDialog({
  credential: c,
  onClose,
  onDeleted,
}: {
  credential: Credential;
  onClose: () => void;
  onDeleted: (deleted: Credential) => void;
}) {
  const id = c.id;
  const usages = usePaged(
    (nextToken) => call(api.GET('/credentials/{id}/usages', { params: { path: { id }, query: { next_token: nextToken } } })),
    [id],
  );
  // Set when the API refused because the credential is in use (it may have gained a usage since the list loaded).
  const [refusedInUse, setRefusedInUse] = useState(false);
  const inUse = usages.items.length > 0 || refusedInUse;

  const remove = useAction(async (force: boolean) => {
    try {
      const deleted = await call(
        api.DELETE('/credentials/{id}', {
          params: { path: { id }, header: { 'If-Match': ifMatch(c) }, query: force ? { force: true } : {} },
        }),
      );
      onDeleted(deleted);
    } catch (e) {
      if (e instanceof ApiError && e.problem.code === 'credential_in_use') {
        setRefusedInUse(true);
        usages.reload();
        return;
      }
      throw e;
    }
  });

  return (
    <Dialog id="delete" title={`Delete ${c.name}?`} onClose={onClose}>
      {usages.loading && (
        <p role="status" class="muted">
          Checking where it is used…
        </p>
      )}
      {inUse ? (
        <div class="warning" role="alert">
          <p>
            <strong>It is in use.</strong> The data sources and destinations below will fail to connect once it is deleted.
          </p>
          <UsageList usages={usages.items} />
        </div>
      ) : (
        !usages.loading && <p>No data source or destination uses it.</p>
      )}
      <p>
        A deleted credential can be restored from Deleted during its recovery window; after that it and its secrets are
        removed for good.
      </p>
      <ProblemText problem={remove.error ?? usages.error} />
      <div class="dialog-foot">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          aria-busy={remove.busy}
          disabled={usages.loading}
          onClick={() => !remove.busy && remove.run(inUse)}
        >
          {inUse ? 'Delete anyway' : 'Delete'}
        </button>
      </div>
    </Dialog>
  );
}

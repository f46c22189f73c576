import { useEffect } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { paths } from '../routes';
import { announceConnect } from '../lib/connectChannel';
import { connectErrorText } from '../lib/words';
import { useTitle } from '../lib/useTitle';

/**
 * Where the provider's round trip ends (`/oauth/callback` redirects here with
 * `credential_id` and `result=connected` or `error=<code>`). It tells the console's other windows,
 * and closes itself when the console opened it.
 */
export function Connected() {
  const { query } = useLocation();
  const id = query.credential_id ?? '';
  const error = query.error;
  const connected = !error && query.result === 'connected';
  useTitle(connected ? 'Connected' : 'Not connected');
  const popup = window.opener !== null;

  useEffect(() => {
    if (!id) return;
    announceConnect({ credential_id: id, ...(error ? { error } : { result: query.result ?? '' }) });
    // Opened by the console: its drawer now shows the outcome, so this window can go.
    if (popup && connected) {
      const timer = setTimeout(() => window.close(), 1500);
      return () => clearTimeout(timer);
    }
  }, [id]);

  return (
    <main id="main" tabIndex={-1} class="connected">
      <h1>{connected ? 'Connected' : 'Not connected'}</h1>
      <p role="status">
        {connected
          ? 'The provider granted access: the credential now holds fresh tokens, kept up to date by the service.'
          : error
            ? connectErrorText(error)
            : 'This page reports the outcome of connecting a credential; it was opened without one.'}
      </p>
      {popup ? (
        <p>
          <button type="button" onClick={() => window.close()}>
            Close this window
          </button>
        </p>
      ) : (
        id && (
          <p>
            <a class="button primary" href={paths.credential(id)}>
              Back to the credential
            </a>
          </p>
        )
      )}
    </main>
  );
}

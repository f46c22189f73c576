import type { Paged } from '../lib/useApi';

/** The foot of a paged list: progress while a page loads, then "Load more <what>" while the API
 * has a `next_token`. */
export function MoreFoot({ list, what }: { list: Pick<Paged<unknown>, 'loading' | 'more' | 'loadMore'>; what: string }) {
  if (list.loading) {
    return (
      <p role="status" class="muted">
        Loading {what}…
      </p>
    );
  }
  return list.more ? (
    <button type="button" onClick={list.loadMore}>
      Load more {what}
    </button>
  ) : null;
}

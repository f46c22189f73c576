import { exactTime, fromNow } from '../lib/time';

/** A relative time ("2 hours ago"), the exact one in its title. */
export function Time({ at, fallback = 'never' }: { at: string | null | undefined; fallback?: string }) {
  if (!at) return <span class="muted">{fallback}</span>;
  return (
    <time dateTime={at} title={exactTime(at)}>
      {fromNow(at)}
    </time>
  );
}

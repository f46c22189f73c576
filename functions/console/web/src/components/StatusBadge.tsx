import type { Schemas } from '../api/client';
import { statusWords } from '../lib/words';

type Status = Schemas['Status'];

/** Small icons drawn inline (the page loads nothing else): check, cross, dash, key. */
const icons: Record<Status, preact.JSX.Element> = {
  valid: <path d="M3.5 8.5l3 3 6-7" />,
  invalid: <path d="M4 4l8 8M12 4l-8 8" />,
  untested: <path d="M4 8h8" />,
  reauth_required: (
    <>
      <circle cx="5.5" cy="8" r="2.5" />
      <path d="M8 8h6M12 8v2.5M14 8v2" />
    </>
  ),
};

export function StatusIcon({ status }: { status: Status }) {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      {icons[status]}
    </svg>
  );
}

/**
 * A status, its word, and (when there is one) its reason: shown on hover and on keyboard focus,
 * and read by screen readers as the badge's description.
 */
export function StatusBadge({ status, reason, id }: { status: Status; reason?: string | null; id: string }) {
  const tip = `${id}-reason`;
  if (!reason) {
    return (
      <span class={`status is-${status}`}>
        <StatusIcon status={status} />
        {statusWords[status]}
      </span>
    );
  }
  return (
    <span class={`status is-${status} has-reason`} tabIndex={0} aria-describedby={tip}>
      <StatusIcon status={status} />
      {statusWords[status]}
      <span role="tooltip" id={tip} class="tip">
        {reason}
      </span>
    </span>
  );
}

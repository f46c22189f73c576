import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal `<dialog>`: the page behind is inert, focus moves into it, Esc closes it, and focus
 * returns to where it was when it closes.
 */
export function Dialog({
  id,
  title,
  onClose,
  children,
}: {
  id: string;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => {
      ref.current?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  const heading = `${id}-title`;
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={heading}
      onCancel={(e) => {
        e.preventDefault(); // the route decides what is open
        onClose();
      }}
    >
      <div class="dialog-head">
        <h2 id={heading}>{title}</h2>
        <button type="button" class="icon-button" aria-label="Close dialog" onClick={onClose}>
          <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
            <path d="M4 4l8 8M12 4l-8 8" />
          </svg>
        </button>
      </div>
      {children}
    </dialog>
  );
}

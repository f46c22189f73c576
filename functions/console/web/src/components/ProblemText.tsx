import type { ComponentChildren } from 'preact';
import type { Problem } from '../api/client';
import { problemWords } from '../lib/words';

/** An API refusal in words, announced when it appears. */
export function ProblemText({ problem, id, children }: { problem: Problem | null; id?: string; children?: ComponentChildren }) {
  if (!problem) return null;
  return (
    <div role="alert" class="error" id={id}>
      <p>{problemWords(problem)}</p>
      {children}
    </div>
  );
}

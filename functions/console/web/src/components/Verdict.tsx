import type { Schemas } from '../api/client';
import { verdictWords } from '../lib/words';
import { StatusIcon } from './StatusBadge';
import { Time } from './Time';

type Report = Schemas['TestReport'] & Partial<Pick<Schemas['SavedTestReport'], 'status_recorded'>>;

const iconOf = { valid: 'valid', invalid: 'invalid', inconclusive: 'untested' } as const;

/** A connection test's verdict: valid, invalid or inconclusive, and what the system said. */
export function Verdict({ report }: { report: Report }) {
  return (
    <div class={`verdict is-${report.result}`}>
      <p class="verdict-head">
        <StatusIcon status={iconOf[report.result]} />
        <strong>Test result: {verdictWords[report.result]}</strong>
        <span class="muted">
          {' '}
          · <Time at={report.tested_at} /> · {report.duration_ms} ms
        </span>
      </p>
      <p>{report.message}</p>
      {report.result === 'inconclusive' && <p class="muted">An inconclusive test does not change the status.</p>}
      {report.status_recorded === false && (
        <p>The credential changed while it was being tested, so this verdict (about the earlier details) was not recorded.</p>
      )}
    </div>
  );
}

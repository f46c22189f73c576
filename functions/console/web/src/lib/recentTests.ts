// The verdict of the test a create ran, handed from the form to the drawer it opens. Kept in
// memory only: a report holds no secret, but nothing here needs to outlive the page.
import type { Schemas } from '../api/client';

const reports = new Map<string, Schemas['TestReport']>();

export const recentTests = {
  put(credentialId: string, report: Schemas['TestReport']) {
    reports.set(credentialId, report);
  },
  /** The report, once: the drawer shows it when it first opens. */
  take(credentialId: string): Schemas['TestReport'] | undefined {
    const report = reports.get(credentialId);
    reports.delete(credentialId);
    return report;
  },
};

/** Jobs and target snapshots for rendering tests, with everything but what a test sets fixed. */
import { summarizeNow } from '../../src/metrics';
import type { TargetSnapshot } from '../../src/metrics';
import type { Job, RestorePoint } from '../../src/model';

export const job = (over: Partial<Job>): Job => ({ kind: 'restore', id: 'j', resource: 'r', state: 'succeeded', status: 'FINISHED', ...over });

export interface SnapshotInput extends Partial<TargetSnapshot> {
  jobs?: Job[];
  restorePoints?: RestorePoint[];
  maxJobs?: number;
}

/** An Ops Manager target's successful snapshot of `jobs` and `restorePoints`. */
export function snapshot({ jobs = [], restorePoints = [], maxJobs = 100, ...over }: SnapshotInput = {}): TargetSnapshot {
  return {
    target: 'ops',
    provider: 'opsmanager',
    kinds: ['restore'],
    restorePointsSupported: false,
    ok: true,
    timestamp: 1700000000,
    durationSeconds: 0.25,
    upstreamRequests: 7,
    summary: summarizeNow({ jobs, restorePoints }, maxJobs),
    ...over,
  };
}

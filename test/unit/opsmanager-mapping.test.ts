import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../src/model';
import { mapRestoreJob, mapRestoreJobs } from '../../src/providers/opsmanager';
import { recordingSink } from '../helpers/collect';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(__dirname, '../fixtures/opsmanager', name), 'utf8'));
const at = (iso: string) => Date.parse(iso) / 1000;


describe('Ops Manager restore job mapping', () => {
  test('the seed page example: a finished job, expired delivery (no expiry series), no end time invented', () => {
    const sink = recordingSink();
    expect(mapRestoreJob(fixture('seed-restore-job.json'), 'proj/cluster0', sink)).toEqual<Job>({
      kind: 'restore',
      id: '{JOB-ID}',
      resource: 'proj/cluster0',
      state: 'succeeded',
      status: 'FINISHED',
      startedAt: at('2016-03-04T22:07:27Z'),
    });
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual([]);
  });

  test.each([
    ['IN_PROGRESS', 'running'],
    ['FINISHED', 'succeeded'],
    ['BROKEN', 'failed'],
    ['KILLED', 'cancelled'],
    ['QUEUED', 'unknown'],
  ])('statusName %s -> state %s', (statusName, state) => {
    const job = mapRestoreJob({ id: 'j', statusName, created: '2026-01-01T00:00:00Z' }, 'r', recordingSink());
    expect(job?.state).toBe(state);
    expect(job?.status).toBe(statusName);
  });

  test('a sharded restore (one job per shard plus config server, same batchId) is one job: worst state, earliest start, earliest usable expiry', () => {
    const jobs = mapRestoreJobs(fixture('sharded-batch.json') as unknown[], 'proj/sharded', recordingSink());
    expect(jobs).toEqual<Job[]>([
      { kind: 'restore', id: 'j-single', resource: 'proj/sharded', state: 'running', status: 'IN_PROGRESS', startedAt: at('2026-11-24T09:00:00Z') },
      {
        kind: 'restore',
        id: 'b-1',
        resource: 'proj/sharded',
        state: 'failed',
        status: 'BROKEN',
        startedAt: at('2026-11-24T10:00:01Z'),
        deliveryExpiresAt: at('2026-11-24T12:30:00Z'),
      },
    ]);
  });

  test('odd answers: unknown and missing status, bad time, missing id, non-objects, numeric id, offset time', () => {
    const sink = recordingSink();
    const jobs = mapRestoreJobs(fixture('odd-answers.json') as unknown[], 'r', sink);
    expect(jobs.map((j) => [j.id, j.state, j.status, j.startedAt])).toEqual([
      ['j-unknown', 'unknown', 'QUEUED_FOR_MARS', at('2026-11-24T08:00:00Z')],
      ['j-nostatus', 'unknown', 'UNKNOWN', at('2026-11-24T08:00:00Z')],
      ['j-badtime', 'cancelled', 'KILLED', undefined],
      ['12345', 'succeeded', 'FINISHED', at('2026-11-24T07:00:00.250Z')],
    ]);
    expect(sink.unknown).toEqual(['QUEUED_FOR_MARS', '(none)']);
    expect(sink.problems).toEqual([
      'restore job j-badtime: created "yesterday" is not an ISO-8601 time',
      'restore job of r has no id',
      'restore job of r is not an object',
      'restore job of r is not an object',
    ]);
  });
});

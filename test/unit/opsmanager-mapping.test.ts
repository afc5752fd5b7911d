import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { TargetConfig } from '../../src/config/schema';
import type { RequestOptions } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import { summarizeNow } from '../../src/metrics';
import type { Job, ProductAlert, ResourceProtection, RestorePoint } from '../../src/model';
import { SNAPSHOT_PAGE_SIZE, mapAlerts, mapBackupConfigs, mapRestoreJob, mapRestoreJobs, mapSnapshots, opsmanager, protectionOf, scheduleIntervalSeconds } from '../../src/providers/opsmanager';
import type { CollectContext } from '../../src/providers/types';
import { bind, collectWith, recordingSink } from '../helpers/collect';

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

describe('Ops Manager protection, snapshots, schedules and alerts', () => {
  const page = (name: string) => (fixture(name) as { results: unknown[] }).results;

  test('backup configurations: STARTED is protected, every other status is not and is kept; odd entries are reported', () => {
    const sink = recordingSink();
    const configs = mapBackupConfigs(page('backup-configs-page.json'), sink);
    expect([...configs]).toEqual([
      ['c-started', 'STARTED'],
      ['c-stopped', 'STOPPED'],
      ['c-inactive', 'INACTIVE'],
      ['c-terminating', 'TERMINATING'],
      ['c-provisioning', 'PROVISIONING'],
      ['c-odd', 'PAUSED_ON_MARS'],
    ]);
    expect(sink.unknown).toEqual(['PAUSED_ON_MARS']);
    expect(sink.problems).toEqual(['backup configuration without a clusterId']);
    expect([...configs].map(([, status]) => protectionOf('p/c', status).protected)).toEqual([true, false, false, false, false, false]);
  });

  test.each<[string | undefined, ResourceProtection]>([
    ['STARTED', { resource: 'p/c', protected: true, status: 'STARTED' }],
    ['STOPPED', { resource: 'p/c', protected: false, status: 'STOPPED' }],
    [undefined, { resource: 'p/c', protected: false, status: 'NONE' }],
  ])('a cluster whose configuration is %s', (status, expected) => {
    expect(protectionOf('p/c', status)).toEqual(expected);
  });

  test('the schedule gives the interval in seconds; a schedule without it gives none', () => {
    const sink = recordingSink();
    expect(scheduleIntervalSeconds(fixture('snapshot-schedule.json'), sink, 'p/c')).toBe(6 * 3600);
    expect(scheduleIntervalSeconds({ clusterId: 'c' }, sink, 'p/c')).toBeUndefined();
    expect(sink.problems).toHaveLength(1);
    expect(protectionOf('p/c', 'STARTED', 21600)).toEqual({ resource: 'p/c', protected: true, status: 'STARTED', scheduleIntervalSeconds: 21600 });
  });

  test('snapshots: being taken, available (parts summed), possibly inconsistent and missing shards are errors; created from {date, increment}', () => {
    const sink = recordingSink();
    const points = mapSnapshots(page('snapshots-page.json'), 'p/orders', sink);
    expect(points).toEqual<RestorePoint[]>([
      { id: 's-taking', resource: 'p/orders', vault: '', state: 'creating', createdAt: at('2026-11-24T12:00:00Z') },
      { id: 's-good', resource: 'p/orders', vault: '', state: 'available', createdAt: at('2026-11-24T06:00:00Z'), bytes: 3006 },
      { id: 's-inconsistent', resource: 'p/orders', vault: '', state: 'error', createdAt: at('2026-11-24T00:00:00Z') },
      { id: 's-missing', resource: 'p/orders', vault: '', state: 'error', createdAt: at('2026-11-23T18:00:00Z') },
      { id: 's-flat-created', resource: 'p/orders', vault: '', state: 'available', createdAt: at('2026-11-23T12:00:00Z') },
    ]);
    expect(sink.problems).toEqual(['snapshot of p/orders has no id']);
    // The newest complete, consistent snapshot is the resource's restore point.
    const summary = summarizeNow({ restorePoints: points }, 0);
    expect(summary.lastRestorePoint.get('')?.get('p/orders')).toBe(at('2026-11-24T06:00:00Z'));
    expect(summary.restorePoints.get('')).toEqual(new Map([['creating', 1], ['available', 2], ['error', 2]]));
  });

  test('open alerts: backup types only, on the cluster (a shard on its sharded cluster), else on the project', () => {
    const names = new Map([
      ['c-started', 'Prod/orders'],
      ['c-sessions', 'Prod/sessions'],
      ['c-shard1', 'Prod/sessions'],
    ]);
    expect(mapAlerts(page('open-alerts-page.json'), 'Prod', names)).toEqual<ProductAlert[]>([
      { resource: 'Prod/orders', type: 'RESYNC_REQUIRED' },
      { resource: 'Prod/sessions', type: 'OPLOG_BEHIND' },
      { resource: 'Prod/orders', type: 'RESYNC_REQUIRED' },
      { resource: 'Prod', type: 'BACKUP_AGENT_DOWN' },
      { resource: 'Prod', type: 'LATE_SNAPSHOT' },
    ]);
  });
});

describe('Ops Manager collection: request cost and refused calls', () => {
  const GROUP = '0123456789abcdef01234567';
  const API = '/api/public/v1.0';
  const target = { name: 'ops', provider: 'opsmanager', url: 'https://ops.example', opsmanager: { public_key: 'k', private_key: 'p' } } as unknown as TargetConfig;

  /** A product of `n` clusters (every other one backed up) answering from the fixtures; `refuse` paths get a 403. */
  function product(n: number, refuse: RegExp = /^$/) {
    const sent: string[] = [];
    const answer = (path: string): unknown => {
      if (refuse.test(path)) throw new CollectError('auth', `GET ${path}: HTTP 403`, 403);
      if (path === `${API}/groups`) return { results: [{ id: GROUP, name: 'Prod' }], totalCount: 1 };
      if (path === `${API}/groups/${GROUP}/clusters`) {
        return { results: Array.from({ length: n }, (_, i) => ({ id: `c${i}`, clusterName: `db${i}`, typeName: 'REPLICA_SET' })), totalCount: n };
      }
      if (path.endsWith('/restoreJobs')) return { results: [], totalCount: 0 };
      if (path === `${API}/groups/${GROUP}/backupConfigs`) {
        const configured = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 0);
        return { results: configured.map((i) => ({ clusterId: `c${i}`, statusName: i % 4 === 0 ? 'STARTED' : 'STOPPED' })), totalCount: configured.length };
      }
      if (path.endsWith('/snapshots')) return fixture('snapshots-page.json');
      if (path.endsWith('/snapshotSchedule')) return fixture('snapshot-schedule.json');
      if (path === `${API}/groups/${GROUP}/alerts`) return fixture('open-alerts-page.json');
      throw new Error(`unexpected ${path}`);
    };
    return { sent, answer };
  }

  function context(p: ReturnType<typeof product>, logs: string[] = []): Omit<CollectContext, 'report'> {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    return {
      now: 1_800_000_000,
      lookbackStart: 0,
      signal: new AbortController().signal,
      log: pino({ level: 'warn' }, sink),
      unknownStatus: () => undefined,
      http: {
        request: () => Promise.reject(new Error('not used')),
        json: async <T>(options: RequestOptions): Promise<T> => {
          p.sent.push(`${options.path}${options.query ? `?${new URLSearchParams(options.query as Record<string, string>).toString()}` : ''}`);
          return p.answer(options.path) as T;
        },
      },
    };
  }

  test('N clusters: one snapshot page per backed-up cluster per scrape, schedules only on the first scrape', async () => {
    const n = 10;
    const p = product(n);
    const instance = bind(opsmanager, target, { log: pino({ level: 'silent' }), client: () => undefined as never });
    const first = await collectWith(instance, context(p));
    const count = (re: RegExp) => p.sent.filter((path) => re.test(path)).length;
    // groups, clusters, alerts and backupConfigs once; restore jobs per cluster; snapshots and schedules per configured cluster.
    expect(count(/\/snapshots\?/)).toBe(n / 2);
    expect(p.sent.filter((path) => path.includes('/snapshots?')).every((path) => path.includes('pageNum=1') && path.includes(`itemsPerPage=${SNAPSHOT_PAGE_SIZE}`))).toBe(true);
    expect(count(/\/snapshotSchedule/)).toBe(n / 2);
    expect(p.sent).toHaveLength(4 + n + n / 2 + n / 2);
    expect(first.resources).toHaveLength(n);
    expect(first.resources.find((r) => r.resource === 'Prod/db0')).toEqual({ resource: 'Prod/db0', protected: true, status: 'STARTED', scheduleIntervalSeconds: 21600 });
    expect(first.resources.find((r) => r.resource === 'Prod/db2')).toEqual({ resource: 'Prod/db2', protected: false, status: 'STOPPED', scheduleIntervalSeconds: 21600 });
    expect(first.resources.find((r) => r.resource === 'Prod/db1')).toEqual({ resource: 'Prod/db1', protected: false, status: 'NONE' });
    expect(first.restorePoints).toHaveLength(5 * (n / 2));
    p.sent.length = 0;
    const second = await collectWith(instance, context(p));
    expect(count(/\/snapshotSchedule/)).toBe(0);
    expect(p.sent).toHaveLength(4 + n + n / 2);
    expect(second.resources.find((r) => r.resource === 'Prod/db0')?.scheduleIntervalSeconds).toBe(21600);
  });

  test('a 403 on the backup calls keeps restore jobs and the rest, and is logged once per target, not every scrape', async () => {
    const p = product(4, /\/(backupConfigs|alerts)$/);
    const instance = bind(opsmanager, target, { log: pino({ level: 'silent' }), client: () => undefined as never });
    const logs: string[] = [];
    const found = await collectWith(instance, context(p, logs));
    // Without configurations every cluster is asked for its snapshots; no protection is claimed.
    expect(found.resources).toEqual([]);
    expect(found.alerts).toEqual([]);
    expect(found.restorePoints).toHaveLength(4 * 5);
    expect(p.sent.filter((path) => path.endsWith('/restoreJobs?pageNum=1&itemsPerPage=500'))).toHaveLength(4);
    await collectWith(instance, context(p, logs));
    expect(logs.filter((l) => l.includes('refused'))).toHaveLength(2);
  });

  test('a 403 on snapshots and schedules keeps protection and alerts', async () => {
    const p = product(2, /\/(snapshots|snapshotSchedule)$/);
    const instance = bind(opsmanager, target, { log: pino({ level: 'silent' }), client: () => undefined as never });
    const found = await collectWith(instance, context(p));
    const byName = (a: ResourceProtection, b: ResourceProtection) => a.resource.localeCompare(b.resource);
    expect(found.resources.sort(byName)).toEqual([
      { resource: 'Prod/db0', protected: true, status: 'STARTED' },
      { resource: 'Prod/db1', protected: false, status: 'NONE' },
    ]);
    expect(found.restorePoints).toEqual([]);
    expect(found.alerts.length).toBeGreaterThan(0);
  });
});

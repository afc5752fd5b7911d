import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CollectError } from '../../src/http/errors';
import type { Job, RestorePoint } from '../../src/model';
import {
  BYTES_PER_GB,
  cbr,
  CBR_RESTORE_POINT_STATES,
  CBR_TASK_STATES,
  checkpointsToRead,
  MAX_CHECKPOINT_LOOKUPS,
  formatStartTime,
  gbToBytes,
  mapBackup,
  mapCheckpoint,
  mapRestorePointStatus,
  mapTask,
  mapTaskPage,
  parseCbrTime,
  VaultNames,
  inventoryOf,
  mapPolicy,
  mapVault,
  mbToBytes,
} from '../../src/providers/cbr';
import type { MappedTask } from '../../src/providers/cbr';
import { bind, collectWith, recordingSink } from '../helpers/collect';

const fixture = (name: string): any => JSON.parse(readFileSync(join(__dirname, '../fixtures/cbr', name), 'utf8'));
/** Unix seconds of a whole-second UTC time plus a decimal fraction, computed the way the provider does. */
const at = (iso: string, fraction = 0) => Date.parse(iso) / 1000 + fraction;
const GIB = 1024 ** 3;


describe('CBR checkpoint (the seed page example, verbatim)', () => {
  test('one available restore point per resource: vault name, microsecond time without zone as UTC, "40" GB in bytes', () => {
    const sink = recordingSink();
    const detail = mapCheckpoint(fixture('seed-checkpoint.json'), sink);
    expect(detail).toEqual({
      id: '8b0851a8-adf3-4f4c-a914-dead08bf9664',
      vaultId: '3b5816b5-f29c-4172-9d9a-76c719a659ce',
      vaultName: 'vault-be94',
      restorePoints: [
        {
          id: '8b0851a8-adf3-4f4c-a914-dead08bf9664',
          resource: 'ecs-1f0f-0002',
          vault: 'vault-be94',
          state: 'available',
          createdAt: at('2019-05-10T07:59:12Z', 0.036982),
          bytes: 40 * GIB,
        },
      ],
      skipped: new Map(),
    });
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual([]);
  });

  test('skipped_resources give the reason per resource; error-deleting is error; a numeric resource_size works too', () => {
    const detail = mapCheckpoint(fixture('checkpoint-skipped.json'), recordingSink())!;
    expect(detail.skipped).toEqual(new Map([['r-4', 'BackupService.6009: The resource is being backed up.']]));
    expect(detail.restorePoints).toEqual<RestorePoint[]>([
      { id: 'c1', resource: 'ecs-db-0002', vault: 'vault-be94', state: 'error', createdAt: at('2019-05-23T14:35:00Z', 0.123456), bytes: 100 * GIB },
    ]);
  });

  test('an answer without checkpoint.id is a problem, not a throw', () => {
    const sink = recordingSink();
    expect(mapCheckpoint({ error_code: 'x' }, sink)).toBeUndefined();
    expect(mapCheckpoint('nonsense', sink)).toBeUndefined();
    expect(sink.problems).toEqual(['checkpoint answer without checkpoint.id', 'checkpoint answer without checkpoint.id']);
  });
});

describe('CBR state tables', () => {
  test.each([
    ['waiting', 'pending'],
    ['running', 'running'],
    ['success', 'succeeded'],
    ['failed', 'failed'],
    ['timeout', 'failed'],
    ['skipped', 'cancelled'],
    ['queued', 'unknown'],
  ])('task status %s -> state %s', (status, state) => {
    const sink = recordingSink();
    const job = mapTask({ id: 't', status, started_at: '2024-01-01T00:00:00Z', extra_info: { resource: { name: 'r' } } }, 'backup', sink);
    expect([job?.state, job?.status]).toEqual([state, status]);
    expect(sink.unknown).toEqual(state === 'unknown' ? [status] : []);
  });

  test('the task table is exactly the design table', () => {
    expect(CBR_TASK_STATES).toEqual({ waiting: 'pending', running: 'running', success: 'succeeded', failed: 'failed', timeout: 'failed', skipped: 'cancelled' });
  });

  test.each([
    // checkpoint states (design table)
    ['available', 'available'],
    ['protecting', 'creating'],
    ['deleting', 'deleting'],
    ['deleted', 'deleted'],
    ['error', 'error'],
    ['error-deleting', 'error'],
    // the backup list's further words
    ['restoring', 'available'],
    ['waiting_protect', 'creating'],
    ['waiting_delete', 'deleting'],
    ['waiting_restore', 'available'],
    ['frozen', 'unknown'],
  ])('restore point status %s -> state %s', (status, state) => {
    expect(mapRestorePointStatus(status)).toBe(state);
    const sink = recordingSink();
    const point = mapBackup({ id: 'b', status, created_at: '2020-02-05T10:38:34.209782', resource_name: 'r', vault_id: 'v' }, new VaultNames(), sink);
    expect(point?.state).toBe(state);
    expect(sink.unknown).toEqual(state === 'unknown' ? [status] : []);
  });

  test('every design checkpoint word is in the restore point table', () => {
    for (const word of ['available', 'protecting', 'deleting', 'deleted', 'error', 'error-deleting']) expect(CBR_RESTORE_POINT_STATES).toHaveProperty([word]);
  });
});

describe('CBR times and sizes', () => {
  test.each([
    ['2019-05-23T14:35:23.584418', at('2019-05-23T14:35:23Z', 0.584418)],
    ['2019-05-23T14:35:23.584+00:00', at('2019-05-23T14:35:23Z', 0.584)],
    ['2019-05-23T14:35:23.584+08:00', at('2019-05-23T06:35:23Z', 0.584)],
    ['2019-05-23T14:35:23.1+0800', at('2019-05-23T06:35:23Z', 0.1)],
    ['2020-02-23T01:00:32Z', at('2020-02-23T01:00:32Z')],
    ['2019-02-13T06:52:13.855000Z', at('2019-02-13T06:52:13Z', 0.855)],
    ['2019-05-23T14:35:23', at('2019-05-23T14:35:23Z')],
  ])('%s', (text, expected) => {
    expect(parseCbrTime(text)).toBe(expected);
  });

  test.each(['', 'yesterday', '23/05/2019 14:35', '2019-13-45T99:00:00', null, 1558622123, undefined])('%p is not a time', (value) => {
    expect(parseCbrTime(value)).toBeUndefined();
  });

  test('start_time is %YYYY-%mm-%ddT%HH:%MM:%SSZ', () => {
    expect(formatStartTime(at('2024-01-01T00:00:00Z', 0.9))).toBe('2024-01-01T00:00:00Z');
    expect(formatStartTime(-5)).toBe('1970-01-01T00:00:00Z');
  });

  test('resource_size in GB as "40" and as 40 is 40 GiB; anything else is no size', () => {
    expect(gbToBytes('40')).toBe(40 * BYTES_PER_GB);
    expect(gbToBytes(40)).toBe(40 * BYTES_PER_GB);
    expect(gbToBytes(' 0.5 ')).toBe(GIB / 2);
    for (const bad of ['', 'forty', -1, '-1', NaN, Infinity, null, undefined, {}]) expect(gbToBytes(bad)).toBeUndefined();
  });
});

describe('CBR tasks', () => {
  test('backup tasks: resource from extra_info.resource, both time formats, error code and message kept, end only when finished', () => {
    const sink = recordingSink();
    const vaults = new VaultNames();
    const tasks = mapTaskPage(fixture('operation-logs-backup.json').operation_logs, 'backup', sink, vaults);
    expect(tasks.map((t) => t.job)).toEqual<Job[]>([
      {
        kind: 'backup',
        id: 'task-success',
        resource: 'ecs-1f0f-0002',
        state: 'succeeded',
        status: 'success',
        startedAt: at('2019-05-23T14:35:23Z', 0.584418),
        endedAt: at('2019-05-23T14:40:01Z', 0.000123),
      },
      {
        kind: 'backup',
        id: 'task-failed',
        resource: 'ecs-db-0002',
        state: 'failed',
        status: 'failed',
        startedAt: at('2019-05-23T14:35:23Z', 0.584),
        endedAt: at('2019-05-23T14:35:23Z', 0.584),
        error: 'BackupService.6502: Failed to create the snapshot of the disk.',
      },
      {
        kind: 'backup',
        id: 'task-timeout',
        resource: 'ecs-app-0003',
        state: 'failed',
        status: 'timeout',
        startedAt: at('2019-05-23T14:35:23Z'),
        endedAt: at('2019-05-23T16:35:23Z'),
        error: 'BackupService.6503',
      },
      {
        kind: 'backup',
        id: 'task-skipped',
        resource: 'r-4',
        state: 'cancelled',
        status: 'skipped',
        startedAt: at('2019-05-23T14:35:23Z', 0.000001),
        endedAt: at('2019-05-23T14:35:24Z', 0.000001),
      },
      { kind: 'backup', id: 'task-running', resource: 'evs-data-0005', state: 'running', status: 'running', startedAt: at('2019-05-23T14:50:00Z', 0.5) },
      { kind: 'backup', id: 'task-waiting', resource: 'evs-logs-0006', state: 'pending', status: 'waiting', startedAt: at('2019-05-23T14:55:00Z') },
    ]);
    expect(tasks.map((t) => [t.checkpointId, t.resourceId])).toEqual([
      ['b7e6a2b4-1f3c-4d7e-9a51-2c8f0e6d4a10', '94eba8b2-acc9-4d82-badc-127144cc5526'],
      ['c1', 'r-2'],
      ['c1', 'r-3'],
      ['c1', 'r-4'],
      ['c2', 'r-5'],
      [undefined, 'r-6'],
    ]);
    expect(vaults.get('3b5816b5-f29c-4172-9d9a-76c719a659ce')).toBe('vault-be94');
    expect(vaults.get('v-2')).toBe('vault-disks');
    expect(sink.problems).toEqual([]);
    expect(sink.unknown).toEqual([]);
  });

  test('restore tasks: resource from extra_info.restore (target name, else target id, else the backed-up resource)', () => {
    const sink = recordingSink();
    const jobs = mapTaskPage(fixture('operation-logs-restore.json').operation_logs, 'restore', sink, new VaultNames()).map((t) => t.job);
    expect(jobs).toEqual<Job[]>([
      {
        kind: 'restore',
        id: 'restore-success',
        resource: 'ecs-restored-0001',
        state: 'succeeded',
        status: 'success',
        startedAt: at('2019-05-24T08:00:00Z', 0.123456),
        endedAt: at('2019-05-24T08:09:30Z', 0.654321),
      },
      {
        kind: 'restore',
        id: 'restore-failed',
        resource: 'r-2-target',
        state: 'failed',
        status: 'failed',
        startedAt: at('2019-05-24T01:00:00Z'),
        endedAt: at('2019-05-24T01:05:00Z'),
        error: 'BackupService.6601: Failed to restore the disk from the backup.',
      },
      { kind: 'restore', id: 'restore-no-target', resource: 'ecs-app-0003', state: 'running', status: 'running', startedAt: at('2019-05-24T10:00:00Z') },
    ]);
    expect(sink.problems).toEqual([]);
  });

  test('odd answers: non-objects and tasks without id skipped, unknown and missing status, bad time, numeric id, no resource', () => {
    const sink = recordingSink();
    const jobs = (fixture('odd-answers.json') as unknown[]).map((item) => mapTask(item, 'backup', sink)).filter((j): j is Job => j !== undefined);
    expect(jobs.map((j) => [j.id, j.resource, j.state, j.status, j.startedAt, j.endedAt])).toEqual([
      ['task-unknown-status', 'ecs-1', 'unknown', 'queued_on_mars', at('2019-05-23T14:35:23Z'), undefined],
      ['task-no-status', 'ecs-1', 'unknown', 'unknown', at('2019-05-23T14:35:23Z'), undefined],
      ['task-bad-time', 'ecs-1', 'succeeded', 'success', undefined, undefined],
      ['12345', 'vault-x', 'succeeded', 'success', at('2019-05-23T06:35:23Z', 0.1), undefined],
      ['task-no-names', 'unknown', 'succeeded', 'success', at('2019-05-23T14:35:23Z'), undefined],
    ]);
    expect(sink.unknown).toEqual(['queued_on_mars', '(none)']);
    expect(sink.problems).toEqual([
      'backup task is not an object',
      'backup task is not an object',
      'backup task without an id',
      'backup task task-bad-time: started_at "23/05/2019 14:35" is not a time',
      'backup task 12345 names no resource; reported as "vault-x"',
      'backup task task-no-names names no resource; reported as "unknown"',
    ]);
  });
});

describe('CBR backups as restore points', () => {
  test('vault named when known (else its id), sizes from "40" and 40, bad sizes left out, a bad created_at skipped', () => {
    const sink = recordingSink();
    const vaults = new VaultNames();
    vaults.remember('v-1', 'vault-one');
    const points = (fixture('backups.json').backups as unknown[]).map((b) => mapBackup(b, vaults, sink)).filter((p): p is RestorePoint => !!p);
    expect(points.map((p) => [p.id, p.resource, p.vault, p.state, p.bytes])).toEqual([
      ['b-available', 'ecs-1f0f-0002', 'vault-one', 'available', 40 * GIB],
      ['b-numeric', 'ecs-db-0002', 'vault-one', 'available', 40 * GIB],
      ['b-protecting', 'ecs-1f0f-0002', 'vault-one', 'creating', Math.round(100.5 * GIB)],
      ['b-deleting', 'r-1', 'vault-one', 'deleting', 0],
      ['b-error', 'ecs-1f0f-0002', 'v-2', 'error', undefined],
      ['b-restoring', 'ecs-1f0f-0002', 'v-2', 'available', undefined],
      ['b-waiting-protect', 'ecs-1f0f-0002', 'unknown', 'creating', undefined],
      ['b-waiting-delete', 'ecs-1f0f-0002', 'vault-one', 'deleting', undefined],
      ['b-waiting-restore', 'ecs-1f0f-0002', 'vault-one', 'available', undefined],
      ['b-unknown', 'ecs-1f0f-0002', 'vault-one', 'unknown', undefined],
    ]);
    expect(points[0]!.createdAt).toBe(at('2020-02-05T10:38:34Z', 0.209782));
    expect(points[4]!.createdAt).toBe(at('2020-02-05T11:00:00Z'));
    for (const p of points) expect(Number.isFinite(p.createdAt)).toBe(true);
    expect(sink.unknown).toEqual(['frozen']);
    expect(sink.problems).toEqual(['backup b-bad-time: created_at "yesterday" is not a time; skipped']);
  });
});

describe('CBR vaults and policies', () => {
  test('billing.used is MB and billing.size GB (numbers or numeric strings); a vault without billing has no sizes', () => {
    const sink = recordingSink();
    expect(mbToBytes(1024)).toBe(GIB);
    expect(mbToBytes('512')).toBe(GIB / 2);
    expect(mbToBytes(-1)).toBeUndefined();
    expect(mapVault({ id: 'v', name: 'n', billing: { size: 1, used: 512, status: 'lock' }, resources: [{ id: 'r', protect_status: 'available' }, 'junk'] }, sink)).toEqual({
      id: 'v',
      name: 'n',
      status: 'lock',
      storage: { vault: 'n', usedBytes: GIB / 2, capacityBytes: GIB },
      resources: [{ name: 'r', protectStatus: 'available' }],
    });
    expect(mapVault({ id: 'v' }, sink)?.storage).toEqual({ vault: 'v' });
    expect(mapVault({ name: 'x' }, sink)).toBeUndefined();
    expect(sink.problems).toEqual(['vault without an id']);
  });

  test('only backup policies count; enabled only when true', () => {
    const sink = recordingSink();
    expect(mapPolicy({ id: 'p', operation_type: 'replication', enabled: true }, sink)).toBeUndefined();
    expect(mapPolicy({ id: 'p', operation_type: 'backup', enabled: 'yes', associated_vaults: [{ vault_id: 'v' }, {}], trigger: { properties: { pattern: ['FREQ=HOURLY', 3] } } }, sink)).toEqual({
      id: 'p',
      enabled: false,
      vaultIds: ['v'],
      patterns: ['FREQ=HOURLY'],
    });
  });

  test('an unreadable schedule leaves the interval out (protection stays) and is logged', () => {
    const sink = recordingSink();
    const vault = { id: 'v', name: 'n', storage: { vault: 'n' }, resources: [{ name: 'r', protectStatus: 'available' }] };
    const found = inventoryOf([vault], [{ id: 'p', enabled: true, vaultIds: ['v'], patterns: ['FREQ=MONTHLY;BYMONTHDAY=1'] }], sink);
    expect(found.resources).toEqual([{ resource: 'r', protected: true, status: 'available' }]);
    expect(sink.problems).toEqual(['backup policy p of vault n: schedule "FREQ=MONTHLY;BYMONTHDAY=1" not understood; no schedule interval']);
    expect(inventoryOf([vault], undefined, sink).resources).toBeUndefined();
  });
});

describe('CBR checkpoint lookups (bounded)', () => {
  const task = (id: string, status: string, checkpointId?: string, error?: string): MappedTask => {
    const job: Job = { kind: 'backup', id, resource: 'r', state: 'cancelled', status };
    if (error) job.error = error;
    return checkpointId ? { job, checkpointId, resourceId: 'r' } : { job };
  };

  test('skipped tasks without an error; nothing already known; at most the limit', () => {
    const tasks = [task('t1', 'skipped', 'c-5'), task('t2', 'skipped', 'c-6', 'BackupService.6009'), task('t3', 'success', 'c-7'), task('t4', 'skipped', 'c-1'), task('t5', 'skipped', 'c-known')];
    const memo = { has: (id: string) => id === 'c-known' };
    expect(checkpointsToRead(tasks, memo)).toEqual(['c-5', 'c-1']);
    expect(checkpointsToRead(tasks, memo, 1)).toEqual(['c-5']);
  });

  test('VaultNames stays bounded', () => {
    const vaults = new VaultNames(2);
    vaults.remember('a', '1');
    vaults.remember('b', '2');
    vaults.remember('c', '3');
    expect([vaults.get('a'), vaults.get('b'), vaults.get('c')]).toEqual([undefined, '2', '3']);
  });
});

describe('CBR collect with canned answers', () => {
  interface Call {
    path: string;
    query?: Record<string, unknown>;
  }

  /** The vault and policy fixtures unless `answer` is asked for every path. */
  function context(answer: (call: Call) => unknown, lookbackStart = at('2019-05-20T00:00:00Z', 0.7), inventory = true) {
    const calls: Call[] = [];
    const warnings: string[] = [];
    const unknown: string[] = [];
    const ctx = {
      http: {
        json: async (options: Call) => {
          calls.push({ path: options.path, query: options.query });
          if (inventory && options.path === '/v3/p1/vaults') return fixture('vaults.json');
          if (inventory && options.path === '/v3/p1/policies') return fixture('policies.json');
          return answer(options);
        },
        request: async () => {
          throw new Error('not used');
        },
      },
      now: at('2019-05-25T00:00:00Z'),
      lookbackStart,
      signal: new AbortController().signal,
      log: { warn: (_obj: object, msg: string) => warnings.push(msg), info: () => undefined, debug: () => undefined } as never,
      unknownStatus: (s: string) => unknown.push(s),
      report: () => {
        throw new Error('CBR returns its jobs from collect(); nothing is reported on the way');
      },
    };
    return { ctx: ctx as never, calls, warnings, unknown };
  }

  const target = { name: 't', provider: 'cbr', url: 'https://cbr.example.com', cbr: { project_id: 'p1', access_key: 'AK', secret_key: 'SK' } } as never;
  const env = { log: { warn: () => undefined } as never, client: () => ({}) as never };

  test('lists both kinds from the lookback start, names vaults from the vault list, explains a skipped task from its checkpoint, survives a 404 detail', async () => {
    const { ctx, calls } = context(({ path, query }) => {
      if (path === '/v3/p1/operation-logs') return fixture(query?.operation_type === 'backup' ? 'operation-logs-backup.json' : 'operation-logs-restore.json');
      if (path === '/v3/p1/backups') return fixture('backups.json');
      if (path === '/v3/p1/checkpoints/c1') return fixture('checkpoint-skipped.json');
      throw new CollectError('http_4xx', `GET ${path}: HTTP 404: not found`);
    });
    const instance = bind(cbr, target, env);
    const collected = await collectWith(instance, ctx);
    expect(calls.slice(0, 5)).toEqual([
      { path: '/v3/p1/operation-logs', query: { operation_type: 'backup', start_time: '2019-05-20T00:00:00Z', limit: 1000, offset: undefined } },
      { path: '/v3/p1/operation-logs', query: { operation_type: 'restore', start_time: '2019-05-20T00:00:00Z', limit: 1000, offset: undefined } },
      { path: '/v3/p1/backups', query: { limit: 1000, offset: undefined } },
      { path: '/v3/p1/vaults', query: { limit: 1000, offset: undefined } },
      { path: '/v3/p1/policies', query: { operation_type: 'backup', limit: 1000, offset: undefined } },
    ]);
    // c1 explains the skipped task; no checkpoint is asked for a vault's name.
    expect(calls.slice(5).map((c) => c.path)).toEqual(['/v3/p1/checkpoints/c1']);
    expect(collected.jobs.find((j) => j.id === 'task-skipped')?.error).toBe('BackupService.6009: The resource is being backed up.');
    expect(collected.jobs).toHaveLength(9);
    const vaultOf = (id: string) => collected.restorePoints.find((p) => p.id === id)?.vault;
    expect([vaultOf('b-available'), vaultOf('b-error'), vaultOf('b-waiting-protect')]).toEqual(['vault-servers', 'vault-disks', 'unknown']);
    expect(collected.storage.map((s) => [s.vault, s.usedBytes, s.capacityBytes])).toEqual([
      ['vault-servers', 40 * GIB, 100 * GIB],
      ['vault-disks', 192 * GIB, 200 * GIB],
      ['vault-unscheduled', 0, 50 * GIB],
      ['vault-paused', GIB, 20 * GIB],
    ]);
    expect(collected.alerts).toEqual([{ resource: 'vault-disks', type: 'vault_frozen' }]);
    expect(collected.resources.map((r) => [r.resource, r.protected, r.status, r.scheduleIntervalSeconds])).toEqual([
      ['ecs-1f0f-0002', true, 'available', 86400],
      ['ecs-db-0002', true, 'available', 86400],
      ['ecs-app-0003', false, 'error', 86400],
      ['evs-data-0005', true, 'available', 3 * 86400 - 12 * 3600],
      ['evs-logs-0006', true, 'protecting', 3 * 86400 - 12 * 3600],
      ['ecs-archive-0007', false, 'no_policy', undefined],
      ['evs-archive-0008', false, 'policy_disabled', undefined],
    ]);

    // A second collection asks no checkpoint again: answers are remembered.
    calls.length = 0;
    await collectWith(instance, ctx);
    expect(calls.map((c) => c.path).filter((p) => p.includes('/checkpoints/'))).toEqual([]);
  });

  test('a 403 on the policy list leaves protection out, logged once; storage, alerts and jobs stay', async () => {
    const { ctx, warnings } = context(({ path }) => {
      if (path === '/v3/p1/vaults') return fixture('vaults.json');
      if (path === '/v3/p1/policies') throw new CollectError('auth', `GET ${path}: HTTP 403: forbidden`, 403);
      if (path === '/v3/p1/backups') return { backups: [], count: 0 };
      return { operation_logs: [], count: 0 };
    }, undefined, false);
    const instance = bind(cbr, target, env);
    const collected = await collectWith(instance, ctx);
    expect(collected.resources).toEqual([]);
    expect(collected.storage).toHaveLength(4);
    expect(collected.alerts).toHaveLength(1);
    await collectWith(instance, ctx);
    expect(warnings.filter((w) => w.includes('policy list'))).toHaveLength(1);
  });

  test('pages with offset until a short page, and a task seen on two pages counts once', async () => {
    const task = (i: number) => ({ id: `t-${i}`, status: 'success', started_at: '2019-05-23T14:35:23Z', extra_info: { resource: { name: 'r' } } });
    const { ctx, calls } = context(({ path, query }) => {
      if (path === '/v3/p1/backups') return { backups: [], count: 0 };
      if (query?.operation_type === 'restore') return { operation_logs: [], count: 0 };
      const offset = Number(query?.offset ?? 0);
      // The list moved by one while paging: the first item of page 2 is the last of page 1.
      if (offset === 0) return { operation_logs: Array.from({ length: 1000 }, (_, i) => task(i)), count: 1004 };
      return { operation_logs: Array.from({ length: 5 }, (_, i) => task(999 + i)), count: 1004 };
    });
    const collected = await collectWith(bind(cbr, target, env), ctx);
    expect(calls.filter((c) => c.path === '/v3/p1/operation-logs' && c.query?.operation_type === 'backup').map((c) => c.query?.offset)).toEqual([undefined, 1000]);
    expect(collected.jobs).toHaveLength(1004);
  });

  test("a skipped task's checkpoint is asked as soon as its page arrives, not after the list's last page", async () => {
    const skipped = (fixture('operation-logs-backup.json') as { operation_logs: { id: string }[] }).operation_logs.find((t) => t.id === 'task-skipped');
    const task = (i: number) => ({ id: `t-${i}`, status: 'success', started_at: '2019-05-23T14:35:23Z', extra_info: { resource: { name: 'r' } } });
    const events: string[] = [];
    let checkpointAsked: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => (checkpointAsked = resolve));
    const { ctx } = context(async ({ path, query }) => {
      if (path === '/v3/p1/backups') return { backups: [], count: 0 };
      if (path === '/v3/p1/checkpoints/c1') {
        events.push('checkpoint asked');
        checkpointAsked();
        return fixture('checkpoint-skipped.json');
      }
      if (query?.operation_type === 'restore') return { operation_logs: [], count: 0 };
      if (query?.offset === undefined) return { operation_logs: [skipped, ...Array.from({ length: 999 }, (_, i) => task(i))], count: 1500 };
      // Page 2 answers once the checkpoint is asked, or, if it never is, after a wait long enough
      // that a slow machine cannot be what kept the checkpoint from being asked first.
      await Promise.race([asked, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      events.push('page 2 answered');
      return { operation_logs: Array.from({ length: 500 }, (_, i) => task(1000 + i)), count: 1500 };
    });
    const collected = await collectWith(bind(cbr, target, env), ctx);
    expect(events).toEqual(['checkpoint asked', 'page 2 answered']);
    expect(collected.jobs.find((j) => j.id === 'task-skipped')?.error).toBe('BackupService.6009: The resource is being backed up.');
  });

  test('checkpoint lookups for skipped tasks stop at the bound', async () => {
    const skippedTask = (i: number) => ({ id: `s-${i}`, checkpoint_id: `cs-${i}`, status: 'skipped', started_at: '2019-05-23T14:35:23Z', extra_info: { resource: { id: `r-${i}`, name: 'r' } } });
    const { ctx, calls } = context(({ path, query }) => {
      if (path === '/v3/p1/backups') return { backups: [], count: 0 };
      if (path.startsWith('/v3/p1/checkpoints/')) throw new CollectError('http_4xx', `GET ${path}: HTTP 404: not found`);
      if (query?.operation_type === 'restore') return { operation_logs: [], count: 0 };
      return { operation_logs: Array.from({ length: 20 }, (_, i) => skippedTask(i)), count: 20 };
    });
    await collectWith(bind(cbr, target, env), ctx);
    expect(calls.map((c) => c.path).filter((p) => p.includes('/checkpoints/'))).toHaveLength(MAX_CHECKPOINT_LOOKUPS);
  });

  test('an answer without the list is invalid_response', async () => {
    const { ctx } = context(() => ({ error_code: 'BackupService.6500', error_msg: 'oops' }), undefined, false);
    await expect(collectWith(bind(cbr, target, env), ctx)).rejects.toMatchObject({ reason: 'invalid_response' });
  });
});

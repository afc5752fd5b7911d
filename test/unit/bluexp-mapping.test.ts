import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';

import type { TargetConfig } from '../../src/config/schema';
import type { HttpClient, RequestOptions } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import type { Job, ProductAlert, ResourceProtection, StorageUsage } from '../../src/model';
import { summarizeNow } from '../../src/metrics';
import { JOB_STATES, UnknownStatusLog } from '../../src/model';
import {
  ALERT_FAILED_VOLUMES,
  ALERT_VOLUMES_NOT_BACKED_UP,
  BLUEXP_DEFAULTS,
  INVENTORY_TTL_MS,
  MAX_DETAIL_REQUESTS,
  MAX_VOLUMES,
  MAX_VOLUMES_PER_ENVIRONMENT,
  NO_BACKUP_STATUS,
  countValue,
  inventoryFindings,
  namesOf,
  scheduleIntervalOf,
  volumeProtection,
  volumeRestorePoint,
  volumesOf,
  workingEnvironmentsOf,
  apiPrefix,
  asList,
  bluexp,
  jobKind,
  jobsOf,
  mapJob,
  mergeJobLists,
  needsDetails,
  normalizeAgentId,
  parseTokenAnswer,
  timeToSeconds,
  tokenRequestBody,
} from '../../src/providers/bluexp';
import type { BlueXpSink, Inventory, JobSource, ResourceNames, Volume, WorkingEnvironment } from '../../src/providers/bluexp';
import type { CollectContext } from '../../src/providers/types';
import { bind, collectWith } from '../helpers/collect';

const fixture = (name: string): any => JSON.parse(readFileSync(join(__dirname, '../fixtures/bluexp', name), 'utf8'));

function recordingSink(): BlueXpSink & { unknown: string[]; problems: string[]; types: string[] } {
  const unknown: string[] = [];
  const problems: string[] = [];
  const types: string[] = [];
  return {
    unknown,
    problems,
    types,
    unknownStatus: (s) => unknown.push(s),
    problem: (p) => problems.push(p),
    unclassifiedType: (t) => types.push(t),
  };
}

function mapAnswer(body: unknown, sink: BlueXpSink, source: JobSource = 'job', names?: ResourceNames): Job[] {
  return jobsOf(body, 'test').flatMap((raw) => mapJob(raw, sink, source, names));
}

/** used-capacity-gb is read as decimal GB (see BYTES_PER_GB). */
const GB = 1e9;

describe('BlueXP: the seed pages\' example answers', () => {
  test('seed 000 (GET /restore/status): a restore whose words are all "string"; the status is unknown, nothing else is lost', () => {
    for (const source of ['restore-status', 'job'] as const) {
      const sink = recordingSink();
      expect(mapAnswer(fixture('seed-000-restore-status.json'), sink, source)).toEqual<Job[]>([
        { kind: 'restore', id: 'string', resource: 'string/string', state: 'unknown', status: 'string', error: 'string' },
      ]);
      expect(sink.unknown).toEqual(['string']);
      expect(sink.problems).toEqual([]);
    }
  });

  test('seed 001 (GET /job/{jobId}): "job" is one object, not a list; without an id the job is skipped and reported', () => {
    const sink = recordingSink();
    const body = fixture('seed-001-job.json');
    expect(jobsOf(body, 'test')).toEqual([body.job]);
    expect(mapAnswer(body, sink)).toEqual([]);
    expect(sink.problems).toEqual(['job without an id skipped']);
  });

  test('seed 001 with an id: nested volume and batch objects are read as one-element lists; data.restore makes it a restore', () => {
    const sink = recordingSink();
    const body = fixture('seed-001-job.json');
    const job = { id: 'seed-001', ...body.job };
    expect(mapJob(job, sink)).toEqual<Job[]>([{ kind: 'restore', id: 'seed-001', resource: 'unknown', state: 'pending', status: 'PENDING' }]);
    // The same job typed as a backup: its one volume object becomes one job.
    expect(mapJob({ ...job, type: 'backup' }, sink)).toEqual([]);
    expect(sink.problems).toEqual(['job seed-001: a volume without an id skipped']);
    const withVolumeId = { ...job, type: 'backup', data: { 'multi-volume-backup': { volume: { id: 'v', status: 'SUCCESS' } } } };
    expect(mapJob(withVolumeId, sink)).toEqual<Job[]>([{ kind: 'backup', id: 'seed-001', resource: 'v', state: 'succeeded', status: 'SUCCESS' }]);
    expect(sink.unknown).toEqual([]);
  });
});

describe('BlueXP: backup jobs', () => {
  test('a multi-volume backup with one failed volume is one job per volume; the volume\'s own error, else the job\'s', () => {
    const sink = recordingSink();
    const jobs = mapAnswer(fixture('multi-volume-backup-failed-volume.json'), sink);
    const id1 = '0193a1f2-4c00-7abc-8def-000000000001';
    const id2 = '0193a1f2-4c00-7abc-8def-000000000002';
    expect(jobs).toEqual<Job[]>([
      { kind: 'backup', id: id1, resource: 'vol-finance', state: 'succeeded', status: 'SUCCESS', startedAt: 1732440000 },
      {
        kind: 'backup',
        id: id1,
        resource: 'vol-hr',
        state: 'failed',
        status: 'FAILED',
        startedAt: 1732440000,
        error: 'SnapMirror transfer failed: Destination volume is out of space',
      },
      { kind: 'backup', id: id1, resource: 'vol-erp', state: 'succeeded', status: 'SUCCESS', startedAt: 1732440000 },
      { kind: 'backup', id: id2, resource: 'vol-logs', state: 'failed', status: 'FAILED', startedAt: 1732443600, error: 'Backup failed for 1 of 2 volume(s)' },
      // A volume without a status of its own takes the job's.
      { kind: 'backup', id: id2, resource: 'vol-home', state: 'failed', status: 'FAILED', startedAt: 1732443600, error: 'Backup failed for 1 of 2 volume(s)' },
    ]);
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual([]);
  });

  test.each([
    ['PENDING', 'pending'],
    ['IN_PROGRESS', 'running'],
    ['COMPLETED', 'succeeded'],
    ['FAILED', 'failed'],
    ['CANCELLED', 'unknown'],
  ])('job status %s -> state %s', (status, state) => {
    const sink = recordingSink();
    const [job] = mapJob({ id: 'j', 'working-environment-id': 'we-1', type: 'backup', status, time: 1732440000 }, sink);
    expect(job).toEqual({ kind: 'backup', id: 'j', resource: 'we-1', state, status, startedAt: 1732440000 });
    expect(sink.unknown).toEqual(state === 'unknown' ? [status] : []);
  });

  test.each([
    ['SUCCESS', 'succeeded'],
    ['FAILED', 'failed'],
    ['PENDING', 'pending'],
    ['IN_PROGRESS', 'running'],
    ['SKIPPED', 'unknown'],
  ])('volume status %s -> state %s', (status, state) => {
    const sink = recordingSink();
    const raw = { id: 'j', type: 'backup', status: 'IN_PROGRESS', data: { 'multi-volume-backup': { volume: [{ id: 'v', status }] } } };
    expect(mapJob(raw, sink)[0]).toMatchObject({ resource: 'v', state, status });
    expect(sink.unknown).toEqual(state === 'unknown' ? [status] : []);
  });
});

describe('BlueXP: restore jobs', () => {
  test('file restores with batches and a volume restore: resource from source/target, worst batch without a job status, warning when partly failed', () => {
    const sink = recordingSink();
    expect(mapAnswer(fixture('file-restore-batches.json'), sink)).toEqual<Job[]>([
      { kind: 'restore', id: 'r-file-running', resource: 'cvo-prod/vol_finance', state: 'running', status: 'IN_PROGRESS', startedAt: 1732440000 },
      {
        kind: 'restore',
        id: 'r-file-nostatus',
        resource: 'onprem-dc1/vol_erp',
        state: 'failed',
        status: 'FAILED',
        startedAt: 1732443000,
        error: 'Failed to restore file: permission denied',
      },
      {
        kind: 'restore',
        id: 'r-file-partly',
        resource: 'vol-hr',
        state: 'warning',
        status: 'COMPLETED',
        startedAt: 1732450000,
        error: 'Failed to restore file: path not found in the backup',
      },
      { kind: 'restore', id: 'r-volume', resource: 'onprem-dc1/vol_sql', state: 'succeeded', status: 'COMPLETED', startedAt: 1732460000 },
    ]);
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual([]);
  });

  test('single-object answers: job, volume, batch and file as objects', () => {
    const sink = recordingSink();
    const answers = fixture('single-object-answers.json');
    expect(mapAnswer(answers.backup, sink)).toEqual<Job[]>([
      { kind: 'backup', id: 's-backup', resource: 'vol-only', state: 'succeeded', status: 'SUCCESS', startedAt: 1732440000 },
    ]);
    expect(mapAnswer(answers.restore, sink)).toEqual<Job[]>([
      {
        kind: 'restore',
        id: 's-restore',
        resource: 'cvo-prod/vol_home',
        state: 'running',
        status: 'IN_PROGRESS',
        startedAt: 1732440000,
        error: 'Failed to restore file: permission denied',
      },
    ]);
    expect(sink.problems).toEqual([]);
  });

  test('the target names the resource when the source does not', () => {
    const raw = { id: 'r', status: 'COMPLETED', data: { restore: { type: 'volume', target: { 'working-environment-name': 'cvo-dr', 'volume-name': 'vol_x_restore' } } } };
    expect(mapJob(raw, recordingSink(), 'restore-status')[0]?.resource).toBe('cvo-dr/vol_x_restore');
  });
});

describe('BlueXP: unknown statuses and odd answers', () => {
  test('an unknown job or volume status is state unknown, keeps its word, and is reported (logged once by the collection)', () => {
    const sink = recordingSink();
    expect(mapAnswer(fixture('unknown-status.json'), sink).map((j) => [j.id, j.resource, j.state, j.status])).toEqual([
      ['u-1', 'we-1', 'unknown', 'QUEUED'],
      ['u-2', 'vol-a', 'unknown', 'PARTIAL'],
      ['u-3', 'we-1', 'unknown', 'QUEUED'],
    ]);
    expect(sink.unknown).toEqual(['QUEUED', 'PARTIAL', 'QUEUED']);
  });

  test('non-objects, missing and numeric ids, unusable times, missing status, unclassified types, volumes without ids and twice', () => {
    const sink = recordingSink();
    expect(mapAnswer(fixture('odd-answers.json'), sink)).toEqual<Job[]>([
      { kind: 'backup', id: '42', resource: 'we-1', state: 'succeeded', status: 'COMPLETED', startedAt: 1732440000 },
      { kind: 'backup', id: 't-bad', resource: 'we-1', state: 'succeeded', status: 'COMPLETED' },
      { kind: 'backup', id: 't-nostatus', resource: 'we-1', state: 'unknown', status: 'UNKNOWN' },
      { kind: 'backup', id: 'adm', resource: 'we-1', state: 'succeeded', status: 'COMPLETED', startedAt: 1732440000.123 },
      { kind: 'backup', id: 'vols', resource: 'vol-a', state: 'succeeded', status: 'SUCCESS', startedAt: 1732440000 },
    ]);
    expect(sink.problems).toEqual([
      'job is not an object',
      'job is not an object',
      'job without an id skipped',
      'job t-bad: time -5 is not a usable time',
      'job vols: a volume without an id skipped',
      'job vols: a volume without an id skipped',
    ]);
    expect(sink.unknown).toEqual(['(none)']);
    expect(sink.types).toEqual(['retention-cleanup']);
  });

  test('jobsOf: "job" as a list, an object, missing; anything else is invalid_response', () => {
    expect(jobsOf({ job: [{ id: 'a' }] }, 'GET /job')).toEqual([{ id: 'a' }]);
    expect(jobsOf({ job: { id: 'a' } }, 'GET /job')).toEqual([{ id: 'a' }]);
    expect(jobsOf({}, 'GET /job')).toEqual([]);
    expect(jobsOf({ job: null }, 'GET /job')).toEqual([]);
    expect(() => jobsOf({ job: 'x' }, 'GET /job')).toThrow(new CollectError('invalid_response', 'GET /job: "job" is neither a list nor an object'));
    expect(() => jobsOf([], 'GET /job')).toThrow(new CollectError('invalid_response', 'GET /job: answer is not a JSON object'));
    expect(asList(undefined)).toEqual([]);
    expect(asList(3)).toEqual([3]);
  });
});

describe('BlueXP: small rules', () => {
  test.each([
    [1732440000, 1732440000],
    [1732440000123, 1732440000.123],
    ['1732440000', 1732440000],
    ['1732440000123', 1732440000.123],
    [99_999_999_999, 99_999_999_999],
    [100_000_000_000, 100_000_000],
    [0, undefined],
    [-1, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    ['yesterday', undefined],
    [null, undefined],
  ])('time %p -> %p seconds (milliseconds from 1e11 up)', (value, seconds) => {
    expect(timeToSeconds(value)).toBe(seconds);
  });

  test.each([
    ['uzJbMFKEnuzi2ryLaENbCP52KBTXx0aIclients', 'uzJbMFKEnuzi2ryLaENbCP52KBTXx0aIclients'],
    ['uzJbMFKEnuzi2ryLaENbCP52KBTXx0aI', 'uzJbMFKEnuzi2ryLaENbCP52KBTXx0aIclients'],
    [' abc ', 'abcclients'],
  ])('agent id %p is sent as x-agent-id %p', (configured, sent) => {
    expect(normalizeAgentId(configured)).toBe(sent);
  });

  test.each([
    [{ type: 'restore-file' }, 'restore'],
    [{ type: 'RESTORE' }, 'restore'],
    [{ type: 'backup', data: { restore: {} } }, 'backup'],
    [{ data: { restore: {} } }, 'restore'],
    [{ data: { 'multi-volume-backup': {} } }, 'backup'],
    [{ type: 'retention' }, 'backup'],
    [{}, 'backup'],
  ])('job %j is a %s job', (raw, kind) => {
    expect(jobKind(raw)).toBe(kind);
  });

  test('the API prefix', () => {
    expect(apiPrefix('account-i6vJXvZW')).toBe('/account/account-i6vJXvZW/providers/cloudmanager_cbs/api/v1');
  });

  test('GET /job is the list of record; /restore/status adds missing restores and lends data; one id is one job', () => {
    const lists = fixture('job-list-and-restore-status.json');
    const merged = mergeJobLists(jobsOf(lists['job-list'], 'a'), jobsOf(lists['restore-status'], 'b'));
    expect(merged.map((m) => [(m.raw as { id: string }).id, m.source])).toEqual([
      ['b-1', 'job'],
      ['r-both', 'job'],
      ['r-summary', 'job'],
      ['r-only', 'restore-status'],
    ]);
    const jobs = merged.flatMap((m) => mapJob(m.raw, recordingSink(), m.source));
    expect(jobs.map((j) => [j.kind, j.id, j.resource, j.state])).toEqual([
      ['backup', 'b-1', 'vol-a', 'succeeded'],
      // The /job entry wins over /restore/status for the same id.
      ['restore', 'r-both', 'cvo-prod/vol_a', 'running'],
      ['restore', 'r-summary', 'cvo-prod/vol_b', 'succeeded'],
      ['restore', 'r-only', 'onprem-dc1/vol_c', 'failed'],
    ]);
  });

  test('needsDetails: listed jobs without data, inside the lookback window or of unknown age', () => {
    expect(needsDetails({ id: 'a', time: 1000 }, 500)).toBe(true);
    expect(needsDetails({ id: 'a' }, 500)).toBe(true);
    expect(needsDetails({ id: 'a', time: 100 }, 500)).toBe(false);
    expect(needsDetails({ id: 'a', time: 1000, data: {} }, 500)).toBe(false);
    expect(needsDetails({ time: 1000 }, 500)).toBe(false);
  });
});

describe('BlueXP: token requests', () => {
  const block = (extra: Record<string, string>) =>
    ({ account_id: 'account-1', agent_id: 'a', token_url: BLUEXP_DEFAULTS.token_url, audience: BLUEXP_DEFAULTS.audience, ...extra }) as NonNullable<TargetConfig['bluexp']>;

  test('the refresh-token grant with the BlueXP Console client id, or a configured one', () => {
    expect(tokenRequestBody(block({ refresh_token: 'rt' }))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt',
      client_id: 'Mu0V1ywgYteI6w1MbD15fKfVIUrNXGWC',
      audience: 'https://api.cloud.netapp.com',
    });
    expect(tokenRequestBody(block({ refresh_token: 'rt', client_id: 'other' })).client_id).toBe('other');
  });

  test('the client-credentials grant of a service account', () => {
    expect(tokenRequestBody(block({ client_id: 'sa', client_secret: 'shh', audience: 'https://aud.example' }))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'sa',
      client_secret: 'shh',
      audience: 'https://aud.example',
    });
  });

  test('token answers: expires_in in seconds from the request time; a default when missing; no token is invalid_response', () => {
    expect(parseTokenAnswer({ access_token: 't', expires_in: 86400, token_type: 'Bearer' }, 1000)).toEqual({ value: 't', expiresAt: 1000 + 86_400_000 });
    expect(parseTokenAnswer({ access_token: 't', expires_in: '60' }, 0)).toEqual({ value: 't', expiresAt: 60_000 });
    expect(parseTokenAnswer({ access_token: 't', expires_in: -1 }, 0)).toEqual({ value: 't', expiresAt: 3_600_000 });
    expect(() => parseTokenAnswer({ error: 'x' }, 0)).toThrow(new CollectError('invalid_response', 'token answer has no access_token'));
  });
});

// ---------------------------------------------------------------------------------------------
// Working environments and volumes: protection, restore points, storage, names

describe('BlueXP: working environment and volume inventory', () => {
  const environments = () => workingEnvironmentsOf(fixture('working-environments.json'), recordingSink());
  const inventory = (): Inventory => {
    const [cvo, dc1, lab] = environments();
    const sink = recordingSink();
    return {
      environments: [
        { environment: cvo!, volumes: volumesOf(fixture('volumes-cvo-prod.json'), cvo!, sink) },
        { environment: dc1!, volumes: volumesOf(fixture('volumes-onprem-dc1.json'), dc1!, sink) },
        { environment: lab!, volumes: volumesOf(fixture('volumes-onprem-lab.json'), lab!, sink) },
      ],
    };
  };

  test('working environments: enablement, counts as strings, used capacity in GB, the default policy\'s interval', () => {
    const sink = recordingSink();
    expect(workingEnvironmentsOf(fixture('working-environments.json'), sink)).toEqual<WorkingEnvironment[]>([
      { id: 'VsaWorkingEnvironment-Ab12Cd34', name: 'cvo-prod', status: 'ON', enabled: true, backedUpVolumes: 5, totalVolumes: 7, failedVolumes: 1, usedBytes: 1843 * GB, intervalSeconds: 3600 },
      { id: 'OnPremWorkingEnvironment-Ef56Gh78', name: 'onprem-dc1', status: 'ON', enabled: true, backedUpVolumes: 2, totalVolumes: 2, failedVolumes: 0, usedBytes: 512.5 * GB, intervalSeconds: 86_400 },
      { id: 'OnPremWorkingEnvironment-Lab00001', name: 'onprem-lab', status: 'OFF', enabled: false, backedUpVolumes: 0, totalVolumes: 2, failedVolumes: 0 },
    ]);
    expect([sink.unknown, sink.problems]).toEqual([[], []]);
  });

  test('volumes: resource <working environment>/<volume>, backup-status, last backup in ms or s, snapshot-count, own policy', () => {
    const sink = recordingSink();
    expect(volumesOf(fixture('volumes-cvo-prod.json'), { name: 'cvo-prod' }, sink)).toEqual<Volume[]>([
      { id: 'vol-finance', resource: 'cvo-prod/vol_finance', status: 'ACTIVE', lastBackupAt: 1732532400, restorePoints: 77 },
      { id: 'vol-hr', resource: 'cvo-prod/vol_hr', status: 'FAILED', lastBackupAt: 1732440000, restorePoints: 76 },
      { id: 'vol-erp', resource: 'cvo-prod/vol_erp', status: 'ACTIVE', lastBackupAt: 1732492800, restorePoints: 34, intervalSeconds: 86_400 },
      { id: 'vol-logs', resource: 'cvo-prod/vol_logs', status: 'PAUSED', lastBackupAt: 1732186800, restorePoints: 12 },
      { id: 'vol-home', resource: 'cvo-prod/vol_home', status: 'ACTIVE', lastBackupAt: 1732273200, restorePoints: 70 },
    ]);
    expect(volumesOf(fixture('volumes-onprem-lab.json'), { name: 'onprem-lab' }, sink).map((v) => [v.resource, v.status])).toEqual([
      ['onprem-lab/vol_scratch', NO_BACKUP_STATUS],
      ['onprem-lab/vol_test', NO_BACKUP_STATUS],
    ]);
    expect([sink.unknown, sink.problems]).toEqual([[], []]);
  });

  test('protection: ACTIVE in an enabled working environment only; a disabled one gives its word and 0; interval from the volume\'s policy, else the working environment\'s', () => {
    const found = inventoryFindings(inventory(), recordingSink());
    expect(found.resources).toEqual<ResourceProtection[]>([
      { resource: 'cvo-prod/vol_finance', protected: true, status: 'ACTIVE', scheduleIntervalSeconds: 3600 },
      { resource: 'cvo-prod/vol_hr', protected: false, status: 'FAILED', scheduleIntervalSeconds: 3600 },
      { resource: 'cvo-prod/vol_erp', protected: true, status: 'ACTIVE', scheduleIntervalSeconds: 86_400 },
      { resource: 'cvo-prod/vol_logs', protected: false, status: 'PAUSED', scheduleIntervalSeconds: 3600 },
      { resource: 'cvo-prod/vol_home', protected: true, status: 'ACTIVE', scheduleIntervalSeconds: 3600 },
      { resource: 'onprem-dc1/vol_sql', protected: true, status: 'ACTIVE', scheduleIntervalSeconds: 86_400 },
      { resource: 'onprem-dc1/vol_vmware', protected: true, status: 'ACTIVE', scheduleIntervalSeconds: 86_400 },
      { resource: 'onprem-lab/vol_scratch', protected: false, status: 'OFF' },
      { resource: 'onprem-lab/vol_test', protected: false, status: 'OFF' },
    ]);
    expect(volumeProtection({ resource: 'we/v', status: 'active' }, { id: 'we', name: 'we', status: 'on', enabled: true }).protected).toBe(true);
  });

  test('restore points: one counted entry per backed-up volume in its working environment\'s vault; none without a backup time', () => {
    const sink = recordingSink();
    const found = inventoryFindings(inventory(), sink);
    expect(found.restorePoints.map((p) => [p.resource, p.vault, p.createdAt, p.count, p.state])).toEqual([
      ['cvo-prod/vol_finance', 'cvo-prod', 1732532400, 77, 'available'],
      ['cvo-prod/vol_hr', 'cvo-prod', 1732440000, 76, 'available'],
      ['cvo-prod/vol_erp', 'cvo-prod', 1732492800, 34, 'available'],
      ['cvo-prod/vol_logs', 'cvo-prod', 1732186800, 12, 'available'],
      ['cvo-prod/vol_home', 'cvo-prod', 1732273200, 70, 'available'],
      ['onprem-dc1/vol_sql', 'onprem-dc1', 1732492800, 33, 'available'],
    ]);
    // vol_vmware has no backup yet: snapshot-count 0 and no time is no restore point and no problem.
    expect(sink.problems).toEqual([]);
    const summary = summarizeNow({ restorePoints: found.restorePoints }, 10);
    expect(summary.restorePoints.get('cvo-prod')?.get('available')).toBe(77 + 76 + 34 + 12 + 70);
    // A count of 0 counts nothing and says nothing about the newest restore point.
    const none = summarizeNow({ restorePoints: [{ id: 'v', resource: 'we/v', vault: 'we', state: 'available', createdAt: 1, count: 0 }] }, 10);
    expect([none.restorePoints.get('we')?.get('available'), none.lastRestorePoint.get('we')]).toEqual([0, undefined]);
  });

  test('storage and product alerts per working environment: used capacity; failed and not backed-up volume counts when above 0', () => {
    const found = inventoryFindings(inventory(), recordingSink());
    expect(found.storage).toEqual<StorageUsage[]>([
      { vault: 'cvo-prod', usedBytes: 1843 * GB },
      { vault: 'onprem-dc1', usedBytes: 512.5 * GB },
    ]);
    expect(found.alerts).toEqual<ProductAlert[]>([
      { resource: 'cvo-prod', type: ALERT_FAILED_VOLUMES, count: 1 },
      { resource: 'cvo-prod', type: ALERT_VOLUMES_NOT_BACKED_UP, count: 2 },
      { resource: 'onprem-lab', type: ALERT_VOLUMES_NOT_BACKED_UP, count: 2 },
    ]);
    expect(summarizeNow({ alerts: found.alerts }, 10).alerts.get('cvo-prod')?.get(ALERT_VOLUMES_NOT_BACKED_UP)).toBe(2);
  });

  test.each<[string, unknown, number | undefined]>([
    ['hourly, daily, weekly: the hourly period', { rule: [{ label: 'daily', retention: '30' }, { label: 'hourly', retention: '24' }, { label: 'weekly', retention: '52' }] }, 3600],
    ['daily and weekly', { rule: [{ label: 'daily', retention: '30' }, { label: 'weekly', retention: '4' }] }, 86_400],
    ['weekly alone', { rule: [{ label: 'weekly', retention: '52' }] }, 7 * 86_400],
    ['monthly: 31 days', { rule: [{ label: 'monthly', retention: '12' }] }, 31 * 86_400],
    ['yearly: 366 days', { rule: [{ label: 'yearly', retention: '7' }] }, 366 * 86_400],
    ['labels in any case; a rule keeping 0 copies does not run', { rule: [{ label: 'Hourly', retention: '0' }, { label: 'DAILY', retention: 7 }] }, 86_400],
    ['one rule as an object', { rule: { label: 'daily', retention: '7' } }, 86_400],
    ['no rules', { name: 'empty' }, undefined],
    ['no policy', undefined, undefined],
  ])('schedule interval: %s', (_name, policy, expected) => {
    expect(scheduleIntervalOf(policy, recordingSink(), 'volume v')).toBe(expected);
  });

  test('schedule interval: an unknown label is reported and left out', () => {
    const sink = recordingSink();
    expect(scheduleIntervalOf({ rule: [{ label: 'every5min', retention: '12' }, { label: 'weekly', retention: '4' }] }, sink, 'volume v')).toBe(7 * 86_400);
    expect(sink.problems).toEqual(['volume v: backup policy rule label "every5min" has no known period']);
  });

  test('odd answers: items without an id or a name are skipped, unusable counts, sizes and times reported, duplicates read once', () => {
    const sink = recordingSink();
    const odd = fixture('inventory-odd-answers.json');
    const [environment, ...others] = workingEnvironmentsOf(odd, sink);
    expect(others).toEqual([]);
    expect(environment).toEqual<WorkingEnvironment>({ id: 'VsaWorkingEnvironment-Odd00001', name: 'VsaWorkingEnvironment-Odd00001', status: 'PENDING', enabled: false });
    expect(volumesOf(odd, environment!, sink)).toEqual<Volume[]>([
      { resource: 'VsaWorkingEnvironment-Odd00001/vol_odd_time', status: 'RESYNCING' },
      { id: 'vol-count-only', resource: 'VsaWorkingEnvironment-Odd00001/vol_count_only', status: 'ACTIVE', restorePoints: 5, intervalSeconds: 7 * 86_400 },
    ]);
    // The duplicate, mapped before it is dropped, has no backup-enablement-status.
    expect(sink.unknown).toEqual(['PENDING', '(none)', 'RESYNCING']);
    expect(sink.problems).toEqual([
      'working environment is not an object',
      'working environment without an id',
      'working environment VsaWorkingEnvironment-Odd00001: backed-up-volume-count "many" is not a count',
      'working environment VsaWorkingEnvironment-Odd00001: total-volumes-count -1 is not a count',
      'working environment VsaWorkingEnvironment-Odd00001: used-capacity-gb "lots" is not a size',
      'working environment VsaWorkingEnvironment-Odd00001: backup policy rule label "every5min" has no known period',
      'a volume of working environment VsaWorkingEnvironment-Odd00001 is not an object',
      'a volume of working environment VsaWorkingEnvironment-Odd00001 has neither a name nor a file-system-id',
      'volume VsaWorkingEnvironment-Odd00001/vol_odd_time: last-backup-creation-time "yesterday" is not a usable time',
      'volume VsaWorkingEnvironment-Odd00001/vol_odd_time: snapshot-count "12.5" is not a count',
    ]);
    // Copies without a time: counted nowhere, and said so.
    const [, countOnly] = volumesOf(odd, environment!, recordingSink());
    const point = recordingSink();
    expect(volumeRestorePoint(countOnly!, environment!, point)).toBeUndefined();
    expect(point.problems).toEqual(['volume VsaWorkingEnvironment-Odd00001/vol_count_only: snapshot-count 5 without a last-backup-creation-time; its restore points are not counted']);
  });

  test('names repeat: volumes of one name in two SVMs are <we>/<svm>/<volume>, one volume listed twice is one, working environments of one name carry their id', () => {
    const sink = recordingSink();
    const answer = fixture('inventory-same-names.json');
    const [a, b, dc2] = workingEnvironmentsOf(answer, sink);
    expect([a?.name, b?.name, dc2?.name]).toEqual(['dc1 (OnPremWorkingEnvironment-Dc1A0001)', 'dc1 (OnPremWorkingEnvironment-Dc1B0002)', 'dc2']);
    const first = volumesOf(answer, a!, sink);
    expect(first.map((v) => [v.id, v.resource, v.status])).toEqual([
      ['vol-data-prod', 'dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_prod/vol_data', 'ACTIVE'],
      ['vol-data-hr', 'dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_hr/vol_data', 'INACTIVE'],
      ['vol-logs', 'dc1 (OnPremWorkingEnvironment-Dc1A0001)/vol_logs', 'ACTIVE'],
    ]);
    const inventory: Inventory = { environments: [{ environment: a!, volumes: first }, { environment: b!, volumes: volumesOf(answer.second, b!, sink) }] };
    const found = inventoryFindings(inventory, sink);
    // The unprotected volume of the same name and the volume of the disabled namesake each keep a series.
    expect(found.resources.map((r) => [r.resource, r.protected, r.status])).toEqual([
      ['dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_prod/vol_data', true, 'ACTIVE'],
      ['dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_hr/vol_data', false, 'INACTIVE'],
      ['dc1 (OnPremWorkingEnvironment-Dc1A0001)/vol_logs', true, 'ACTIVE'],
      ['dc1 (OnPremWorkingEnvironment-Dc1B0002)/vol_data', false, 'OFF'],
    ]);
    expect(found.storage.map((s) => s.vault)).toEqual(['dc1 (OnPremWorkingEnvironment-Dc1A0001)', 'dc1 (OnPremWorkingEnvironment-Dc1B0002)']);
    expect(found.restorePoints.map((p) => [p.resource, p.vault])).toEqual([['dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_prod/vol_data', 'dc1 (OnPremWorkingEnvironment-Dc1A0001)']]);
    // Jobs name volume ids and working environment ids the same way.
    const names = namesOf(inventory);
    expect([names.volume('vol-data-hr'), names.volume('vol-data-b'), names.environment('OnPremWorkingEnvironment-Dc1B0002')]).toEqual([
      'dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_hr/vol_data',
      'dc1 (OnPremWorkingEnvironment-Dc1B0002)/vol_data',
      'dc1 (OnPremWorkingEnvironment-Dc1B0002)',
    ]);
    const restore = { id: 'r', status: 'COMPLETED', data: { restore: { source: { 'working-environment-id': 'OnPremWorkingEnvironment-Dc1A0001', 'working-environment-name': 'dc1', 'volume-id': 'vol-data-hr', 'volume-name': 'vol_data' } } } };
    expect(mapJob(restore, recordingSink(), 'restore-status', names)[0]?.resource).toBe('dc1 (OnPremWorkingEnvironment-Dc1A0001)/svm_hr/vol_data');
    const byName = { id: 'r2', status: 'COMPLETED', data: { restore: { source: { 'working-environment-id': 'OnPremWorkingEnvironment-Dc1B0002', 'working-environment-name': 'dc1', 'volume-name': 'vol_data' } } } };
    expect(mapJob(byName, recordingSink(), 'restore-status', names)[0]?.resource).toBe('dc1 (OnPremWorkingEnvironment-Dc1B0002)/vol_data');
    // Repeated names are the product's normal, not a problem.
    expect([sink.unknown, sink.problems]).toEqual([[], []]);
  });

  test('a volume name repeated within one SVM, or without an SVM, is told apart by its file-system-id', () => {
    const volume = [
      { 'file-system-id': 'id-1', name: 'v', svm: 's' },
      { 'file-system-id': 'id-2', name: 'v', svm: 's' },
      { 'file-system-id': 'id-3', name: 'v' },
      { name: 'v', svm: 's' },
    ];
    const resources = volumesOf({ volume }, { name: 'we' }, recordingSink()).map((v) => v.resource);
    expect(resources).toEqual(['we/s/v (id-1)', 'we/s/v (id-2)', 'we/v', 'we/s/v']);
    expect(new Set(resources).size).toBe(resources.length);
  });

  test('answers of the wrong shape are invalid_response; a missing list is empty; one item may come as an object', () => {
    expect(() => workingEnvironmentsOf('x', recordingSink())).toThrow(expect.objectContaining({ reason: 'invalid_response' }));
    expect(() => workingEnvironmentsOf({ 'working-environment': 3 }, recordingSink())).toThrow(expect.objectContaining({ reason: 'invalid_response' }));
    expect(() => volumesOf({ volume: 'x' }, { name: 'we' }, recordingSink())).toThrow(expect.objectContaining({ reason: 'invalid_response' }));
    expect(workingEnvironmentsOf({}, recordingSink())).toEqual([]);
    expect(volumesOf({ volume: { name: 'v' } }, { name: 'we' }, recordingSink()).map((v) => v.resource)).toEqual(['we/v']);
  });

  test('a list longer than the bound is cut there and said so', () => {
    const sink = recordingSink();
    const volume = Array.from({ length: MAX_VOLUMES_PER_ENVIRONMENT + 3 }, (_, i) => ({ name: `v${i}` }));
    expect(volumesOf({ volume }, { name: 'we' }, sink)).toHaveLength(MAX_VOLUMES_PER_ENVIRONMENT);
    expect(sink.problems).toEqual([`working environment we lists ${MAX_VOLUMES_PER_ENVIRONMENT + 3} volumes; the first ${MAX_VOLUMES_PER_ENVIRONMENT} are read`]);
  });

  test.each<[string, unknown, number | undefined]>([
    ['"7"', '7', 7],
    ['7', 7, 7],
    ['" 12 "', ' 12 ', 12],
    ['"0"', '0', 0],
    ['-1', -1, undefined],
    ['"1.5"', '1.5', undefined],
    ['"many"', 'many', undefined],
    ['null', null, undefined],
  ])('count %s -> %s', (_name, value, expected) => {
    expect(countValue(value)).toBe(expected);
  });
});

describe('BlueXP: one resource name everywhere', () => {
  const names = (): ResourceNames => {
    const environments = workingEnvironmentsOf(fixture('working-environments.json'), recordingSink());
    const files = ['volumes-cvo-prod.json', 'volumes-onprem-dc1.json', 'volumes-onprem-lab.json'];
    return namesOf({ environments: environments.map((environment, i) => ({ environment, volumes: volumesOf(fixture(files[i]!), environment, recordingSink()) })) });
  };

  test.each<[string, string]>([
    ['vol-finance', 'cvo-prod/vol_finance'],
    ['vol-hr', 'cvo-prod/vol_hr'],
    ['vol-sql', 'onprem-dc1/vol_sql'],
    ['vol-scratch', 'onprem-lab/vol_scratch'],
  ])('volume id %s -> %s', (id, resource) => {
    expect(names().volume(id)).toBe(resource);
  });

  test('backup jobs name their volumes as the inventory does; ids it does not know stay ids; a job without volumes names its working environment', () => {
    const sink = recordingSink();
    const jobs = mapAnswer(fixture('multi-volume-backup-failed-volume.json'), sink, 'job', names());
    expect(jobs.map((j) => j.resource)).toEqual(['cvo-prod/vol_finance', 'cvo-prod/vol_hr', 'cvo-prod/vol_erp', 'cvo-prod/vol_logs', 'cvo-prod/vol_home']);
    const unknown = mapJob({ id: 'j', type: 'backup', status: 'COMPLETED', data: { 'multi-volume-backup': { volume: [{ id: 'vol-gone', status: 'SUCCESS' }] } } }, sink, 'job', names());
    expect(unknown.map((j) => j.resource)).toEqual(['vol-gone']);
    const environmentJob = mapJob({ id: 'a', 'working-environment-id': 'OnPremWorkingEnvironment-Ef56Gh78', type: 'backup-activation', status: 'COMPLETED' }, sink, 'job', names());
    expect(environmentJob.map((j) => j.resource)).toEqual(['onprem-dc1']);
    expect(mapJob({ id: 'b', 'working-environment-id': 'we-unknown', type: 'backup', status: 'COMPLETED' }, sink, 'job', names()).map((j) => j.resource)).toEqual(['we-unknown']);
  });

  test('restores are named through the inventory where it knows their ids, else by the job\'s own names', () => {
    const sink = recordingSink();
    const restore = (source: Record<string, unknown>) => mapJob({ id: 'r', status: 'COMPLETED', data: { restore: { type: 'volume', source } } }, sink, 'restore-status', names())[0]!.resource;
    expect(restore({ 'volume-id': 'vol-hr' })).toBe('cvo-prod/vol_hr');
    expect(restore({ 'working-environment-id': 'OnPremWorkingEnvironment-Ef56Gh78', 'volume-id': 'vol-sql' })).toBe('onprem-dc1/vol_sql');
    expect(restore({ 'working-environment-id': 'OnPremWorkingEnvironment-Ef56Gh78', 'volume-name': 'vol_new' })).toBe('onprem-dc1/vol_new');
    expect(restore({ 'working-environment-name': 'cvo-prod', 'volume-name': 'vol_b' })).toBe('cvo-prod/vol_b');
    expect(restore({ 'working-environment-id': 'we-x', 'volume-id': 'vol-x' })).toBe('we-x/vol-x');
  });
});

// ---------------------------------------------------------------------------------------------
// collect() against canned answers (no HTTP): detail requests, their cache, tolerated 4xx, logged-once statuses

function target(): TargetConfig {
  return {
    name: 'bx',
    provider: 'bluexp',
    url: 'https://cloudmanager.cloud.netapp.com',
    timeout: 10_000,
    lookback: 7 * 86_400_000,
    max_jobs: 100,
    min_interval: 0,
    max_concurrency: 4,
    bluexp: { account_id: 'account-1', agent_id: 'agent', token_url: BLUEXP_DEFAULTS.token_url, audience: BLUEXP_DEFAULTS.audience, refresh_token: 'rt' },
  } as TargetConfig;
}

function harness(answer: (path: string) => unknown) {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const paths: string[] = [];
  const unknownLog = new UnknownStatusLog();
  const instance = bind(bluexp, target(), { log, client: () => ({}) as HttpClient });
  const collect = () => {
    const ctx: CollectContext = {
      signal: new AbortController().signal,
      http: {
        json: async <T>(options: RequestOptions) => {
          paths.push(options.path);
          const body = answer(options.path);
          if (body instanceof Error) throw body;
          return body as T;
        },
        request: async () => {
          throw new Error('not used');
        },
      },
      now: 1732500000,
      lookbackStart: 1732400000,
      log,
      unknownStatus: (status) => {
        if (unknownLog.firstTime('bluexp', status)) log.warn({ status }, 'unknown product status mapped to state "unknown"');
      },
      report: () => {
        throw new Error('BlueXP returns its jobs from collect(); nothing is reported on the way');
      },
    };
    return collectWith(instance, ctx);
  };
  return { collect, paths, lines };
}

const BASE = apiPrefix('account-1');

test('collect: an unknown status is logged once over two collections', async () => {
  const h = harness((path) => (path.endsWith('/job') ? fixture('unknown-status.json') : { job: [] }));
  await h.collect();
  const second = await h.collect();
  expect(second.jobs.map((j) => j.state)).toEqual(['unknown', 'unknown', 'unknown']);
  const logged = h.lines.filter((l) => l.includes('unknown product status'));
  expect(logged.map((l) => JSON.parse(l).status)).toEqual(['QUEUED', 'PARTIAL']);
});

test('collect: jobs listed without data are read with GET /job/{id}; finished ones only once', async () => {
  const full = fixture('multi-volume-backup-failed-volume.json').job as Array<Record<string, unknown>>;
  const running = { ...full[0], id: 'running-1', status: 'IN_PROGRESS', time: 1732450000 };
  const all: Array<Record<string, unknown>> = [...full, running];
  const old = { id: 'old', type: 'backup', status: 'COMPLETED', time: 1000 };
  const h = harness((path) => {
    if (path === `${BASE}/job`) return { job: [...all.map(({ data: _data, ...summary }) => summary), old] };
    if (path === `${BASE}/restore/status`) return { job: [] };
    const id = decodeURIComponent(path.slice(`${BASE}/job/`.length));
    return { job: all.find((j) => j.id === id) };
  });
  const first = await h.collect();
  expect(first.jobs.filter((j) => j.id !== 'old').map((j) => j.resource)).toEqual(['vol-finance', 'vol-hr', 'vol-erp', 'vol-logs', 'vol-home', 'vol-finance', 'vol-hr', 'vol-erp']);
  // Newest first; the job from before the lookback window is not asked about.
  expect(h.paths.filter((p) => p.startsWith(`${BASE}/job/`))).toEqual([`${BASE}/job/running-1`, `${BASE}/job/0193a1f2-4c00-7abc-8def-000000000002`, `${BASE}/job/0193a1f2-4c00-7abc-8def-000000000001`]);
  h.paths.length = 0;
  const second = await h.collect();
  expect(second.jobs).toEqual(first.jobs);
  expect(h.paths).toEqual([`${BASE}/job`, `${BASE}/restore/status`, `${BASE}/job/running-1`]);
  expect(MAX_DETAIL_REQUESTS).toBe(100);
});

test('collect: a refused GET /restore/status (4xx) leaves restores to GET /job and is logged when it starts; other failures fail the collection', async () => {
  let restoreStatus: unknown = new CollectError('http_4xx', `GET ${BASE}/restore/status: HTTP 404: Not Found`);
  const h = harness((path) => (path.endsWith('/job') ? fixture('file-restore-batches.json') : path.endsWith('/restore/status') ? restoreStatus : { 'working-environment': [] }));
  expect((await h.collect()).jobs).toHaveLength(4);
  expect((await h.collect()).jobs).toHaveLength(4);
  expect(h.lines.filter((l) => l.includes('restore/status refused'))).toHaveLength(1);
  restoreStatus = new CollectError('http_5xx', 'HTTP 503');
  await expect(h.collect()).rejects.toMatchObject({ reason: 'http_5xx' });
});

test('collect: a /job answer of the wrong shape is invalid_response', async () => {
  const h = harness((path) => (path.endsWith('/job') ? { job: 'nope' } : { job: [] }));
  await expect(h.collect()).rejects.toMatchObject({ reason: 'invalid_response' });
});

test('collect: any answer (fixtures with parts replaced by any JSON) resolves with well-formed jobs or rejects with a CollectError', async () => {
  const fixtures = readdirSync(join(__dirname, '../fixtures/bluexp')).map((f) => fixture(f));
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const paths = (value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []) => {
    out.push(at);
    if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
    return out;
  };
  const replaced = (value: unknown, path: Array<string | number>, by: unknown): unknown => {
    if (path.length === 0) return by;
    const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
    copy[path[0]!] = replaced(copy[path[0]!], path.slice(1), by);
    return copy;
  };
  const mutated = fc
    .tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), fc.oneof(anyJson, fc.constant(undefined))), { maxLength: 4 }))
    .map(([f, changes]) => changes.reduce<unknown>((v, [n, by]) => replaced(v, paths(v)[n % paths(v).length]!, by), f));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(anyJson, mutated, mutated), { minLength: 1, maxLength: 6 }), async (answers) => {
      let i = 0;
      const h = harness(() => {
        if (i >= 300) return new CollectError('timeout', 'request budget spent');
        return answers[i++ % answers.length];
      });
      let jobs: Job[];
      try {
        jobs = (await h.collect()).jobs;
      } catch (err) {
        expect(err).toBeInstanceOf(CollectError);
        return;
      }
      for (const job of jobs) {
        expect(['backup', 'restore']).toContain(job.kind);
        expect(JOB_STATES).toContain(job.state);
        expect(typeof job.id === 'string' && job.id !== '' && typeof job.resource === 'string' && job.resource !== '').toBe(true);
        if (job.startedAt !== undefined) expect(Number.isFinite(job.startedAt) && job.startedAt > 0).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
});

describe('collect: the inventory', () => {
  const WE = `${BASE}/backup/working-environment`;
  const inventoryAnswer = (path: string): unknown => {
    if (path === WE) return fixture('working-environments.json');
    if (path === `${WE}/VsaWorkingEnvironment-Ab12Cd34/volume`) return fixture('volumes-cvo-prod.json');
    if (path === `${WE}/OnPremWorkingEnvironment-Ef56Gh78/volume`) return fixture('volumes-onprem-dc1.json');
    if (path === `${WE}/OnPremWorkingEnvironment-Lab00001/volume`) return new CollectError('auth', `GET ${path}: HTTP 403: Forbidden`, 403);
    if (path.endsWith('/job')) return fixture('multi-volume-backup-failed-volume.json');
    return { job: [] };
  };

  test('read once within its lifetime; jobs and restore points name a volume alike; a refused volume list leaves that working environment without volumes, logged once', async () => {
    const h = harness(inventoryAnswer);
    const first = await h.collect();
    expect(h.paths.filter((p) => p.startsWith(WE))).toHaveLength(4);
    expect(first.jobs.map((j) => j.resource)).toEqual(['cvo-prod/vol_finance', 'cvo-prod/vol_hr', 'cvo-prod/vol_erp', 'cvo-prod/vol_logs', 'cvo-prod/vol_home']);
    const pointsOf = new Set(first.restorePoints.map((p) => p.resource));
    expect(first.jobs.every((j) => pointsOf.has(j.resource))).toBe(true);
    expect(first.resources.filter((r) => r.resource.startsWith('onprem-lab/'))).toEqual([]);
    expect(first.alerts).toContainEqual({ resource: 'onprem-lab', type: ALERT_VOLUMES_NOT_BACKED_UP, count: 2 });
    h.paths.length = 0;
    const second = await h.collect();
    expect(h.paths).toEqual([`${BASE}/job`, `${BASE}/restore/status`]);
    expect(second.resources).toEqual(first.resources);
    expect(h.lines.filter((l) => l.includes('refused an inventory call'))).toHaveLength(1);
  });

  test('a refusal (403) is read again when the inventory expires, and logged again', async () => {
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(1_000_000_000_000);
      const h = harness(inventoryAnswer);
      await h.collect();
      await h.collect();
      const lab = `${WE}/OnPremWorkingEnvironment-Lab00001/volume`;
      expect(h.paths.filter((p) => p === lab)).toHaveLength(1);
      clock.mockReturnValue(1_000_000_000_000 + INVENTORY_TTL_MS + 1);
      await h.collect();
      expect(h.paths.filter((p) => p === lab)).toHaveLength(2);
      expect(h.lines.filter((l) => l.includes('refused an inventory call'))).toHaveLength(2);
    } finally {
      clock.mockRestore();
    }
  });

  test.each([400, 404, 408, 409])('a volume list answered %d is no refusal: a named problem, not remembered as empty, the last list it gave kept', async (status) => {
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(1_000_000_000_000);
      const dc1 = `${WE}/OnPremWorkingEnvironment-Ef56Gh78/volume`;
      let failing = false;
      const h = harness((path) => (path === dc1 && failing ? new CollectError('http_4xx', `GET ${path}: HTTP ${status}: nope`, status) : inventoryAnswer(path)));
      const first = await h.collect();
      const dc1Resources = first.resources.filter((r) => r.resource.startsWith('onprem-dc1/'));
      expect(dc1Resources).toHaveLength(2);
      failing = true;
      clock.mockReturnValue(1_000_000_000_000 + INVENTORY_TTL_MS + 1);
      const second = await h.collect();
      expect(second.resources.filter((r) => r.resource.startsWith('onprem-dc1/'))).toEqual(dc1Resources);
      const third = await h.collect();
      expect(third.resources.filter((r) => r.resource.startsWith('onprem-dc1/'))).toEqual(dc1Resources);
      // Asked again on every collection while it fails: nothing was remembered as its answer.
      expect(h.paths.filter((p) => p === dc1)).toHaveLength(3);
      expect(h.lines.filter((l) => l.includes('refused an inventory call') && l.includes('Ef56Gh78'))).toEqual([]);
      const problems = h.lines.filter((l) => l.includes('answer partly unusable')).map((l) => JSON.parse(l).problem as string);
      expect(problems).toContainEqual(expect.stringContaining(`onprem-dc1`));
      expect(problems).toContainEqual(expect.stringContaining(`HTTP ${status}`));
      // Without a list from before, the working environment has no volumes until one is read.
      const fresh = harness((path) => (path === dc1 ? new CollectError('http_4xx', `GET ${path}: HTTP ${status}: nope`, status) : inventoryAnswer(path)));
      expect((await fresh.collect()).resources.filter((r) => r.resource.startsWith('onprem-dc1/'))).toEqual([]);
    } finally {
      clock.mockRestore();
    }
  });

  test('volumes across working environments are bounded: beyond MAX_VOLUMES the lists are cut, and said so', async () => {
    const environments = Math.ceil(MAX_VOLUMES / MAX_VOLUMES_PER_ENVIRONMENT) + 1;
    const ids = Array.from({ length: environments }, (_, i) => `we-${i}`);
    const h = harness((path) => {
      if (path === WE) return { 'working-environment': ids.map((id) => ({ id, name: id, 'backup-enablement-status': 'ON' })) };
      const we = ids.find((id) => path === `${WE}/${id}/volume`);
      if (we) return { volume: Array.from({ length: MAX_VOLUMES_PER_ENVIRONMENT }, (_, i) => ({ 'file-system-id': `${we}-v${i}`, name: `v${i}`, 'backup-status': 'ACTIVE' })) };
      return { job: [] };
    });
    const found = await h.collect();
    expect(found.resources).toHaveLength(MAX_VOLUMES);
    const problems = h.lines.filter((l) => l.includes('answer partly unusable')).map((l) => JSON.parse(l).problem as string);
    expect(problems).toContainEqual(expect.stringContaining(`volumes across working environments`));
    // The same bound holds for the lists kept for the next collection.
    expect((await h.collect()).resources).toHaveLength(MAX_VOLUMES);
  });

  test('a working environment list answered 404 fails the collection', async () => {
    const h = harness((path) => (path === WE ? new CollectError('http_4xx', `GET ${path}: HTTP 404: not found`, 404) : inventoryAnswer(path)));
    await expect(h.collect()).rejects.toMatchObject({ reason: 'http_4xx' });
  });

  test('a refused working environment list (403) leaves protection out and jobs named by id; other failures fail the collection', async () => {
    let list: unknown = new CollectError('auth', `GET ${WE}: HTTP 403: Forbidden`, 403);
    const h = harness((path) => (path === WE ? list : inventoryAnswer(path)));
    const found = await h.collect();
    expect([found.resources, found.restorePoints, found.storage]).toEqual([[], [], []]);
    expect(found.jobs.map((j) => j.resource)[0]).toBe('vol-finance');
    expect(h.lines.filter((l) => l.includes('refused an inventory call'))).toHaveLength(1);
    const other = harness((path) => (path === WE ? new CollectError('http_5xx', 'HTTP 503', 503) : inventoryAnswer(path)));
    await expect(other.collect()).rejects.toMatchObject({ reason: 'http_5xx' });
    list = { 'working-environment': 'nope' };
    const bad = harness((path) => (path === WE ? list : inventoryAnswer(path)));
    await expect(bad.collect()).rejects.toMatchObject({ reason: 'invalid_response' });
  });
});

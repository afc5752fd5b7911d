import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';

import type { TargetConfig } from '../../src/config/schema';
import type { HttpClient, RequestOptions } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import type { Job } from '../../src/model';
import { JOB_STATES, UnknownStatusLog } from '../../src/model';
import {
  BLUEXP_DEFAULTS,
  MAX_DETAIL_REQUESTS,
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
import type { JobSource, BlueXpSink } from '../../src/providers/bluexp';
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

function mapAnswer(body: unknown, sink: BlueXpSink, source: JobSource = 'job'): Job[] {
  return jobsOf(body, 'test').flatMap((raw) => mapJob(raw, sink, source));
}

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
  expect(h.paths.slice(2)).toEqual([`${BASE}/job/running-1`, `${BASE}/job/0193a1f2-4c00-7abc-8def-000000000002`, `${BASE}/job/0193a1f2-4c00-7abc-8def-000000000001`]);
  h.paths.length = 0;
  const second = await h.collect();
  expect(second.jobs).toEqual(first.jobs);
  expect(h.paths).toEqual([`${BASE}/job`, `${BASE}/restore/status`, `${BASE}/job/running-1`]);
  expect(MAX_DETAIL_REQUESTS).toBe(100);
});

test('collect: a refused GET /restore/status (4xx) leaves restores to GET /job and is logged when it starts; other failures fail the collection', async () => {
  let restoreStatus: unknown = new CollectError('http_4xx', `GET ${BASE}/restore/status: HTTP 404: Not Found`);
  const h = harness((path) => (path.endsWith('/job') ? fixture('file-restore-batches.json') : restoreStatus));
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

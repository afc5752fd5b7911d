import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { TargetConfig } from '../../src/config/schema';
import { CollectError } from '../../src/http/errors';
import type { RequestOptions } from '../../src/http/client';
import type { Job } from '../../src/model';
import {
  AHSAY_BACKUP_STATES,
  AHSAY_RESTORE_STATES,
  FinishedDays,
  RestorePointTracker,
  backupSetsFromAnswer,
  runsFromAnswer,
  scheduleFacts,
  setProtection,
  storageUsedFromAnswer,
  summaryStatusFromAnswer,
  userRecordsFromAnswer,
  LIST_BACKUP_JOBS_PATH,
  LIST_BACKUP_SETS_PATH,
  STORAGE_STAT_PATH,
  ahsay,
  checkStatus,
  datesToRead,
  isFinalDay,
  FINAL_DAY_MARGIN_SECONDS,
  jobsFromAnswer,
  localDate,
  mapJob,
  parseAhsayTime,
  parseLocalDateTime,
  parseSize,
  reasonForProductError,
  usersFromAnswer,
} from '../../src/providers/ahsay';
import type { DayContext, ScheduleFacts, UserRecord } from '../../src/providers/ahsay';
import type { CollectContext } from '../../src/providers/types';
import { isObject } from '../../src/text';
import { bind, collectWith, recordingSink } from '../helpers/collect';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(__dirname, '../fixtures/ahsay', name), 'utf8'));
const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;


const day = (kind: DayContext['kind'], zone = 'UTC', login = 'obm', date = '2024-06-26'): DayContext => ({ kind, login, date, zone });

describe('AhsayCBS times', () => {
  test.each<[string, string, number | undefined]>([
    ['2024-06-26 13:25:14', 'UTC', utc(2024, 6, 26, 13, 25, 14)],
    // Hong Kong: UTC+8 all year, no DST.
    ['2024-06-26 13:25:14', 'Asia/Hong_Kong', utc(2024, 6, 26, 5, 25, 14)],
    ['2024-01-01 03:00:00', 'Asia/Hong_Kong', utc(2023, 12, 31, 19, 0, 0)],
    // Berlin, spring forward on 2024-03-31 at 02:00 CET -> 03:00 CEST.
    ['2024-03-31 01:59:59', 'Europe/Berlin', utc(2024, 3, 31, 0, 59, 59)],
    ['2024-03-31 02:30:00', 'Europe/Berlin', utc(2024, 3, 31, 1, 30, 0)], // skipped: moved forward by the gap (03:30 CEST)
    ['2024-03-31 03:00:00', 'Europe/Berlin', utc(2024, 3, 31, 1, 0, 0)],
    // Berlin, fall back on 2024-10-27 at 03:00 CEST -> 02:00 CET.
    ['2024-10-27 01:59:59', 'Europe/Berlin', utc(2024, 10, 26, 23, 59, 59)],
    ['2024-10-27 02:30:00', 'Europe/Berlin', utc(2024, 10, 27, 0, 30, 0)], // twice: the earlier (CEST)
    ['2024-10-27 03:00:00', 'Europe/Berlin', utc(2024, 10, 27, 2, 0, 0)],
    ['2024-07-01 12:00:00', 'Europe/Berlin', utc(2024, 7, 1, 10, 0, 0)],
    ['2024-03-10 02:30:00', 'America/New_York', utc(2024, 3, 10, 7, 30, 0)],
    ['2024-11-03 01:30:00', 'America/New_York', utc(2024, 11, 3, 5, 30, 0)],
    // Lord Howe moves by 30 minutes: 02:00 +11 -> 01:30 +10:30 on 2024-04-07.
    ['2024-04-07 01:45:00', 'Australia/Lord_Howe', utc(2024, 4, 6, 14, 45, 0)],
    ['2024-06-26-13-25-13', 'UTC', utc(2024, 6, 26, 13, 25, 13)],
    ['2024-06-26 11;34:15', 'UTC', undefined],
    ['2024-02-30 10:00:00', 'UTC', undefined],
    ['2024-06-26 24:00:00', 'UTC', undefined],
    ['2024-06-26', 'UTC', undefined],
    ['2024-06-26T13:25:14', 'UTC', undefined],
    ['', 'UTC', undefined],
  ])('%s in %s -> %s', (text, zone, expected) => {
    expect(parseAhsayTime(text, zone)).toBe(expected);
  });

  test('non-strings are not times', () => {
    expect(parseLocalDateTime(1719408314)).toBeUndefined();
    expect(parseLocalDateTime(null)).toBeUndefined();
  });

  test('every minute of a DST day in Berlin converts to the instant whose wall clock it is (where it exists)', () => {
    const format = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Berlin', dateStyle: 'short', timeStyle: 'medium' });
    for (const date of ['2024-03-31', '2024-10-27']) {
      for (let minute = 0; minute < 24 * 60; minute += 7) {
        const text = `${date} ${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:00`;
        const at = parseAhsayTime(text, 'Europe/Berlin')!;
        const back = format.format(new Date(at * 1000));
        if (date === '2024-03-31' && text.slice(11, 13) === '02') expect(back).toBe(text.replace(' 02:', ' 03:'));
        else expect(back).toBe(text);
      }
    }
  });

  test.each<[number, string, number, string[]]>([
    [utc(2024, 6, 26, 17), 'UTC', 2, ['2024-06-26', '2024-06-25']],
    [utc(2024, 6, 26, 17), 'Asia/Hong_Kong', 2, ['2024-06-27', '2024-06-26']],
    [utc(2024, 1, 1, 0, 30), 'UTC', 3, ['2024-01-01', '2023-12-31', '2023-12-30']],
    [utc(2024, 3, 1, 12), 'Europe/Berlin', 2, ['2024-03-01', '2024-02-29']],
    [utc(2024, 10, 27, 22, 59, 59), 'Europe/Berlin', 1, ['2024-10-27']],
    [utc(2024, 10, 27, 23), 'Europe/Berlin', 1, ['2024-10-28']],
  ])('datesToRead(%s, %s, %s)', (now, zone, days, expected) => {
    expect(datesToRead(now, zone, days)).toEqual(expected);
  });

  test('localDate follows the zone', () => {
    expect(localDate(utc(2024, 6, 26, 16, 0), 'Asia/Hong_Kong')).toBe('2024-06-27');
    expect(localDate(utc(2024, 6, 26, 15, 59, 59), 'Asia/Hong_Kong')).toBe('2024-06-26');
  });
});

describe('AhsayCBS sizes', () => {
  test.each<[unknown, number | undefined]>([
    [0, 0],
    [1048576, 1048576],
    ['2048', 2048],
    [' 4096 ', 4096],
    ['1.5', 1.5],
    ['12 MB', undefined],
    [-1, undefined],
    ['-1', undefined],
    [Number.NaN, undefined],
    [Infinity, undefined],
    [null, undefined],
    [true, undefined],
  ])('%p -> %p', (value, expected) => {
    expect(parseSize(value)).toBe(expected);
  });
});

describe('AhsayCBS job mapping', () => {
  test('the seed page example (ListRestoreJobStatus, verbatim): status in "Status", UserId, RestoreSize 0 as a number', () => {
    const sink = recordingSink();
    const jobs = jobsFromAnswer(fixture('seed-003-list-restore-job-status.json'), day('restore'), sink);
    expect(jobs).toEqual<Job[]>([
      {
        kind: 'restore',
        id: 'obm/1687755057644/1687755083984/2024-06-26-13-25-13',
        resource: 'obm/default-backup-set-name-1',
        state: 'succeeded',
        status: 'RESTORE_STOP_SUCCESS',
        startedAt: utc(2024, 6, 26, 13, 25, 14),
        endedAt: utc(2024, 6, 26, 13, 25, 21),
        bytes: 0,
      },
    ]);
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual([]);
  });

  test('the seed example read in Hong Kong time', () => {
    const [job] = jobsFromAnswer(fixture('seed-003-list-restore-job-status.json'), day('restore', 'Asia/Hong_Kong'), recordingSink());
    expect([job?.startedAt, job?.endedAt]).toEqual([utc(2024, 6, 26, 5, 25, 14), utc(2024, 6, 26, 5, 25, 21)]);
  });

  test('every backup status of the state table (BackupJobStatus); sizes as numbers and strings; no end while running', () => {
    const sink = recordingSink();
    const jobs = jobsFromAnswer(fixture('backup-statuses.json'), day('backup'), sink);
    expect(jobs.map((j) => [j.status, j.state, j.bytes, j.endedAt !== undefined])).toEqual([
      ['BS_STOP_SUCCESS', 'succeeded', 1048576, true],
      ['BS_STOP_SUCCESS_WITH_WARNING', 'warning', 2048, true],
      ['BS_STOP_SUCCESS_WITH_ERROR', 'warning', 0, true],
      ['BS_STOP_BY_USER', 'cancelled', 0, true],
      ['BS_STOP_BY_SYSTEM_ERROR', 'failed', 0, true],
      ['BS_STOP_BY_SCHEDULER', 'cancelled', 0, true],
      ['BS_STOP_BY_QUOTA_EXCEEDED', 'failed', 0, true],
      ['BS_STOP_MISSED_BACKUP', 'failed', 0, true],
      ['BS_STILL_RUNNING', 'running', 524288, false],
      ['BS_BACKUP_NOT_FINISHED', 'failed', 4096, true],
    ]);
    expect(new Set(jobs.map((j) => j.status))).toEqual(new Set(Object.keys(AHSAY_BACKUP_STATES)));
    expect(jobs.every((j) => j.kind === 'backup' && j.resource === 'obm/Documents')).toBe(true);
    expect(jobs[0]).toMatchObject({ startedAt: utc(2024, 6, 26, 0, 10), endedAt: utc(2024, 6, 26, 0, 40) });
    expect(sink.problems).toEqual([]);
    expect(sink.unknown).toEqual([]);
  });

  test('every restore status of the state table, with the example (Status, UserId) and the reference (RestoreJobStatus, UserID) field names', () => {
    const sink = recordingSink();
    const jobs = jobsFromAnswer(fixture('restore-statuses.json'), day('restore'), sink);
    expect(jobs.map((j) => [j.status, j.state, j.bytes])).toEqual([
      ['RESTORE_STOP_SUCCESS', 'succeeded', 1000],
      ['RESTORE_STOP_SUCCESS_WITH_WARNING', 'warning', 2000],
      ['RESTORE_STOP_SUCCESS_WITH_ERROR', 'warning', 3000],
      ['RESTORE_STOP_BY_USER', 'cancelled', 0],
      ['RESTORE_STOP_BY_ERROR', 'failed', 0],
    ]);
    expect(new Set(jobs.map((j) => j.status))).toEqual(new Set(Object.keys(AHSAY_RESTORE_STATES)));
    expect(sink.problems).toEqual([]);
  });

  test('odd answers: an unparsable time (11;34:15) is left out and logged, unknown status, bad sizes, odd set fields, no ID, non-objects', () => {
    const sink = recordingSink();
    const jobs = jobsFromAnswer(fixture('odd-answers.json'), day('backup'), sink);
    expect(jobs).toEqual<Job[]>([
      {
        kind: 'backup',
        id: 'obm/1/2/2024-06-26-11-34-15',
        resource: 'obm/Typo',
        state: 'succeeded',
        status: 'BS_STOP_SUCCESS',
        endedAt: utc(2024, 6, 26, 11, 50),
      },
      {
        kind: 'backup',
        id: 'obm/1/2024-06-26-12-00-00',
        resource: 'obm/Typo',
        state: 'unknown',
        status: 'BS_MOON_PHASE_WRONG',
        startedAt: utc(2024, 6, 26, 12),
      },
      {
        kind: 'backup',
        id: 'obm/1687755057644/2024-06-26-13-00-00',
        resource: 'obm/1687755057644',
        state: 'unknown',
        status: 'UNKNOWN',
        startedAt: utc(2024, 6, 26, 13),
      },
    ]);
    expect(sink.unknown).toEqual(['BS_MOON_PHASE_WRONG', '(none)']);
    expect(sink.problems).toEqual([
      'backup job obm/1/2/2024-06-26-11-34-15: StartTime "2024-06-26 11;34:15" is not a time (yyyy-MM-dd HH:mm:ss); left out',
      'backup job obm/1/2/2024-06-26-11-34-15: UploadSize "12 MB" is not a size',
      'backup job obm/1/2024-06-26-12-00-00: UploadSize -1 is not a size',
      'backup job of obm on 2024-06-26 has no ID',
      'backup job of obm on 2024-06-26 is not an object',
      'backup job of obm on 2024-06-26 is not an object',
    ]);
  });

  test('an unparsable end time leaves only the end out', () => {
    const sink = recordingSink();
    const job = mapJob(
      { ID: 'x', StartTime: '2024-06-26 11:00:00', EndTime: '2024-06-26 11;34:15', BackupJobStatus: 'BS_STOP_SUCCESS', BackupSetName: 's' },
      day('backup'),
      sink,
    );
    expect(job).toMatchObject({ startedAt: utc(2024, 6, 26, 11), state: 'succeeded' });
    expect(job?.endedAt).toBeUndefined();
    expect(sink.problems).toHaveLength(1);
  });

  test('an answer without Data is an empty day; a single object is one job', () => {
    expect(jobsFromAnswer({ Status: 'OK' }, day('backup'), recordingSink())).toEqual([]);
    const one = jobsFromAnswer({ Status: 'OK', Data: { ID: 'x', BackupJobStatus: 'BS_STOP_SUCCESS' } }, day('backup'), recordingSink());
    expect(one.map((j) => j.id)).toEqual(['obm/-/x']);
  });
});

describe('AhsayCBS errors', () => {
  test('wrong credentials (HTTP 200, "Status":"Error") are reason auth, with the product message', () => {
    const thrown = (() => {
      try {
        jobsFromAnswer(fixture('error-wrong-credentials.json'), day('backup'), recordingSink());
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(CollectError);
    expect((thrown as CollectError).reason).toBe('auth');
    expect((thrown as CollectError).message).toBe(
      'ListBackupJobStatus.do for obm on 2024-06-26: AhsayCBS error: Incorrect system username/password (com.ahsay.obs.core.dbs.c)',
    );
  });

  test.each<[string, string]>([
    ['Incorrect system username/password', 'auth'],
    ['Your password has expired and must be changed. Please update in web console or by UpdateSysUser API', 'auth'],
    ["User 'nosuchuser' does not exist", 'invalid_response'],
    ['Unparseable date: "2024/06/26"', 'invalid_response'],
  ])('"%s" -> %s', (message, reason) => {
    expect(reasonForProductError(message)).toBe(reason);
  });

  test.each<[unknown, string]>([
    [{ Status: 'Error' }, 'where: AhsayCBS error: (no message)'],
    [{ Status: 'Maybe', Data: [] }, 'where: answer has no "Status":"OK"'],
    [[], 'where: answer is not a JSON object'],
    ['OK', 'where: answer is not a JSON object'],
  ])('envelope %p is invalid_response', (body, message) => {
    expect(() => checkStatus(body, 'where')).toThrow(new CollectError('invalid_response', message));
  });

  test('Data that is not a list is invalid_response', () => {
    expect(() => jobsFromAnswer({ Status: 'OK', Data: 'none' }, day('restore'), recordingSink())).toThrow(/"Data" is not a list/);
  });
});

describe('AhsayCBS users (2/ListUsers.do)', () => {
  test('LoginName from objects or plain names, Owner kept, duplicates and nameless entries dropped', () => {
    const sink = recordingSink();
    expect(usersFromAnswer(fixture('list-users-v2.json'), sink)).toEqual([
      { login: 'obm' },
      { login: 'finance', owner: 'reseller-east' },
      { login: 'sales' },
    ]);
    expect(sink.problems).toEqual(['2/ListUsers.do: a user without LoginName skipped']);
  });

  test('an answer without the User list is invalid_response; an error answer keeps its reason', () => {
    expect(() => usersFromAnswer({ Status: 'OK', Data: [] }, recordingSink())).toThrow(new CollectError('invalid_response', '2/ListUsers.do: answer has no "User" list'));
    expect(() => usersFromAnswer(fixture('error-wrong-credentials.json'), recordingSink())).toThrow(expect.objectContaining({ reason: 'auth' }));
  });
});

describe('finished days', () => {
  const job = (state: Job['state']): Job => ({ kind: 'backup', id: state, resource: 'r', state, status: 'S' });

  // 2024-06-26 in Hong Kong (UTC+8) begins at 2024-06-25 16:00 UTC.
  const hk = (utc: string) => Date.parse(`${utc}Z`) / 1000;
  test.each<[Job['state'][], string, string, boolean]>([
    [['succeeded', 'failed', 'warning', 'cancelled'], '2024-06-25', '2024-06-26T04:00:00', true],
    [[], '2024-06-25', '2024-06-26T04:00:00', true],
    [['succeeded', 'running'], '2024-06-25', '2024-06-26T04:00:00', false],
    [['unknown'], '2024-06-25', '2024-06-26T04:00:00', false],
    [['succeeded'], '2024-06-26', '2024-06-26T04:00:00', false],
    // Over, but not by the margin yet: the server may still be adding jobs (skew, zone a little off).
    [['succeeded'], '2024-06-25', '2024-06-25T16:00:00', false],
    [['succeeded'], '2024-06-25', '2024-06-25T16:59:59', false],
    [['succeeded'], '2024-06-25', '2024-06-25T17:00:00', true],
  ])('%p on %s (Hong Kong), read at %s UTC: final %p', (states, date, at, final) => {
    expect(isFinalDay(states.map(job), date, hk(at), 'Asia/Hong_Kong')).toBe(final);
  });

  test('the margin counts from the end of the day in the zone, a day the clocks go back included', () => {
    // 2024-11-03 in New York is 25 hours long: it ends at 2024-11-04 05:00 UTC.
    expect(isFinalDay([], '2024-11-03', Date.parse('2024-11-04T05:59:59Z') / 1000, 'America/New_York')).toBe(false);
    expect(isFinalDay([], '2024-11-03', Date.parse('2024-11-04T06:00:00Z') / 1000, 'America/New_York')).toBe(true);
    expect(FINAL_DAY_MARGIN_SECONDS).toBe(3600);
  });

  test('bounded in days and in size, a day one plus one per job (least used out first); retain drops other users and dates', () => {
    const cache = new FinishedDays(3, 7);
    cache.put('a', 'backup', '2024-06-25', [job('succeeded')]);
    cache.put('b', 'backup', '2024-06-25', [job('succeeded'), job('failed')]);
    cache.put('c', 'backup', '2024-06-25', []);
    cache.put('d', 'backup', '2024-06-25', []);
    expect(cache.get('a', 'backup', '2024-06-25')).toBeUndefined();
    expect([cache.size, cache.jobCount]).toEqual([3, 2]);
    cache.put('e', 'restore', '2024-06-24', [job('succeeded'), job('succeeded'), job('succeeded'), job('succeeded')]);
    expect(cache.get('b', 'backup', '2024-06-25')).toBeUndefined();
    expect([cache.size, cache.jobCount]).toEqual([3, 4]);
    cache.put('f', 'restore', '2024-06-24', Array.from({ length: 7 }, () => job('succeeded')));
    expect(cache.get('f', 'restore', '2024-06-24')).toBeUndefined();
    cache.retain(new Set(['c', 'd', 'e']), new Set(['2024-06-25']));
    expect([cache.size, cache.jobCount]).toEqual([2, 0]);
    expect(cache.get('c', 'backup', '2024-06-25')).toEqual([]);
  });
});

describe('AhsayCBS collect (fake transport)', () => {
  const INVENTORY_PATHS = new Set([LIST_BACKUP_SETS_PATH, LIST_BACKUP_JOBS_PATH, STORAGE_STAT_PATH]);

  interface Sent {
    path: string;
    body: Record<string, unknown>;
  }

  function target(ahsayBlock: Record<string, unknown>): TargetConfig {
    return {
      name: 't',
      provider: 'ahsay',
      url: 'http://127.0.0.1:1',
      timeout: 10_000,
      lookback: 7 * 86_400_000,
      max_jobs: 100,
      min_interval: 0,
      max_concurrency: 8,
      ahsay: { username: 'system', password: 'system1', timezone: 'UTC', days: 2, ...ahsayBlock },
    } as unknown as TargetConfig;
  }

  function context(now: number, answer: (sent: Sent) => unknown, sent: Sent[], logs: string[] = []): CollectContext {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    return {
      now,
      lookbackStart: now - 7 * 86_400,
      signal: new AbortController().signal,
      log: pino({ level: 'debug' }, sink),
      unknownStatus: () => undefined,
      report: () => {
        throw new Error('AhsayCBS returns its jobs from collect(); nothing is reported on the way');
      },
      http: {
        request: () => Promise.reject(new Error('not used')),
        json: async <T>(options: RequestOptions): Promise<T> => {
          const one = { path: options.path, body: JSON.parse(options.body ?? '{}') as Record<string, unknown> };
          expect(options.method).toBe('POST');
          expect(options.headers?.['content-type']).toBe('application/json');
          // These tests are about the job lists: the inventory calls get empty answers and are not
          // counted, and so is a full user list the test's own answers do not give.
          if (INVENTORY_PATHS.has(options.path)) return { Status: 'OK', Data: [] } as T;
          const answered = answer(one);
          if (options.path.endsWith('/2/ListUsers.do') && !(isObject(answered) && Array.isArray(answered.User))) return { Status: 'OK', User: [] } as T;
          sent.push(one);
          return answered as T;
        },
      },
    };
  }

  const finishedJob = (date: string, status = 'BS_STOP_SUCCESS') => ({
    Status: 'OK',
    Data: [{ ID: `${date}-01-00-00`, StartTime: `${date} 01:00:00`, EndTime: `${date} 01:30:00`, BackupJobStatus: status, RestoreJobStatus: 'RESTORE_STOP_SUCCESS', BackupSetID: '1', BackupSetName: 's' }],
  });

  test('request bodies have the shape of the seed example; a warm collection re-reads only today', async () => {
    const sent: Sent[] = [];
    const instance = bind(ahsay, target({ users: ['obm', 'finance', 'obm'] }), { log: pino({ level: 'silent' }), client: () => undefined as never });
    const now = utc(2024, 6, 26, 12);
    const answer = (s: Sent) => finishedJob(String(s.body.BackupDate ?? s.body.RestoreDate));
    const first = await collectWith(instance, context(now, answer, sent));
    expect(first.jobs).toHaveLength(2 * 2 * 2);
    expect(sent).toHaveLength(2 * 2 * 2);
    const seedRequest = fixture('seed-003-request.json') as Record<string, unknown>;
    const restoreOfObmToday = sent.find((s) => s.path === '/obs/api/json/ListRestoreJobStatus.do' && s.body.LoginName === 'obm' && s.body.RestoreDate === '2024-06-26');
    expect(restoreOfObmToday?.body).toEqual(seedRequest);
    expect(Object.keys(sent.find((s) => s.path === '/obs/api/json/ListBackupJobStatus.do')!.body).sort()).toEqual(['BackupDate', 'LoginName', 'SysPwd', 'SysUser']);

    sent.length = 0;
    const second = await collectWith(instance, context(now + 600, answer, sent));
    expect(second.jobs).toHaveLength(8);
    expect(sent).toHaveLength(2 * 2);
    expect(new Set(sent.map((s) => s.body.BackupDate ?? s.body.RestoreDate))).toEqual(new Set(['2024-06-26']));

    // The next day: yesterday (read only as "today" so far) is read again until it has been over
    // for an hour (the server may still add jobs to it), then remembered.
    for (const minute of [5, 10, 59]) {
      sent.length = 0;
      await collectWith(instance, context(utc(2024, 6, 27, 0, minute), answer, sent));
      expect(sent).toHaveLength(2 * 2 * 2);
    }
    sent.length = 0;
    await collectWith(instance, context(utc(2024, 6, 27, 1, 0), answer, sent));
    expect(sent).toHaveLength(2 * 2 * 2);
    sent.length = 0;
    await collectWith(instance, context(utc(2024, 6, 27, 1, 5), answer, sent));
    expect(new Set(sent.map((s) => s.body.BackupDate ?? s.body.RestoreDate))).toEqual(new Set(['2024-06-27']));
  });

  test('a past day that still holds a running job is read again; without users, ListUsers (LoginNameOnly) is asked each time and Owner passed on', async () => {
    const sent: Sent[] = [];
    const instance = bind(ahsay, target({}), { log: pino({ level: 'silent' }), client: () => undefined as never });
    const answer = (s: Sent) => {
      if (s.path === '/obs/api/json/2/ListUsers.do') return { Status: 'OK', User: [{ LoginName: 'obm' }, { LoginName: 'finance', Owner: 'reseller-east' }] };
      const date = String(s.body.BackupDate ?? s.body.RestoreDate);
      return finishedJob(date, date === '2024-06-25' && s.body.LoginName === 'obm' ? 'BS_STILL_RUNNING' : 'BS_STOP_SUCCESS');
    };
    const now = utc(2024, 6, 26, 12);
    await collectWith(instance, context(now, answer, sent));
    // The first collection reads the full user records (status, quotas), later ones the login names only.
    expect(sent[0]).toEqual({ path: '/obs/api/json/2/ListUsers.do', body: { SysUser: 'system', SysPwd: 'system1' } });
    expect(sent.filter((s) => s.body.LoginName === 'finance').every((s) => s.body.Owner === 'reseller-east')).toBe(true);
    sent.length = 0;
    await collectWith(instance, context(now + 60, answer, sent));
    expect(sent[0]).toEqual({ path: '/obs/api/json/2/ListUsers.do', body: { SysUser: 'system', SysPwd: 'system1', LoginNameOnly: true } });
    const asked = sent.slice(1).map((s) => `${String(s.body.LoginName)} ${String(s.body.BackupDate ?? `r ${String(s.body.RestoreDate)}`)}`).sort();
    expect(asked).toEqual(['finance 2024-06-26', 'finance r 2024-06-26', 'obm 2024-06-25', 'obm 2024-06-26', 'obm r 2024-06-26']);
  });

  test('one error answer fails the collection with its reason; problems beyond 20 are counted in one line, each logged once', async () => {
    const instance = bind(ahsay, target({ users: ['obm'] }), { log: pino({ level: 'silent' }), client: () => undefined as never });
    await expect(collectWith(instance, context(utc(2024, 6, 26, 12), () => fixture('error-wrong-credentials.json'), []))).rejects.toMatchObject({ reason: 'auth' });

    const logs: string[] = [];
    const bad = { Status: 'OK', Data: Array.from({ length: 30 }, (_, i) => ({ ID: `j${i}`, StartTime: '2024-06-26 11;34:15', BackupJobStatus: 'BS_STOP_SUCCESS' })) };
    const many = bind(ahsay, target({ users: ['obm'], days: 1 }), { log: pino({ level: 'silent' }), client: () => undefined as never });
    await collectWith(many, context(utc(2024, 6, 26, 12), () => bad, [], logs));
    expect(logs.filter((l) => l.includes('AhsayCBS answer partly unusable'))).toHaveLength(20);
    expect(logs.some((l) => l.includes('"problems":60') && l.includes('more problems than were logged'))).toBe(true);
    expect(logs.join('\n')).not.toContain('system1');
    // The same problems again (today is read on every scrape): not logged twice.
    logs.length = 0;
    await collectWith(many, context(utc(2024, 6, 26, 12, 1), () => bad, [], logs));
    expect(logs).toEqual([]);
  });
});

describe('AhsayCBS inventory mapping (fixtures)', () => {
  test('backup sets with ListAll: schedules, switch as a string, periodic minutes, weekly, destinations; a set without schedule settings is named', () => {
    const sink = recordingSink();
    expect(backupSetsFromAnswer(fixture('list-backup-sets-listall.json'), 'obm', sink)).toEqual([
      { id: '1687755057644', name: 'Documents', schedule: { enabled: true, intervalSeconds: 3600 }, destinationId: '1687755083984' },
      { id: '1687750405259', name: 'Weekly archive', schedule: { enabled: true, intervalSeconds: 604_800 }, destinationId: '1687750405300' },
    ]);
    expect(sink.problems).toEqual([]);
    expect(backupSetsFromAnswer(fixture('list-backup-sets-switched-off.json'), 'finance', sink)).toEqual([
      { id: '1', name: 'Typo', schedule: { enabled: false } },
      { id: '1687755057644', name: 'Laptop' },
    ]);
    expect(sink.problems).toEqual(['backup set finance/Laptop: its settings have no ScheduleSettings; its protection is left out']);

  });

  // 2024-06-26 00:00:00 UTC, 08:00 in Hong Kong.
  const NOW = Date.UTC(2024, 5, 26) / 1000;
  test.each<[string, Record<string, unknown>, ScheduleFacts | undefined, number]>([
    ['no container: left out, named', {}, undefined, 1],
    ['daily and periodic: the shortest', { ScheduleSettings: { Enabled: true, ScheduleList: [{ Type: 'DAILY', BackupInterval: -1 }, { Type: 'DAILY', BackupInterval: '240' }] } }, { enabled: true, intervalSeconds: 14_400 }, 0],
    ['switch off', { ScheduleSettings: { Enabled: 'false', ScheduleList: [{ Type: 'DAILY' }] } }, { enabled: false }, 0],
    ['every schedule off', { ScheduleSettings: { ScheduleEnabled: true, ScheduleList: [{ Type: 'DAILY', Enabled: false }] } }, { enabled: false }, 0],
    ['empty list', { ScheduleSettings: { Enabled: true, ScheduleList: [] } }, { enabled: false }, 0],
    ['unknown type named', { ScheduleSettings: { ScheduleEnabled: true, ScheduleList: [{ Type: 'HOURLY' }] } }, { enabled: true }, 1],
    // The key names are the exporter's reading: without a switch it knows, nothing is said.
    ['no switch: left out, named', { ScheduleSettings: { ScheduleList: [{ Type: 'DAILY' }] } }, undefined, 1],
    ['a switch under another name: left out, named', { ScheduleSettings: { ScheduleEnable: false, ScheduleList: [{ Type: 'DAILY' }] } }, undefined, 1],
    ['switch not a boolean: left out, named', { ScheduleSettings: { Enabled: 'yes', ScheduleList: [{ Type: 'MONTHLY' }] } }, undefined, 1],
    // A one-off date (in Hong Kong) counts only while it is ahead.
    ['custom, ahead: on, no interval', { ScheduleSettings: { Enabled: true, Schedules: [{ Type: 'CUSTOM', Time: { Year: 2024, Month: 6, Day: 26, Hour: 9, Minute: 0 } }] } }, { enabled: true }, 0],
    ['custom, passed: off', { ScheduleSettings: { Enabled: true, Schedules: [{ Type: 'CUSTOM', Time: { Year: 2024, Month: 6, Day: 26, Hour: 7, Minute: 59 } }] } }, { enabled: false }, 0],
    ['custom, passed, beside a daily one: the daily one counts', { ScheduleSettings: { Enabled: true, Schedules: [{ Type: 'CUSTOM', Time: { Year: 2023, Month: 1, Day: 1 } }, { Type: 'WEEKLY' }] } }, { enabled: true, intervalSeconds: 7 * 86_400 }, 0],
    ['custom without a date: not counted, named', { ScheduleSettings: { Enabled: true, Schedules: [{ Type: 'CUSTOM' }] } }, { enabled: false }, 1],
  ])('schedule: %s', (_name, settings, expected, problems) => {
    const sink = recordingSink();
    expect(scheduleFacts(settings, 'set', sink, NOW, 'Asia/Hong_Kong')).toEqual(expected);
    expect(sink.problems).toHaveLength(problems);
  });

  test('run lists: newest first, removed sets and run ids that are not times left out', () => {
    const sink = recordingSink();
    const runs = runsFromAnswer(fixture('list-backup-jobs.json'), 'obm', sink);
    expect([...runs.keys()]).toEqual(['1687755057644', '1687750405259']);
    expect(runs.get('1687750405259')).toEqual(['2024-06-21-22-00-00', '2024-06-14-22-00-00']);
    expect(runs.get('1687755057644')![0]).toBe('2024-06-26-08-10-00');
    expect(sink.problems).toEqual(['ListBackupJobs.do for obm: run id "yesterday" of backup set 1687750405259 is not a time (yyyy-MM-dd-HH-mm-ss); skipped']);
  });

  test('report summary: Data as JSON text or as an object; an error answer throws with its reason', () => {
    expect(summaryStatusFromAnswer(fixture('report-summary-as-text.json'), 'x')).toBe('BS_STOP_SUCCESS');
    expect(summaryStatusFromAnswer({ Status: 'OK', Data: { BackupJobStatus: 'BS_STOP_BY_SYSTEM_ERROR' } }, 'x')).toBe('BS_STOP_BY_SYSTEM_ERROR');
    expect(() => summaryStatusFromAnswer({ Status: 'OK', Data: '{not json' }, 'x')).toThrow(CollectError);
    expect(() => summaryStatusFromAnswer(fixture('error-wrong-credentials.json'), 'x')).toThrow(expect.objectContaining({ reason: 'auth' }));
  });

  test('storage: the newest month\'s AvgTotalStorageRawSize; quotas from the full user list', () => {
    const sink = recordingSink();
    expect(storageUsedFromAnswer(fixture('user-storage-stat.json'), 'obm', sink)).toBe(12_884_901_888);
    expect(storageUsedFromAnswer({ Status: 'OK', Data: [] }, 'obm', sink)).toBeUndefined();
    expect(storageUsedFromAnswer({ Status: 'OK', Data: [{ YearMonth: '2024-06', AvgTotalStorageRawSize: '12.0G' }] }, 'obm', sink)).toBeUndefined();
    expect(sink.problems).toEqual(['GetUserStorageStat.do for obm: AvgTotalStorageRawSize "12.0G" is not a size; left out']);
    const records = userRecordsFromAnswer(fixture('list-users-v2.json'), recordingSink());
    expect(records.find((r) => r.login === 'finance')).toEqual({ login: 'finance', owner: 'reseller-east', capacityBytes: 107_374_182_400 });
    const quotas = userRecordsFromAnswer(
      { Status: 'OK', User: [{ LoginName: 'a', Status: 'SUSPENDED', QuotaList: [{ Enabled: 'true', Quota: '1024' }, { Enabled: false, Quota: 5 }, { Quota: 0 }] }] },
      recordingSink(),
    );
    expect(quotas).toEqual([{ login: 'a', status: 'SUSPENDED', capacityBytes: 1024 }]);
  });

  test.each<[string, UserRecord | undefined, ScheduleFacts | undefined, ReturnType<typeof setProtection>]>([
    ['scheduled', { login: 'u', status: 'ENABLE' }, { enabled: true, intervalSeconds: 86_400 }, { resource: 'u/s', protected: true, status: 'SCHEDULED', scheduleIntervalSeconds: 86_400 }],
    ['switched off', undefined, { enabled: false }, { resource: 'u/s', protected: false, status: 'NO_SCHEDULE' }],
    ['suspended user wins', { login: 'u', status: 'SUSPENDED' }, { enabled: true, intervalSeconds: 3600 }, { resource: 'u/s', protected: false, status: 'SUSPENDED', scheduleIntervalSeconds: 3600 }],
    ['suspended, schedule unknown', { login: 'u', status: 'SUSPENDED' }, undefined, { resource: 'u/s', protected: false, status: 'SUSPENDED' }],
    ['schedule unknown: no series', { login: 'u' }, undefined, undefined],
  ])('protection: %s', (_name, user, schedule, expected) => {
    expect(setProtection('u/s', user, schedule)).toEqual(expected);
  });

  test('the tracker keeps finished statuses only, and the newest run that left a restore point (warnings count, errors do not)', () => {
    const tracker = new RestorePointTracker();
    tracker.learn('u', 's', '2024-06-26-01-00-00', 'BS_STOP_SUCCESS');
    tracker.learn('u', 's', '2024-06-26-02-00-00', 'BS_STOP_SUCCESS_WITH_WARNING');
    tracker.learn('u', 's', '2024-06-26-03-00-00', 'BS_STOP_SUCCESS_WITH_ERROR');
    tracker.learn('u', 's', '2024-06-26-04-00-00', 'BS_STILL_RUNNING');
    tracker.learn('u', 's', '2024-06-25-04-00-00', 'BS_STOP_SUCCESS');
    expect(tracker.newestOf('u', 's')).toBe('2024-06-26-02-00-00');
    expect(tracker.statusOf('u', 's', '2024-06-26-03-00-00')).toBe('BS_STOP_SUCCESS_WITH_ERROR');
    expect(tracker.statusOf('u', 's', '2024-06-26-04-00-00')).toBeUndefined();
    expect(tracker.cachedStatuses).toBe(4);
  });
});

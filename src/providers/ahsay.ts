/**
 * AhsayCBS: backup and restore jobs of every backup user (or of the configured ones), day by day.
 *
 * API calls of one collection, all `POST <url>/obs/api/json/<Name>.do` with a JSON body that carries
 * SysUser and SysPwd: `2/ListUsers.do` once (only without `users`), then for each user and each of
 * the `days` calendar days (in the server's time zone) `ListBackupJobStatus.do` and
 * `ListRestoreJobStatus.do`, all at once within the target's max_concurrency.
 *
 * Users x days x 2 requests make this the costly provider, so days that are over and hold no job
 * that may still change are remembered per target and not asked for again (see FinishedDays).
 *
 * AhsayCBS writes times as `yyyy-MM-dd HH:mm:ss` in the server's zone without saying which; the
 * conversion below uses Intl only and follows java.time for the hours a DST change makes odd.
 */
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { defineProviderBlock, integer, isTimeZone, nonEmpty } from '../config/blocks';
import { CollectError } from '../http/errors';
import type { ErrorReason } from '../http/errors';
import type { Job, JobKind, StateTable } from '../model';
import { TERMINAL_JOB_STATES, mapStatus } from '../model';
import { isObject, quoteForMessage, truncate } from '../text';
import type { MappingSink } from './kit';
import { ProblemLog } from './kit';
import type { CollectContext } from './types';
import { defineProvider } from './types';
import { readDateTime, stringField } from './util';
import type { DateTimeFields } from './util';

export const API_BASE = '/obs/api/json';
export const LIST_USERS_PATH = `${API_BASE}/2/ListUsers.do`;
export const JOB_LIST_PATHS: Readonly<Record<JobKind, string>> = {
  backup: `${API_BASE}/ListBackupJobStatus.do`,
  restore: `${API_BASE}/ListRestoreJobStatus.do`,
};
/** The request field that names the day of a job list. */
export const DATE_FIELDS: Readonly<Record<JobKind, string>> = { backup: 'BackupDate', restore: 'RestoreDate' };

export const AHSAY_RESTORE_STATES: StateTable = {
  RESTORE_STOP_SUCCESS: 'succeeded',
  RESTORE_STOP_SUCCESS_WITH_WARNING: 'warning',
  RESTORE_STOP_SUCCESS_WITH_ERROR: 'warning',
  RESTORE_STOP_BY_USER: 'cancelled',
  RESTORE_STOP_BY_ERROR: 'failed',
};

export const AHSAY_BACKUP_STATES: StateTable = {
  BS_STOP_SUCCESS: 'succeeded',
  BS_STOP_SUCCESS_WITH_WARNING: 'warning',
  BS_STOP_SUCCESS_WITH_ERROR: 'warning',
  BS_STOP_BY_USER: 'cancelled',
  BS_STOP_BY_SYSTEM_ERROR: 'failed',
  BS_STOP_BY_SCHEDULER: 'cancelled',
  BS_STOP_BY_QUOTA_EXCEEDED: 'failed',
  BS_STOP_MISSED_BACKUP: 'failed',
  BS_STILL_RUNNING: 'running',
  BS_BACKUP_NOT_FINISHED: 'failed',
};

export const STATE_TABLES: Readonly<Record<JobKind, StateTable>> = { backup: AHSAY_BACKUP_STATES, restore: AHSAY_RESTORE_STATES };

/**
 * Where each kind keeps its status word. The reference table of ListRestoreJobStatus names
 * RestoreJobStatus while its own example answers with Status; both are read, the specific one first.
 */
const STATUS_FIELDS: Readonly<Record<JobKind, readonly string[]>> = {
  backup: ['BackupJobStatus', 'Status'],
  restore: ['RestoreJobStatus', 'Status'],
};
const SIZE_FIELDS: Readonly<Record<JobKind, string>> = { backup: 'UploadSize', restore: 'RestoreSize' };

/**
 * Messages of `"Status":"Error"` answers that mean the system user cannot use the API: wrong name
 * or password (also what a system user without an API role gets), an expired password, a refusal.
 */
const AUTH_MESSAGE = /incorrect system username\/password|password has expired|not authori[sz]ed|access denied|permission denied/i;

/** Remembered day lists per target: 2,000 users x 2 kinds x 31 days fit; beyond, the least used go. */
export const MAX_CACHED_DAYS = 200_000;
/** Size of the remembered days per target: one per day plus one per job (a few hundred bytes each). */
export const MAX_CACHED_SIZE = 400_000;

// ---------------------------------------------------------------------------------------------
// Local times of the server's zone

/**
 * The fields of an AhsayCBS time, or undefined for anything that is not a real calendar time:
 * `yyyy-MM-dd HH:mm:ss` (what the API sends) or `yyyy-MM-dd-HH-mm-ss` (what one reference table says).
 */
export function parseLocalDateTime(text: unknown): DateTimeFields | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.length === 19 ? text : text.trim();
  if (trimmed.length !== 19) return undefined;
  return readDateTime(trimmed, ' -', ':-');
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** Seconds `zone` is ahead of UTC at the instant `epochSeconds` (whole seconds), straight from Intl. */
function exactOffset(zone: string, epochSeconds: number): number {
  const at = Math.floor(epochSeconds);
  const parts: Record<string, number> = {};
  for (const part of formatterFor(zone).formatToParts(new Date(at * 1000))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour! % 24, parts.minute!, parts.second!) / 1000;
  return wall - at;
}

/** 15 minutes: zone offsets change on such boundaries in every zone in use today. */
const OFFSET_BUCKET_SECONDS = 900;
const MAX_OFFSET_BUCKETS = 20_000;
const offsetBuckets = new Map<string, Map<number, number>>();

/**
 * Seconds `zone` is ahead of UTC at `epochSeconds`. Intl is slow next to the thousands of times one
 * collection reads, so the offset is remembered per 15-minute bucket, but only for buckets whose
 * both ends have the same offset (no change inside); a bucket with a change is always asked exactly.
 */
export function zoneOffsetSeconds(zone: string, epochSeconds: number): number {
  const bucket = Math.floor(epochSeconds / OFFSET_BUCKET_SECONDS);
  let buckets = offsetBuckets.get(zone);
  if (!buckets) offsetBuckets.set(zone, (buckets = new Map()));
  const known = buckets.get(bucket);
  if (known !== undefined) return known;
  const start = exactOffset(zone, bucket * OFFSET_BUCKET_SECONDS);
  const end = exactOffset(zone, (bucket + 1) * OFFSET_BUCKET_SECONDS - 1);
  if (start !== end) return exactOffset(zone, epochSeconds);
  if (buckets.size >= MAX_OFFSET_BUCKETS) buckets.clear();
  buckets.set(bucket, start);
  return start;
}

const DAY_SECONDS = 86_400;

/**
 * Unix seconds of a wall-clock time in `zone`. Like java.time (and Temporal's "compatible"), a time
 * that occurs twice when the clocks go back is the earlier one, and a time the clocks skip when they
 * go forward is moved forward by the length of the gap. The offsets a day before and after are the
 * only candidates: no zone changes its offset twice within two days.
 */
export function localToEpochSeconds(local: DateTimeFields, zone: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second) / 1000;
  const before = zoneOffsetSeconds(zone, wall - DAY_SECONDS);
  const after = zoneOffsetSeconds(zone, wall + DAY_SECONDS);
  // The common case, no change of offset near this time: one candidate, and it is valid.
  if (before === after && zoneOffsetSeconds(zone, wall - before) === before) return wall - before;
  const valid = [...new Set([before, after])]
    .map((offset) => ({ offset, at: wall - offset }))
    .filter(({ offset, at }) => zoneOffsetSeconds(zone, at) === offset)
    .map(({ at }) => at);
  return valid.length > 0 ? Math.min(...valid) : wall - before;
}

/** Unix seconds of an AhsayCBS time written in `zone`; undefined when it is not a time. */
export function parseAhsayTime(text: unknown, zone: string): number | undefined {
  const local = parseLocalDateTime(text);
  return local ? localToEpochSeconds(local, zone) : undefined;
}

/** The calendar date (yyyy-MM-dd) in `zone` at `epochSeconds`. */
export function localDate(epochSeconds: number, zone: string): string {
  const wall = Math.floor(epochSeconds) + zoneOffsetSeconds(zone, epochSeconds);
  return new Date(wall * 1000).toISOString().slice(0, 10);
}

/** The `days` calendar dates to read, newest (today in `zone`) first. */
export function datesToRead(nowSeconds: number, zone: string, days: number): string[] {
  const [year, month, day] = localDate(nowSeconds, zone).split('-').map(Number) as [number, number, number];
  return Array.from({ length: Math.max(1, days) }, (_, i) => new Date(Date.UTC(year, month - 1, day - i)).toISOString().slice(0, 10));
}

// ---------------------------------------------------------------------------------------------
// Mapping answers to jobs

/** Bytes from a size that comes as a number or as a string of digits; undefined for anything else. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  const size = Number(value);
  return Number.isFinite(size) ? size : undefined;
}

export interface DayContext {
  kind: JobKind;
  /** The backup user the list was asked for. */
  login: string;
  /** The day asked for (yyyy-MM-dd), for messages. */
  date: string;
  /** IANA zone the server writes its times in. */
  zone: string;
}

function firstString(item: Record<string, unknown>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = stringField(item, key);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * One record of ListBackupJobStatus / ListRestoreJobStatus as a Job. The record's ID is the start
 * time of the run (yyyy-MM-dd-HH-mm-ss), unique only within a backup set and destination, so the
 * job id joins user, backup set, destination and ID. The resource is `<user>/<backup set name>`:
 * backup set names repeat across users (every user may have a "default-backup-set-name-1").
 */
export function mapJob(item: unknown, day: DayContext, sink: MappingSink): Job | undefined {
  const where = `${day.kind} job of ${day.login} on ${day.date}`;
  if (!isObject(item)) {
    sink.problem(`${where} is not an object`);
    return undefined;
  }
  const runId = stringField(item, 'ID');
  if (!runId) {
    sink.problem(`${where} has no ID`);
    return undefined;
  }
  const setId = stringField(item, 'BackupSetID');
  const destination = stringField(item, 'DestinationID');
  const id = [day.login, setId ?? '-', ...(destination ? [destination] : []), runId].join('/');
  const setName = stringField(item, 'BackupSetName') ?? setId;
  const status = firstString(item, STATUS_FIELDS[day.kind]) ?? '';
  const state = mapStatus(STATE_TABLES[day.kind], status);
  if (state === 'unknown') sink.unknownStatus(status || '(none)');
  const job: Job = { kind: day.kind, id, resource: `${day.login}/${setName ?? '(no backup set)'}`, state, status: status || 'UNKNOWN' };
  const startedAt = readTime(item, 'StartTime', day, id, sink);
  if (startedAt !== undefined) job.startedAt = startedAt;
  // A running job has no end yet, whatever the EndTime field holds.
  if (TERMINAL_JOB_STATES.has(state)) {
    const endedAt = readTime(item, 'EndTime', day, id, sink);
    if (endedAt !== undefined) job.endedAt = endedAt;
  }
  const sizeField = SIZE_FIELDS[day.kind];
  const raw = item[sizeField];
  const bytes = parseSize(raw);
  if (bytes !== undefined) job.bytes = bytes;
  else if (raw !== undefined && raw !== null && raw !== '') sink.problem(`${day.kind} job ${id}: ${sizeField} ${quoteForMessage(raw)} is not a size`);
  return job;
}

function readTime(item: Record<string, unknown>, field: string, day: DayContext, id: string, sink: MappingSink): number | undefined {
  const raw = item[field];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const at = parseAhsayTime(raw, day.zone);
  if (at === undefined) sink.problem(`${day.kind} job ${id}: ${field} ${quoteForMessage(raw)} is not a time (yyyy-MM-dd HH:mm:ss); left out`);
  return at;
}

/** The reason for a `"Status":"Error"` answer, from its message. */
export function reasonForProductError(message: string | undefined): ErrorReason {
  return message !== undefined && AUTH_MESSAGE.test(message) ? 'auth' : 'invalid_response';
}

/**
 * Checks the envelope every answer has: `"Status":"OK"`, or `"Status":"Error"` with the product's
 * Message (and ExptType), which AhsayCBS sends with HTTP 200. Throws for anything but OK.
 */
export function checkStatus(body: unknown, where: string): Record<string, unknown> {
  if (!isObject(body)) throw new CollectError('invalid_response', `${where}: answer is not a JSON object`);
  if (body.Status === 'OK') return body;
  if (body.Status === 'Error') {
    const message = typeof body.Message === 'string' && body.Message.trim() ? truncate(body.Message.trim(), 300) : undefined;
    const type = typeof body.ExptType === 'string' ? ` (${truncate(body.ExptType, 100)})` : '';
    throw new CollectError(reasonForProductError(message), `${where}: AhsayCBS error: ${message ?? '(no message)'}${type}`);
  }
  throw new CollectError('invalid_response', `${where}: answer has no "Status":"OK"`);
}

/** The jobs of one day-list answer. A missing Data is no jobs; a single object is one. */
export function jobsFromAnswer(body: unknown, day: DayContext, sink: MappingSink): Job[] {
  const where = `${JOB_LIST_PATHS[day.kind].split('/').pop()} for ${day.login} on ${day.date}`;
  const ok = checkStatus(body, where);
  const data = ok.Data;
  if (data === undefined || data === null) return [];
  const items = Array.isArray(data) ? data : isObject(data) ? [data] : undefined;
  if (!items) throw new CollectError('invalid_response', `${where}: "Data" is not a list`);
  const jobs: Job[] = [];
  for (const item of items) {
    const job = mapJob(item, day, sink);
    if (job) jobs.push(job);
  }
  return jobs;
}

export interface BackupUser {
  login: string;
  /** The sub-admin that owns the user, passed on as Owner. */
  owner?: string;
}

/** The users of a ListUsers (v2) answer: key `User`, entries with LoginName (plain names accepted). */
export function usersFromAnswer(body: unknown, sink: MappingSink): BackupUser[] {
  const ok = checkStatus(body, '2/ListUsers.do');
  if (!Array.isArray(ok.User)) throw new CollectError('invalid_response', '2/ListUsers.do: answer has no "User" list');
  const users = new Map<string, BackupUser>();
  for (const entry of ok.User) {
    const login = typeof entry === 'string' ? stringField({ entry }, 'entry') : isObject(entry) ? stringField(entry, 'LoginName') : undefined;
    if (!login) {
      sink.problem('2/ListUsers.do: a user without LoginName skipped');
      continue;
    }
    const owner = isObject(entry) ? stringField(entry, 'Owner') : undefined;
    users.set(login, owner ? { login, owner } : { login });
  }
  return [...users.values()];
}

// ---------------------------------------------------------------------------------------------
// Days that are over

/** A day's list is final when the day was already over when it was read and none of its jobs can change. */
export function isFinalDay(jobs: readonly Job[], date: string, today: string): boolean {
  return date < today && jobs.every((job) => TERMINAL_JOB_STATES.has(job.state));
}

interface CachedDay {
  login: string;
  date: string;
  jobs: readonly Job[];
}

/**
 * Final day lists of one target, keyed by user, kind and date, bounded in days and in size (a day
 * counts one, and one per job): days that left the window and users no longer listed are dropped on
 * every collection, and past the bounds the least recently used go (they are read again when needed).
 */
export class FinishedDays {
  private readonly days: LRUCache<string, CachedDay>;

  constructor(maxDays = MAX_CACHED_DAYS, maxSize = MAX_CACHED_SIZE) {
    this.days = new LRUCache({ max: maxDays, maxSize, sizeCalculation: (day) => day.jobs.length + 1 });
  }

  get size(): number {
    return this.days.size;
  }

  /** Jobs held in remembered days. */
  get jobCount(): number {
    return this.days.calculatedSize - this.days.size;
  }

  get(login: string, kind: JobKind, date: string): readonly Job[] | undefined {
    return this.days.get(key(login, kind, date))?.jobs;
  }

  /** Remembers a day; one larger than the whole size bound is not kept. */
  put(login: string, kind: JobKind, date: string, jobs: readonly Job[]): void {
    this.days.set(key(login, kind, date), { login, date, jobs });
  }

  /** Keeps only days of `dates` and users of `logins`. */
  retain(logins: ReadonlySet<string>, dates: ReadonlySet<string>): void {
    for (const [k, day] of this.days.entries()) if (!logins.has(day.login) || !dates.has(day.date)) this.days.delete(k);
  }
}

function key(login: string, kind: JobKind, date: string): string {
  return `${date}\u0000${kind}\u0000${login}`;
}

// ---------------------------------------------------------------------------------------------
// Collection

interface Credentials {
  SysUser: string;
  SysPwd: string;
}

async function post(ctx: CollectContext, path: string, body: Record<string, unknown>): Promise<unknown> {
  return ctx.http.json({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function listUsers(ctx: CollectContext, credentials: Credentials, sink: MappingSink): Promise<BackupUser[]> {
  // LoginNameOnly keeps the answer small: the full user records carry quotas, contacts and settings.
  return usersFromAnswer(await post(ctx, LIST_USERS_PATH, { ...credentials, LoginNameOnly: true }), sink);
}

async function readDay(ctx: CollectContext, credentials: Credentials, user: BackupUser, day: DayContext, sink: MappingSink): Promise<Job[]> {
  const body: Record<string, unknown> = { ...credentials, LoginName: user.login, [DATE_FIELDS[day.kind]]: day.date };
  if (user.owner) body.Owner = user.owner;
  return jobsFromAnswer(await post(ctx, JOB_LIST_PATHS[day.kind], body), day, sink);
}

/**
 * Runs `work` over `items` with at most `limit` in flight, results in order. The HTTP pool bounds
 * the requests anyway; this also keeps thousands of user-days from all being prepared at once, and
 * starts nothing more once one has failed (the collection is lost then).
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a failure the collection is lost: start nothing more.
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await work(items[index]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

const ahsayBlock = defineProviderBlock({
  description: 'AhsayCBS: a system user with the API role (or Admin), and which backup users to read.',
  fields: {
    username: nonEmpty('AhsayCBS system user (SysUser) with the API role (or Admin); the Read-Only API role covers only ListRestoreJobStatus, not the user and backup job lists.'),
    users: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Login names of the backup users to read. Omit to read every user (ListUsers).'),
    timezone: z
      .string()
      .refine(isTimeZone, 'not an IANA time zone (e.g. "Asia/Hong_Kong", "UTC")')
      .prefault('UTC')
      .describe("IANA time zone of the AhsayCBS server: its job times carry no zone."),
    days: integer(1, 31)
      .prefault(2)
      .describe('How many calendar days to read, today (in the server time zone) included.'),
  },
  secrets: {
    password: { required: true, description: 'Password of the system user (SysPwd).' },
  },
});

export const ahsay = defineProvider({
  name: 'ahsay',
  kinds: ['backup', 'restore'],
  restorePoints: false,
  reports: { protection: false, storage: false, alerts: false },
  config: ahsayBlock,
  create(target, settings) {
    const credentials: Credentials = { SysUser: settings.username, SysPwd: settings.password };
    const configured = settings.users ? [...new Set(settings.users)].map((login) => ({ login })) : undefined;
    const finished = new FinishedDays();
    const problems = new ProblemLog('AhsayCBS');
    return {
      async collect(ctx) {
        const sink = problems.sink(ctx);
        const dates = datesToRead(ctx.now, settings.timezone, settings.days);
        const today = dates[0]!;
        const users = configured ?? (await listUsers(ctx, credentials, sink));
        finished.retain(new Set(users.map((u) => u.login)), new Set(dates));
        const days = users.flatMap((user) => (['backup', 'restore'] as const).flatMap((kind) => dates.map((date) => ({ user, kind, date }))));
        await mapLimited(days, target.max_concurrency, async ({ user, kind, date }) => {
          const cached = finished.get(user.login, kind, date);
          if (cached) return ctx.report({ jobs: cached });
          const jobs = await readDay(ctx, credentials, user, { kind, login: user.login, date, zone: settings.timezone }, sink);
          if (isFinalDay(jobs, date, today)) finished.put(user.login, kind, date, jobs);
          ctx.report({ jobs });
        });
        sink.flush();
      },
    };
  },
});

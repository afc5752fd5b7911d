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
import type { LRUCache } from 'lru-cache';
import { lruCache, sizedLruCache } from '../lru';
import { z } from 'zod';
import { defineProviderBlock, integer, isTimeZone, nonEmpty } from '../config/blocks';
import { CollectError } from '../http/errors';
import type { ErrorReason } from '../http/errors';
import type { Job, JobKind, ResourceProtection, RestorePoint, StateTable, StorageUsage } from '../model';
import { TERMINAL_JOB_STATES, mapStatus } from '../model';
import { isObject, quoteForMessage, truncate } from '../text';
import type { MappingSink } from './kit';
import { ProblemLog, mapLimited } from './kit';
import type { CollectContext } from './types';
import { defineProvider } from './types';
import { numberValue, readDateTime, stringField } from './util';
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
  const size = numberValue(value);
  return size !== undefined && size >= 0 ? size : undefined;
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

/**
 * How long after a day's end (in the configured zone) its list may be remembered as final. Clock
 * skew, or a zone that is a little off the server's, would otherwise remember a day the server
 * still adds jobs to.
 */
export const FINAL_DAY_MARGIN_SECONDS = 3600;

/**
 * A day's list is final when the day was over, by FINAL_DAY_MARGIN_SECONDS, when it was read and
 * none of its jobs can change.
 */
export function isFinalDay(jobs: readonly Job[], date: string, nowSeconds: number, zone: string): boolean {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(year, month - 1, day + 1));
  const end = localToEpochSeconds({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate(), hour: 0, minute: 0, second: 0 }, zone);
  return nowSeconds >= end + FINAL_DAY_MARGIN_SECONDS && jobs.every((job) => TERMINAL_JOB_STATES.has(job.state));
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

  constructor(
    private readonly maxDays = MAX_CACHED_DAYS,
    private readonly maxSize = MAX_CACHED_SIZE,
  ) {
    this.days = sizedLruCache(maxSize, daySize);
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
    const k = key(login, kind, date);
    const day = { login, date, jobs };
    // The bound in days, kept by hand: lru-cache's own (`max`) would allocate for all of them at once.
    if (this.maxDays > 0 && this.days.size >= this.maxDays && daySize(day) <= this.maxSize && !this.days.has(k)) this.days.pop();
    this.days.set(k, day);
  }

  /** Keeps only days of `dates` and users of `logins`. */
  retain(logins: ReadonlySet<string>, dates: ReadonlySet<string>): void {
    for (const [k, day] of this.days.entries()) if (!logins.has(day.login) || !dates.has(day.date)) this.days.delete(k);
  }
}

/** A remembered day counts one, and one per job. */
const daySize = (day: CachedDay): number => day.jobs.length + 1;

function key(login: string, kind: JobKind, date: string): string {
  return `${date}\u0000${kind}\u0000${login}`;
}

// ---------------------------------------------------------------------------------------------
// Inventory: users, backup sets, their schedules and restore points, storage

export const LIST_BACKUP_SETS_PATH = `${API_BASE}/ListBackupSets.do`;
export const LIST_BACKUP_JOBS_PATH = `${API_BASE}/ListBackupJobs.do`;
export const REPORT_SUMMARY_PATH = `${API_BASE}/GetBackupJobReportSummary.do`;
export const STORAGE_STAT_PATH = `${API_BASE}/GetUserStorageStat.do`;

/**
 * Backup statuses whose run left a restore point. A run that ended with warnings is one: AhsayCBS
 * committed the run, and its warnings name single files (open, moved or locked during the run),
 * which the next run takes. A run that ended "with error" is not counted: files it had to take
 * are missing from it, so restoring from it is not restoring the set.
 */
export const RESTORE_POINT_STATUSES: ReadonlySet<string> = new Set(['BS_STOP_SUCCESS', 'BS_STOP_SUCCESS_WITH_WARNING']);

/** The user status of ModifyUserStatus and ListUsers that stops a user's backups. */
export const SUSPENDED_STATUS = 'SUSPENDED';
/** The `status` of a set that runs on an enabled schedule, and of one without any. */
export const SCHEDULED_STATUS = 'SCHEDULED';
export const NO_SCHEDULE_STATUS = 'NO_SCHEDULE';

/** Seconds between runs of a schedule by its Type (AddSchedule / UpdateSchedule); CUSTOM runs once. */
const SCHEDULE_TYPE_SECONDS: Readonly<Record<string, number | undefined>> = {
  DAILY: DAY_SECONDS,
  WEEKLY: 7 * DAY_SECONDS,
  MONTHLY: 31 * DAY_SECONDS,
  CUSTOM: undefined,
};

/** Run ids kept per set while its newest restore point is looked for; older ones are not needed. */
export const MAX_PENDING_RUNS = 32;
/** Report summaries asked for per set and collection, newest run first; the walk goes on next time. */
export const MAX_SUMMARIES_PER_SET = 3;
/**
 * Report summaries asked for per collection in all, whatever the number of sets: one request each,
 * so a server with thousands of sets to walk (a first scrape, answers without a status) costs a
 * bounded number per scrape, and the walks go on over the next scrapes.
 */
export const MAX_SUMMARIES_PER_COLLECTION = 100;
/** Finished runs' statuses remembered per target (a few dozen bytes each). */
export const MAX_CACHED_RUN_STATUSES = 200_000;
/** Backup sets whose newest restore point is remembered per target. */
export const MAX_TRACKED_SETS = 100_000;

export interface UserRecord {
  login: string;
  owner?: string;
  /** The user's Status word (ENABLE, SUSPENDED), where the list gives one. */
  status?: string;
  /** Sum of the enabled quotas of QuotaList, in bytes; absent without one. */
  capacityBytes?: number;
}

/** A boolean the vendor writes as true/false or as "true"/"false"; undefined for anything else. */
export function readFlag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  return undefined;
}

/** The full user records of a 2/ListUsers.do answer: status and quotas besides the login name. */
export function userRecordsFromAnswer(body: unknown, sink: MappingSink): UserRecord[] {
  const users = usersFromAnswer(body, sink);
  const entries = (body as { User: unknown[] }).User;
  const byLogin = new Map<string, UserRecord>(users.map((u) => [u.login, { ...u }]));
  for (const entry of entries) {
    if (!isObject(entry)) continue;
    const login = stringField(entry, 'LoginName');
    const record = login ? byLogin.get(login) : undefined;
    if (!record) continue;
    const status = stringField(entry, 'Status');
    if (status) record.status = status;
    const capacity = quotaBytes(entry.QuotaList, login!, sink);
    if (capacity !== undefined) record.capacityBytes = capacity;
  }
  return [...byLogin.values()];
}

/** Sum of the enabled quotas; a quota of 0 or less is "no quota" and left out. */
function quotaBytes(list: unknown, login: string, sink: MappingSink): number | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) {
    sink.problem(`user ${login}: QuotaList is not a list; its quota is left out`);
    return undefined;
  }
  let total = 0;
  let known = false;
  for (const quota of list) {
    if (!isObject(quota) || readFlag(quota.Enabled) === false) continue;
    const bytes = parseSize(quota.Quota);
    if (bytes === undefined) {
      sink.problem(`user ${login}: Quota ${quoteForMessage(quota.Quota)} is not a size; left out`);
      continue;
    }
    if (bytes <= 0) continue;
    total += bytes;
    known = true;
  }
  return known ? total : undefined;
}

export interface ScheduleFacts {
  /** Whether the set runs on at least one enabled schedule. */
  enabled: boolean;
  /** The shortest interval among its enabled schedules, where their type says one. */
  intervalSeconds?: number;
}

export interface BackupSetInfo {
  id: string;
  name: string;
  /** Undefined when the set's settings carry no schedule settings: its protection is not known. */
  schedule?: ScheduleFacts;
  /** The first destination's id, which report summaries of v7+ clients need. */
  destinationId?: string;
}

/**
 * The schedules of a backup set's settings: `ScheduleSettings` with its switch (`Enabled`, also
 * read as `ScheduleEnabled`) and its schedules (`ScheduleList`, also read as `Schedules`), each
 * with the fields of AddSchedule / UpdateSchedule: Type DAILY | WEEKLY | MONTHLY | CUSTOM and
 * BackupInterval (minutes of a periodic schedule; -1 when it is not periodic).
 *
 * Those key names are the exporter's reading, not shown on the reference pages, so nothing is
 * assumed where they are missing: without a switch that reads as a boolean the facts are
 * undefined (the set's protection is left out, and the problem named) rather than taken as on.
 * A CUSTOM schedule runs once, on its date: it counts only while that date (read from `Time`'s
 * Year, Month, Day, Hour, Minute, in the server's zone) is still ahead of `nowSeconds`.
 */
export function scheduleFacts(settings: Record<string, unknown>, where: string, sink: MappingSink, nowSeconds = Date.now() / 1000, zone = 'UTC'): ScheduleFacts | undefined {
  const container = settings.ScheduleSettings;
  if (!isObject(container)) {
    sink.problem(`${where}: its settings have no ScheduleSettings; its protection is left out`);
    return undefined;
  }
  const switchValue = container.Enabled ?? container.ScheduleEnabled;
  const switched = readFlag(switchValue);
  if (switched === undefined) {
    const found = switchValue === undefined ? 'has no switch (Enabled)' : `switch ${quoteForMessage(switchValue)} is not a boolean`;
    sink.problem(`${where}: ScheduleSettings ${found}; its protection is left out`);
    return undefined;
  }
  const raw = container.ScheduleList ?? container.Schedules ?? [];
  const list = Array.isArray(raw) ? raw : isObject(raw) ? [raw] : [];
  if (!Array.isArray(raw) && !isObject(raw)) sink.problem(`${where}: ScheduleList is not a list`);
  const intervals: number[] = [];
  let active = 0;
  for (const schedule of list) {
    if (!isObject(schedule) || readFlag(schedule.Enabled) === false) continue;
    if (stringField(schedule, 'Type') === CUSTOM_TYPE && !customAhead(schedule, where, sink, nowSeconds, zone)) continue;
    active++;
    const interval = scheduleInterval(schedule, where, sink);
    if (interval !== undefined) intervals.push(interval);
  }
  const facts: ScheduleFacts = { enabled: switched && active > 0 };
  if (facts.enabled && intervals.length > 0) facts.intervalSeconds = Math.min(...intervals);
  return facts;
}

const CUSTOM_TYPE = 'CUSTOM';

/** Whether a one-off (CUSTOM) schedule's date is still to come; one without a readable date is not counted. */
function customAhead(schedule: Record<string, unknown>, where: string, sink: MappingSink, nowSeconds: number, zone: string): boolean {
  const time = isObject(schedule.Time) ? schedule.Time : {};
  const field = (key: string, min: number, max: number, fallback?: number): number | undefined => {
    const value = time[key] ?? fallback;
    const n = numberValue(value);
    return n !== undefined && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
  };
  const [year, month, day, hour, minute] = [field('Year', 1970, 9999), field('Month', 1, 12), field('Day', 1, 31), field('Hour', 0, 23, 0), field('Minute', 0, 59, 0)];
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined) {
    sink.problem(`${where}: CUSTOM schedule without a readable date (Time Year, Month, Day); not counted`);
    return false;
  }
  return localToEpochSeconds({ year, month, day, hour, minute, second: 0 }, zone) > nowSeconds;
}

function scheduleInterval(schedule: Record<string, unknown>, where: string, sink: MappingSink): number | undefined {
  const periodic = schedule.BackupInterval;
  const minutes = numberValue(periodic);
  if (minutes !== undefined && minutes > 0) return minutes * 60;
  const type = stringField(schedule, 'Type');
  if (type !== undefined && Object.prototype.hasOwnProperty.call(SCHEDULE_TYPE_SECONDS, type)) return SCHEDULE_TYPE_SECONDS[type];
  sink.problem(`${where}: schedule Type ${quoteForMessage(schedule.Type)} is not DAILY, WEEKLY, MONTHLY or CUSTOM; its interval is left out`);
  return undefined;
}

/** Items of an answer's Data: a list, one object, or nothing. */
function dataItems(ok: Record<string, unknown>, where: string): unknown[] {
  const data = ok.Data;
  if (data === undefined || data === null) return [];
  if (Array.isArray(data)) return data;
  if (isObject(data)) return [data];
  throw new CollectError('invalid_response', `${where}: "Data" is not a list`);
}

/** The backup sets of a ListBackupSets.do answer (asked with ListAll, so each carries its settings). */
export function backupSetsFromAnswer(body: unknown, login: string, sink: MappingSink, nowSeconds = Date.now() / 1000, zone = 'UTC'): BackupSetInfo[] {
  const where = `ListBackupSets.do for ${login}`;
  const sets = new Map<string, BackupSetInfo>();
  for (const item of dataItems(checkStatus(body, where), where)) {
    const id = isObject(item) ? stringField(item, 'ID') : undefined;
    if (!id || !isObject(item)) {
      sink.problem(`${where}: a backup set without an ID skipped`);
      continue;
    }
    const name = stringField(item, 'Name') ?? id;
    const set: BackupSetInfo = { id, name };
    const schedule = scheduleFacts(item, `backup set ${login}/${name}`, sink, nowSeconds, zone);
    if (schedule) set.schedule = schedule;
    const destinationId = firstDestinationId(item);
    if (destinationId) set.destinationId = destinationId;
    sets.set(id, set);
  }
  return [...sets.values()];
}

function firstDestinationId(settings: Record<string, unknown>): string | undefined {
  const destinations = isObject(settings.DestinationSettings) ? settings.DestinationSettings.DestinationList : undefined;
  const first = Array.isArray(destinations) ? destinations.find(isObject) : undefined;
  return first ? (stringField(first, 'Id') ?? stringField(first, 'ID')) : undefined;
}

/** Run ids per backup set of a ListBackupJobs.do answer, newest first; removed sets are left out. */
export function runsFromAnswer(body: unknown, login: string, sink: MappingSink): Map<string, string[]> {
  const where = `ListBackupJobs.do for ${login}`;
  const runs = new Map<string, string[]>();
  for (const item of dataItems(checkStatus(body, where), where)) {
    const setId = isObject(item) ? stringField(item, 'BackupSetID') : undefined;
    if (!setId || !isObject(item)) {
      sink.problem(`${where}: an entry without a BackupSetID skipped`);
      continue;
    }
    if (readFlag(item.Removed) === true) continue;
    const raw = Array.isArray(item.BackupJob) ? item.BackupJob : item.BackupJob === undefined || item.BackupJob === null ? [] : [item.BackupJob];
    const ids: string[] = [];
    for (const run of raw) {
      if (typeof run === 'string' && parseLocalDateTime(run)) ids.push(run.trim());
      else sink.problem(`${where}: run id ${quoteForMessage(run)} of backup set ${setId} is not a time (yyyy-MM-dd-HH-mm-ss); skipped`);
    }
    // Run ids are start times written with fixed widths: their text order is their time order.
    runs.set(setId, [...new Set(ids)].sort().reverse());
  }
  return runs;
}

/**
 * The status word of a GetBackupJobReportSummary.do answer. Its reference types Data as a String
 * while describing an object: a JSON text in Data is read as that object.
 */
export function summaryStatusFromAnswer(body: unknown, where: string): string | undefined {
  const ok = checkStatus(body, where);
  let data = ok.Data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      throw new CollectError('invalid_response', `${where}: "Data" is text that is not JSON`);
    }
  }
  if (!isObject(data)) throw new CollectError('invalid_response', `${where}: "Data" is not a report`);
  return stringField(data, 'BackupJobStatus');
}

/**
 * Bytes a user's backups occupy, from a GetUserStorageStat.do answer: AvgTotalStorageRawSize (a
 * string of digits) of its newest month. It is the month's average, the nearest to "now" the
 * call gives.
 */
export function storageUsedFromAnswer(body: unknown, login: string, sink: MappingSink): number | undefined {
  const where = `GetUserStorageStat.do for ${login}`;
  let newest: Record<string, unknown> | undefined;
  for (const item of dataItems(checkStatus(body, where), where)) {
    if (!isObject(item)) continue;
    const month = stringField(item, 'YearMonth') ?? '';
    if (!newest || month > (stringField(newest, 'YearMonth') ?? '')) newest = item;
  }
  if (!newest) return undefined;
  const raw = newest.AvgTotalStorageRawSize;
  const bytes = parseSize(raw);
  if (bytes === undefined && raw !== undefined) sink.problem(`${where}: AvgTotalStorageRawSize ${quoteForMessage(raw)} is not a size; left out`);
  return bytes;
}

/** A set's protection: off while its user is suspended or it has no enabled schedule. */
export function setProtection(resource: string, user: UserRecord | undefined, schedule: ScheduleFacts | undefined): ResourceProtection | undefined {
  if (!schedule && user?.status !== SUSPENDED_STATUS) return undefined;
  const found: ResourceProtection =
    user?.status === SUSPENDED_STATUS
      ? { resource, protected: false, status: SUSPENDED_STATUS }
      : { resource, protected: schedule!.enabled, status: schedule!.enabled ? SCHEDULED_STATUS : NO_SCHEDULE_STATUS };
  if (schedule?.intervalSeconds !== undefined) found.scheduleIntervalSeconds = schedule.intervalSeconds;
  return found;
}

/** A backup run of the job window: what the restore points need of it. */
export interface WindowRun {
  setId: string;
  runId: string;
  status: string;
}

/** The backup runs of a ListBackupJobStatus.do answer already checked by jobsFromAnswer. */
export function windowRunsFromAnswer(body: unknown): WindowRun[] {
  const data = isObject(body) ? body.Data : undefined;
  const items = Array.isArray(data) ? data : isObject(data) ? [data] : [];
  const runs: WindowRun[] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    const setId = stringField(item, 'BackupSetID');
    const runId = stringField(item, 'ID');
    const status = stringField(item, 'BackupJobStatus') ?? stringField(item, 'Status');
    if (setId && runId && status && parseLocalDateTime(runId)) runs.push({ setId, runId: runId.trim(), status });
  }
  return runs;
}

/**
 * What one target knows of restore points: the status of finished runs (they never change) and
 * each set's newest run that left a restore point. Both bounded; an entry that goes is read again.
 */
export class RestorePointTracker {
  private readonly statuses = lruCache<string, string>(MAX_CACHED_RUN_STATUSES);
  private readonly newest = lruCache<string, string>(MAX_TRACKED_SETS);

  /** A run's status; only a finished run's is kept. */
  learn(login: string, setId: string, runId: string, status: string): void {
    if (TERMINAL_JOB_STATES.has(mapStatus(AHSAY_BACKUP_STATES, status))) this.statuses.set(runKey(login, setId, runId), status);
    if (RESTORE_POINT_STATUSES.has(status)) {
      const key = setKey(login, setId);
      const known = this.newest.get(key);
      if (known === undefined || runId > known) this.newest.set(key, runId);
    }
  }

  statusOf(login: string, setId: string, runId: string): string | undefined {
    return this.statuses.get(runKey(login, setId, runId));
  }

  /** The run id of the set's newest restore point. */
  newestOf(login: string, setId: string): string | undefined {
    return this.newest.get(setKey(login, setId));
  }

  get cachedStatuses(): number {
    return this.statuses.size;
  }
}

const setKey = (login: string, setId: string) => `${login}\u0000${setId}`;
const runKey = (login: string, setId: string, runId: string) => `${login}\u0000${setId}\u0000${runId}`;

/** A user's inventory as last read, and when it is to be read again. */
interface UserInventory {
  sets: BackupSetInfo[];
  /** Per set, run ids newer than its known restore point whose status is not known yet, newest first. */
  pending: Map<string, string[]>;
  usedBytes?: number;
  dueAt: number;
  /**
   * Runs whose report summary gave no status, or one not in the state table: taken as unknown and
   * not asked for again until the next inventory read (they would be asked on every scrape).
   * Keyed by set and run id.
   */
  unknownRuns: Set<string>;
}

/** A number in [0, 1) from a text: spreads the users' inventory reads over time. */
export function spread(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return (hash >>> 0) / 2 ** 32;
}

/** Minutes between two inventory reads of a user unless configured. */
export const DEFAULT_INVENTORY_MINUTES = 60;

/** How much later than the interval a user's next inventory read may come, at most (a share). */
export const INVENTORY_SPREAD = 0.25;

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

async function listUserRecords(ctx: CollectContext, credentials: Credentials, sink: MappingSink): Promise<UserRecord[]> {
  return userRecordsFromAnswer(await post(ctx, LIST_USERS_PATH, { ...credentials }), sink);
}

async function readDay(ctx: CollectContext, credentials: Credentials, user: BackupUser, day: DayContext, sink: MappingSink): Promise<{ jobs: Job[]; runs: WindowRun[] }> {
  const body: Record<string, unknown> = { ...credentials, LoginName: user.login, [DATE_FIELDS[day.kind]]: day.date };
  if (user.owner) body.Owner = user.owner;
  const answer = await post(ctx, JOB_LIST_PATHS[day.kind], body);
  const jobs = jobsFromAnswer(answer, day, sink);
  return { jobs, runs: day.kind === 'backup' ? windowRunsFromAnswer(answer) : [] };
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
    inventory_minutes: integer(5, 1440)
      .prefault(DEFAULT_INVENTORY_MINUTES)
      .describe("Minutes between two reads of a user's backup sets, schedules, run list and storage. Each user's next read comes up to a quarter later, so that the users' reads spread."),
  },
  secrets: {
    password: { required: true, description: 'Password of the system user (SysPwd).' },
  },
});

export const ahsay = defineProvider({
  name: 'ahsay',
  kinds: ['backup', 'restore'],
  restorePoints: true,
  reports: { protection: true, storage: true, alerts: false },
  config: ahsayBlock,
  create(target, settings) {
    const credentials: Credentials = { SysUser: settings.username, SysPwd: settings.password };
    const configured = settings.users ? [...new Set(settings.users)].map((login) => ({ login })) : undefined;
    const finished = new FinishedDays();
    const problems = new ProblemLog('AhsayCBS');
    const tracker = new RestorePointTracker();
    const inventories = new Map<string, UserInventory>();
    const intervalSeconds = settings.inventory_minutes * 60;
    let records: { byLogin: Map<string, UserRecord>; dueAt: number } | undefined;
    const zone = settings.timezone;

    const refreshInventory = async (ctx: CollectContext, user: BackupUser, sink: MappingSink): Promise<void> => {
      const base: Record<string, unknown> = { ...credentials, LoginName: user.login };
      const [setsAnswer, runsAnswer, storageAnswer] = await Promise.all([
        post(ctx, LIST_BACKUP_SETS_PATH, { ...base, ListAll: true }),
        post(ctx, LIST_BACKUP_JOBS_PATH, base),
        post(ctx, STORAGE_STAT_PATH, { ...base, ...(user.owner ? { Owner: user.owner } : {}), YearMonth: localDate(ctx.now, zone).slice(0, 7), BackupSetID: 'all' }),
      ]);
      const sets = backupSetsFromAnswer(setsAnswer, user.login, sink, ctx.now, zone);
      const runs = runsFromAnswer(runsAnswer, user.login, sink);
      const pending = new Map<string, string[]>();
      for (const set of sets) {
        const known = tracker.newestOf(user.login, set.id);
        const newer = (runs.get(set.id) ?? []).filter((runId) => known === undefined || runId > known).slice(0, MAX_PENDING_RUNS);
        if (newer.length > 0) pending.set(set.id, newer);
      }
      const inventory: UserInventory = { sets, pending, dueAt: ctx.now + intervalSeconds * (1 + INVENTORY_SPREAD * spread(user.login)), unknownRuns: new Set() };
      const used = storageUsedFromAnswer(storageAnswer, user.login, sink);
      if (used !== undefined) inventory.usedBytes = used;
      inventories.set(user.login, inventory);
    };

    /**
     * Walks a set's pending runs newest first until one that left a restore point: statuses of
     * the job window and of earlier walks cost nothing, others one report summary each, at most
     * MAX_SUMMARIES_PER_SET per collection, and MAX_SUMMARIES_PER_COLLECTION for all sets together
     * (`budget`, shared by the walks of one collection).
     */
    const walk = async (ctx: CollectContext, user: BackupUser, set: BackupSetInfo, inventory: UserInventory, window: ReadonlyMap<string, string>, budget: { left: number }, sink: MappingSink): Promise<void> => {
      const runs = inventory.pending.get(set.id);
      if (!runs) return;
      let asked = 0;
      const left: string[] = [];
      for (const [index, runId] of runs.entries()) {
        const known = tracker.newestOf(user.login, set.id);
        if (known !== undefined && runId <= known) break;
        let status = tracker.statusOf(user.login, set.id, runId) ?? window.get(runKey(user.login, set.id, runId));
        if (status === undefined && inventory.unknownRuns.has(setKey(set.id, runId))) {
          left.push(runId);
          continue;
        }
        if (status === undefined) {
          if (asked >= MAX_SUMMARIES_PER_SET || budget.left <= 0) {
            left.push(...runs.slice(index));
            break;
          }
          asked++;
          budget.left--;
          const body: Record<string, unknown> = { ...credentials, LoginName: user.login, BackupSetID: set.id, BackupJobID: runId };
          if (user.owner) body.Owner = user.owner;
          if (set.destinationId) body.DestinationID = set.destinationId;
          const where = `GetBackupJobReportSummary.do for ${user.login}/${set.name}`;
          const found = summaryStatusFromAnswer(await post(ctx, REPORT_SUMMARY_PATH, body), `${where} run ${runId}`);
          if (found === undefined) {
            // Named once per set, not per run: a server that never says would name every run.
            sink.problem(`${where}: a report without BackupJobStatus; such runs are taken as unknown until the next inventory read`);
            inventory.unknownRuns.add(setKey(set.id, runId));
            left.push(runId);
            continue;
          }
          status = found;
          tracker.learn(user.login, set.id, runId, status);
          if (mapStatus(AHSAY_BACKUP_STATES, status) === 'unknown') {
            sink.unknownStatus(status);
            inventory.unknownRuns.add(setKey(set.id, runId));
          }
        }
        if (RESTORE_POINT_STATUSES.has(status)) break;
        // A run still going (or of a status not known) may yet leave a restore point: ask again later.
        if (!TERMINAL_JOB_STATES.has(mapStatus(AHSAY_BACKUP_STATES, status))) left.push(runId);
      }
      if (left.length > 0) inventory.pending.set(set.id, left);
      else inventory.pending.delete(set.id);
    };

    return {
      async collect(ctx) {
        const sink = problems.sink(ctx);
        const dates = datesToRead(ctx.now, zone, settings.days);
        let users: BackupUser[] | undefined;
        // The full user records (status, quotas) are read with the inventory, at most once per
        // interval; between, the light list of login names finds users that came or went. They
        // only add to the jobs: when they cannot be read (too large, an error answer) the jobs are
        // still served, with the records read last (or none), and they are asked for again only
        // after the interval, so that a list that keeps failing costs one request per interval.
        // The records before this collection: restored if it fails, so that the next one asks again.
        const before = records;
        let listFailure: CollectError | undefined;
        if (!records || records.dueAt <= ctx.now) {
          const dueAt = ctx.now + intervalSeconds;
          try {
            const list = await listUserRecords(ctx, credentials, sink);
            records = { byLogin: new Map(list.map((r) => [r.login, r])), dueAt };
            if (!configured) users = list.map(({ login, owner }) => (owner ? { login, owner } : { login }));
          } catch (err) {
            if (!(err instanceof CollectError) || ctx.signal.aborted) throw err;
            listFailure = err;
            ctx.log.debug({ err: err.message }, 'AhsayCBS full user list failed');
            records = { byLogin: records?.byLogin ?? new Map(), dueAt };
          }
        }
        try {
          users ??= configured ?? (await listUsers(ctx, credentials, sink));
          const logins = new Set(users.map((u) => u.login));
          finished.retain(logins, new Set(dates));
          for (const login of inventories.keys()) if (!logins.has(login)) inventories.delete(login);
          const days = users.flatMap((user) => (['backup', 'restore'] as const).flatMap((kind) => dates.map((date) => ({ user, kind, date }))));
          // Statuses of this collection's window, running runs included: those need no report summary.
          const window = new Map<string, string>();
          const due = users.filter((user) => (inventories.get(user.login)?.dueAt ?? -Infinity) <= ctx.now);
          await Promise.all([
            mapLimited(days, target.max_concurrency, async ({ user, kind, date }) => {
              const cached = finished.get(user.login, kind, date);
              if (cached) return ctx.report({ jobs: cached });
              const { jobs, runs } = await readDay(ctx, credentials, user, { kind, login: user.login, date, zone }, sink);
              for (const run of runs) {
                tracker.learn(user.login, run.setId, run.runId, run.status);
                window.set(runKey(user.login, run.setId, run.runId), run.status);
              }
              if (isFinalDay(jobs, date, ctx.now, zone)) finished.put(user.login, kind, date, jobs);
              ctx.report({ jobs });
            }),
            mapLimited(due, target.max_concurrency, (user) => refreshInventory(ctx, user, sink)),
          ]);
          const sets = users.flatMap((user) => {
            const inventory = inventories.get(user.login);
            return inventory ? inventory.sets.map((set) => ({ user, set, inventory })) : [];
          });
          const budget = { left: MAX_SUMMARIES_PER_COLLECTION };
          await mapLimited(sets, target.max_concurrency, ({ user, set, inventory }) => walk(ctx, user, set, inventory, window, budget, sink));
          for (const user of users) {
            const inventory = inventories.get(user.login);
            if (!inventory) continue;
            const record = records.byLogin.get(user.login);
            const resources: ResourceProtection[] = [];
            const restorePoints: RestorePoint[] = [];
            for (const set of inventory.sets) {
              const resource = `${user.login}/${set.name}`;
              const protection = setProtection(resource, record, set.schedule);
              if (protection) resources.push(protection);
              const runId = tracker.newestOf(user.login, set.id);
              const createdAt = runId === undefined ? undefined : parseAhsayTime(runId, zone);
              if (runId !== undefined && createdAt !== undefined) restorePoints.push({ id: `${user.login}/${set.id}/${runId}`, resource, vault: user.login, state: 'available', createdAt });
            }
            const usage: StorageUsage = { vault: user.login };
            if (inventory.usedBytes !== undefined) usage.usedBytes = inventory.usedBytes;
            if (record?.capacityBytes !== undefined) usage.capacityBytes = record.capacityBytes;
            ctx.report({ resources, restorePoints, storage: usage.usedBytes !== undefined || usage.capacityBytes !== undefined ? [usage] : [] });
          }
        } catch (err) {
          // When everything fails, the collection's own error says it: no line of its own, and
          // the next collection asks for the full list again.
          if (listFailure) records = before;
          throw err;
        }
        if (listFailure) {
          const status = listFailure.status === undefined ? '' : `, HTTP ${listFailure.status}`;
          const kept = before ? 'those read before are kept' : 'user status and quotas are left out';
          sink.problem(`2/ListUsers.do (full user records) failed (${listFailure.reason}${status}); ${kept}, jobs are still read, asked again after inventory_minutes`);
        }
        sink.flush();
      },
    };
  },
});

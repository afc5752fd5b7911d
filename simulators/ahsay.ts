/**
 * AhsayCBS simulator: the JSON API calls the exporter makes (2/ListUsers.do, ListBackupJobStatus.do,
 * ListRestoreJobStatus.do, and AuthSystemUser.do), with the product's authentication in the body,
 * its HTTP-200 error answers, its time format in a configurable server zone, and its quirks.
 *
 * Users, backup sets and jobs are derived from a seed, the user's number and the clock, never
 * stored, so 2,000 users cost only the answer being asked for. Each backup set runs a backup every
 * backupIntervalMs from a fixed phase after local midnight; on the current day jobs start, run
 * (BS_STILL_RUNNING) and finish as the clock moves. A run never crosses local midnight, so once a
 * day is over its lists never change again, as on the product.
 *
 * Faithful details (AhsayCBS v9/v10 API reference and public clients of it):
 * - Every call is `POST /obs/api/json/<Name>.do`; the docs say the API takes POST only. The body is
 *   JSON (clients send it as application/json or text/plain) or form-encoded (`requests.post(...,
 *   data=...)` as used by public scripts).
 * - A wrong SysUser/SysPwd (or a system user without an API role) answers HTTP 200
 *   `{"Status":"Error","Message":"Incorrect system username/password","ExptType":"com.ahsay.obs.core.dbs.c"}`.
 * - 2/ListUsers.do answers `{"Status":"OK","User":[...]}` in one piece: it has filters
 *   (searchStr, ClientType, LoginNameOnly, ClientTypeOnly) but no paging.
 * - Job lists answer `{"Status":"OK","Data":[...]}`; backup records carry BackupJobStatus and
 *   UploadSize, restore records RestoreSize and, as in the reference example, the status in
 *   `Status` and the user in `UserId` (the reference table says RestoreJobStatus and UserID; the
 *   simulator answers both ways, per user). Sizes come as numbers or strings.
 * - Times are `yyyy-MM-dd HH:mm:ss` in the server's zone; the ID of a run is its start time as
 *   `yyyy-MM-dd-HH-mm-ss`. The vendor's own examples contain typos such as `11;34:15`.
 * Assumptions (not documented): the answer to GET (Tomcat's 405 page), the text of the errors for an
 * unknown backup user or a missing field, EndTime "" while a backup runs, and that a running restore
 * is not listed until it ends (the restore status table has no running state).
 */

import http from 'node:http';
import express from 'express';
import { createSimulator, replayAnswers, sendJson, startSimulator, type Faults, type RunningSimulator, type Simulator } from './framework';
import type { DemoDefinition } from './demo';
import { draws, pick } from './seeded';

export const AHSAY_API_BASE = '/obs/api/json';
export const INCORRECT_CREDENTIALS_MESSAGE = 'Incorrect system username/password';
const CREDENTIALS_EXPT_TYPE = 'com.ahsay.obs.core.dbs.c';
const JSON_EXPT_TYPE = 'org.json.JSONException';
const RUN_VERSION = '9.11.0.0';
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const MAX_TRACKED_DATES = 1000;
const MAX_FORCED_FAILURES = 10_000;

export type RestoreFieldStyle = 'example' | 'reference' | 'mixed';

export interface AhsaySimulatorOptions {
  sysUser: string;
  sysPwd: string;
  /** Backup users (default 6); cheap in any number. */
  users?: number;
  /** IANA zone of the server: the zone of every time it writes (default UTC). */
  timezone?: string;
  /** Each backup set runs a backup this often (default 4 h). */
  backupIntervalMs?: number;
  /** Typical run time of a backup (each run varies from 40% to 160%; default 20 min). */
  backupDurationMs?: number;
  /** A user may restore once per this interval (default 6 h) ... */
  restoreIntervalMs?: number;
  /** ... with this chance (default 0.25). */
  restoreChance?: number;
  /** Typical run time of a restore (default 10 min). */
  restoreDurationMs?: number;
  /** Share of records whose size is a string instead of a number (default 0.2). */
  sizeAsStringRate?: number;
  /** Share of records with a time such as `11;34:15` (default 0.01). */
  badTimeRate?: number;
  /** Which field names restore records use (default mixed: per user). */
  restoreFieldStyle?: RestoreFieldStyle;
  /** Days before today that ListBackupJobs.do lists runs of (default 7). */
  historyDays?: number;
  /**
   * The inventory's cases (default off; on in the demo): finance's first backup set stops running (its schedule
   * still on), sales' first set has its schedule switched off, design is suspended (its backups
   * stop), legal uses 97 % of its quota and support 88 %. Each stops `stoppedAgoMs` before the
   * simulator's clock read at creation.
   */
  inventoryCases?: boolean;
  /** How long before creation the stopped sets ran last (default 3 days). */
  stoppedAgoMs?: number;
  clock?: () => number;
  seed?: string;
  faults?: Partial<Faults>;
}

export interface AhsayBackupSet {
  id: string;
  name: string;
  destinationId: string;
  /** Milliseconds after local midnight of the first run of a day. */
  phase: number;
  /** Whether its schedule is switched on. */
  scheduleEnabled: boolean;
  /** No run starts at or after this instant (a schedule that stopped, a suspended user). */
  stopsAt?: number;
}

export interface AhsayUser {
  index: number;
  login: string;
  owner: string;
  clientType: 'OBM' | 'ACB';
  backupSets: AhsayBackupSet[];
  /** ENABLE or SUSPENDED. */
  status: string;
  /** Bytes of the user's quota, and the share of it in use. */
  quotaBytes: number;
  usedShare: number;
}

export interface FailNextResult {
  login: string;
  backupSetId: string;
  /** Local start time of the doomed run, as the product writes it. */
  startTime: string;
  id: string;
}

export interface AhsaySimulator extends Simulator {
  userCount: number;
  timezone: string;
  /** The user with this 0-based number. */
  user(index: number): AhsayUser;
  userByLogin(login: string): AhsayUser | undefined;
  /** The records ListBackupJobStatus.do / ListRestoreJobStatus.do would answer now. */
  backupRecords(login: string, date: string): Record<string, unknown>[];
  restoreRecords(login: string, date: string): Record<string, unknown>[];
  /** Job-list requests per asked date (BackupDate / RestoreDate), since start or reset. */
  requestsByDate: Map<string, number>;
  /** Makes the next backup to start (of one user, or the soonest of all) end BS_STOP_BY_SYSTEM_ERROR. */
  failNext(login?: string): FailNextResult;
  /** Faults of single AhsayCBS calls: mutate in place; reset() turns them off. */
  productFaults: AhsayFaults;
}

export interface AhsayFaults {
  /** 0 = off; otherwise the HTTP status of every full (not LoginNameOnly) 2/ListUsers.do answer. */
  fullUserListStatus: number;
  /** Report summaries without BackupJobStatus. */
  summaryWithoutStatus: boolean;
}

const noAhsayFaults = (): AhsayFaults => ({ fullUserListStatus: 0, summaryWithoutStatus: false });

interface Settings {
  users: number;
  zone: string;
  backupIntervalMs: number;
  backupDurationMs: number;
  restoreIntervalMs: number;
  restoreChance: number;
  restoreDurationMs: number;
  sizeAsStringRate: number;
  badTimeRate: number;
  restoreFieldStyle: RestoreFieldStyle;
  historyDays: number;
  inventoryCases: boolean;
  /** When the stopped sets and the suspended user ran last. */
  stoppedAt: number;
  clock: () => number;
  seed: string;
}

export function createAhsaySimulator(options: AhsaySimulatorOptions): AhsaySimulator {
  const s = settingsFrom(options);
  const zone = new ZoneClock(s.zone);
  const forced = new Set<string>();
  const requestsByDate = new Map<string, number>();
  const productFaults = noAhsayFaults();
  const world: World = { s, zone, forced, requestsByDate, productFaults };
  const router = express.Router();
  // AhsayCBS authenticates with the body itself (SysUser/SysPwd), which is part of the replay key.
  router.use(AHSAY_API_BASE, express.text({ type: () => true, limit: '64kb' }), replayAnswers, apiHandler(world, options));
  router.use((req, res) => sendTomcatError(res, 404, `The requested resource [${req.path}] is not available`));
  const sim = createSimulator({
    name: 'ahsay',
    router,
    faults: options.faults,
    control: controlRouter(world),
    errorBody: (status) => ({ Status: 'Error', Message: http.STATUS_CODES[status] ?? 'Error', ExptType: 'com.ahsay.sim.InjectedFault' }),
    onReset: () => {
      forced.clear();
      requestsByDate.clear();
      Object.assign(productFaults, noAhsayFaults());
    },
  });
  return {
    ...sim,
    userCount: s.users,
    timezone: s.zone,
    user: (index) => userAt(s, index),
    userByLogin: (login) => userByLogin(s, login),
    backupRecords: (login, date) => recordsFor(world, 'backup', login, date),
    restoreRecords: (login, date) => recordsFor(world, 'restore', login, date),
    requestsByDate,
    failNext: (login) => failNext(world, login),
    productFaults,
  };
}

function settingsFrom(o: AhsaySimulatorOptions): Settings {
  const zone = o.timezone ?? 'UTC';
  // Throws RangeError for a zone Intl does not know: better at start than on the first request.
  new Intl.DateTimeFormat('en-US', { timeZone: zone });
  const backupIntervalMs = Math.max(MINUTE_MS, o.backupIntervalMs ?? 4 * HOUR_MS);
  return {
    users: Math.max(0, Math.floor(o.users ?? 6)),
    zone,
    backupIntervalMs,
    backupDurationMs: Math.max(1000, Math.min(o.backupDurationMs ?? 20 * MINUTE_MS, backupIntervalMs / 2)),
    restoreIntervalMs: Math.max(MINUTE_MS, o.restoreIntervalMs ?? 6 * HOUR_MS),
    restoreChance: clamp01(o.restoreChance ?? 0.25),
    restoreDurationMs: Math.max(1000, o.restoreDurationMs ?? 10 * MINUTE_MS),
    sizeAsStringRate: clamp01(o.sizeAsStringRate ?? 0.2),
    badTimeRate: clamp01(o.badTimeRate ?? 0.01),
    restoreFieldStyle: o.restoreFieldStyle ?? 'mixed',
    historyDays: Math.max(0, Math.min(60, Math.floor(o.historyDays ?? 7))),
    inventoryCases: o.inventoryCases ?? false,
    stoppedAt: (o.clock ?? Date.now)() - Math.max(0, o.stoppedAgoMs ?? 3 * DAY_MS),
    clock: o.clock ?? Date.now,
    seed: o.seed ?? 'backup-exporter',
  };
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

interface World {
  s: Settings;
  zone: ZoneClock;
  /** `login|backupSetId|startMs` of runs forced to fail. */
  forced: Set<string>;
  requestsByDate: Map<string, number>;
  productFaults: AhsayFaults;
}

// ---------------------------------------------------------------------------------------------
// Deterministic numbers



// ---------------------------------------------------------------------------------------------
// The server's wall clock (its own Intl arithmetic, independent of the exporter's)

class ZoneClock {
  private readonly format: Intl.DateTimeFormat;
  private readonly midnights = new Map<string, number>();
  private readonly steady = new Map<string, number | undefined>();

  constructor(readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  /** Wall-clock fields at an instant. */
  fields(ms: number): { date: string; time: string } {
    const p: Record<string, string> = {};
    for (const part of this.format.formatToParts(new Date(Math.floor(ms / 1000) * 1000))) p[part.type] = part.value;
    const hour = p.hour === '24' ? '00' : p.hour;
    return { date: `${p.year}-${p.month}-${p.day}`, time: `${hour}:${p.minute}:${p.second}` };
  }

  /** Milliseconds the zone is ahead of UTC at an instant. */
  offsetMs(ms: number): number {
    const { date, time } = this.fields(ms);
    return Date.parse(`${date}T${time}Z`) - Math.floor(ms / 1000) * 1000;
  }

  /** The instant of local midnight starting `date` (yyyy-MM-dd). */
  midnight(date: string): number {
    let at = this.midnights.get(date);
    if (at === undefined) {
      const wall = Date.parse(`${date}T00:00:00Z`);
      at = wall - this.offsetMs(wall);
      at = wall - this.offsetMs(at);
      if (this.midnights.size >= 1000) this.midnights.clear();
      this.midnights.set(date, at);
    }
    return at;
  }

  today(ms: number): string {
    return this.fields(ms).date;
  }

  /** The offset that holds all through `date`, or undefined on a day the offset changes. */
  steadyOffset(date: string): number | undefined {
    if (!this.steady.has(date)) {
      const start = this.midnight(date);
      const first = this.offsetMs(start);
      if (this.steady.size >= 1000) this.steady.clear();
      this.steady.set(date, first === this.offsetMs(this.midnight(nextDate(date)) - 1000) ? first : undefined);
    }
    return this.steady.get(date);
  }
}

function nextDate(date: string, days = 1): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Formats instants of one local day; no Intl call at all unless the offset changes that day. */
class DayFormatter {
  private readonly offset: number | undefined;

  constructor(
    private readonly zone: ZoneClock,
    date: string,
  ) {
    this.offset = zone.steadyOffset(date);
  }

  /** `yyyy-MM-dd HH:mm:ss` */
  time(ms: number): string {
    if (this.offset === undefined) {
      const { date, time } = this.zone.fields(ms);
      return `${date} ${time}`;
    }
    return new Date(Math.floor(ms / 1000) * 1000 + this.offset).toISOString().slice(0, 19).replace('T', ' ');
  }
}

// ---------------------------------------------------------------------------------------------
// Users and backup sets

const USER_NAMES = ['obm', 'finance', 'sales', 'design', 'legal', 'support', 'warehouse', 'research'];
const SET_NAMES = ['default-backup-set-name-1', 'Documents', 'SQL Server', 'Exchange Mailboxes', 'File Server', 'VMware Guests', 'System State'];
const OWNERS = ['', '', '', 'reseller-east', '', 'reseller-west'];

function loginOf(index: number): string {
  const round = Math.floor(index / USER_NAMES.length);
  const name = USER_NAMES[index % USER_NAMES.length]!;
  return round === 0 ? name : `${name}-${round}`;
}

/** The inverse of loginOf, without a table: `name` or `name-<round>`. */
function indexOfLogin(login: string): number | undefined {
  const m = /^([a-z]+)(?:-([1-9]\d{0,8}))?$/.exec(login);
  if (!m) return undefined;
  const base = USER_NAMES.indexOf(m[1]!);
  if (base < 0) return undefined;
  return (m[2] ? Number(m[2]) : 0) * USER_NAMES.length + base;
}

function userAt(s: Settings, index: number): AhsayUser {
  const login = loginOf(index);
  const r = draws(s.seed, 'user', index);
  const setCount = 1 + Math.floor(r[0]! * 3);
  const firstName = Math.floor(r[1]! * SET_NAMES.length);
  const backupSets: AhsayBackupSet[] = [];
  for (let j = 0; j < setCount; j++) {
    const q = draws(s.seed, 'set', index, j);
    backupSets.push({
      // Backup set and destination ids are creation times in milliseconds, as on the product.
      id: String(1_680_000_000_000 + Math.floor(q[0]! * 60_000_000_000)),
      name: SET_NAMES[(firstName + j) % SET_NAMES.length]!,
      destinationId: String(1_680_000_000_000 + Math.floor(q[1]! * 60_000_000_000)),
      phase: Math.floor(q[2]! * s.backupIntervalMs),
      scheduleEnabled: true,
    });
  }
  const cases = s.inventoryCases;
  const suspended = cases && index === SUSPENDED_USER;
  if (cases && index === STOPPED_SET_USER) backupSets[0]!.stopsAt = s.stoppedAt;
  if (cases && index === DISABLED_SET_USER) Object.assign(backupSets[0]!, { scheduleEnabled: false, stopsAt: s.stoppedAt });
  if (suspended) for (const set of backupSets) set.stopsAt = s.stoppedAt;
  const q = draws(s.seed, 'user-json', index);
  const usedShare = cases && index in NEAR_QUOTA ? NEAR_QUOTA[index]! : 0.1 + 0.6 * q[2]!;
  return {
    index,
    login,
    owner: pick(OWNERS, r[2]!),
    clientType: r[3]! < 0.8 ? 'OBM' : 'ACB',
    backupSets,
    status: suspended ? 'SUSPENDED' : 'ENABLE',
    quotaBytes: (50 + Math.floor(q[1]! * 950)) * 1024 ** 3,
    usedShare,
  };
}

/** The users of the inventory cases (see AhsaySimulatorOptions.inventoryCases). */
const STOPPED_SET_USER = 1;
const DISABLED_SET_USER = 2;
const SUSPENDED_USER = 3;
const NEAR_QUOTA: Readonly<Record<number, number>> = { 4: 0.97, 5: 0.88 };

function userByLogin(s: Settings, login: string): AhsayUser | undefined {
  const index = indexOfLogin(login);
  return index !== undefined && index < s.users ? userAt(s, index) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Jobs of one user and local day

const BACKUP_OUTCOMES: ReadonlyArray<[string, number]> = [
  ['BS_STOP_SUCCESS', 0.78],
  ['BS_STOP_SUCCESS_WITH_WARNING', 0.06],
  ['BS_STOP_SUCCESS_WITH_ERROR', 0.03],
  ['BS_STOP_BY_USER', 0.02],
  ['BS_STOP_BY_SYSTEM_ERROR', 0.03],
  ['BS_STOP_BY_SCHEDULER', 0.02],
  ['BS_STOP_BY_QUOTA_EXCEEDED', 0.02],
  ['BS_STOP_MISSED_BACKUP', 0.02],
  ['BS_BACKUP_NOT_FINISHED', 0.02],
];

const RESTORE_OUTCOMES: ReadonlyArray<[string, number]> = [
  ['RESTORE_STOP_SUCCESS', 0.8],
  ['RESTORE_STOP_SUCCESS_WITH_WARNING', 0.07],
  ['RESTORE_STOP_SUCCESS_WITH_ERROR', 0.04],
  ['RESTORE_STOP_BY_USER', 0.04],
  ['RESTORE_STOP_BY_ERROR', 0.05],
];

function outcome(table: ReadonlyArray<[string, number]>, r: number): string {
  let sum = 0;
  for (const [status, share] of table) {
    sum += share;
    if (r < sum) return status;
  }
  return table[0]![0];
}

interface Run {
  set: AhsayBackupSet;
  start: number;
  end: number;
  status: string;
  bytes: number;
  /** Draws for the quirks of this record: [bad time, size as string]. */
  quirks: [number, number];
}

/** The longest a run may take: runs are placed so that the longest still ends before midnight. */
const longest = (typical: number) => typical * 1.6;

function backupRuns(world: World, user: AhsayUser, date: string, now: number): Run[] {
  const { s, zone } = world;
  const dayStart = zone.midnight(date);
  const dayEnd = zone.midnight(nextDate(date));
  const runs: Run[] = [];
  for (const set of user.backupSets) {
    for (let k = 0; ; k++) {
      const start = dayStart + set.phase + k * s.backupIntervalMs;
      if (start + longest(s.backupDurationMs) >= dayEnd || start > now || (set.stopsAt !== undefined && start >= set.stopsAt)) break;
      const r = draws(s.seed, 'backup', user.login, set.id, date, k);
      const planned = forcedKey(user.login, set.id, start);
      const ending = world.forced.has(planned) ? 'BS_STOP_BY_SYSTEM_ERROR' : outcome(BACKUP_OUTCOMES, r[0]!);
      const missed = ending === 'BS_STOP_MISSED_BACKUP';
      const end = missed ? start : start + Math.round(s.backupDurationMs * (0.4 + 1.2 * r[1]!));
      const running = now < end;
      const failedEarly = missed || ending === 'BS_STOP_BY_QUOTA_EXCEEDED';
      const bytes = failedEarly ? 0 : Math.floor(r[2]! * 8 * 1024 ** 3 * (running ? (now - start) / (end - start) : 1));
      runs.push({ set, start, end, status: running ? 'BS_STILL_RUNNING' : ending, bytes, quirks: [r[3]!, r[4]!] });
    }
  }
  return runs.sort((a, b) => a.start - b.start);
}

function restoreRuns(world: World, user: AhsayUser, date: string, now: number): Run[] {
  const { s, zone } = world;
  if (user.backupSets.length === 0) return [];
  const dayStart = zone.midnight(date);
  const dayEnd = zone.midnight(nextDate(date));
  const phase = Math.floor(draws(s.seed, 'restore-phase', user.login)[0]! * s.restoreIntervalMs);
  const runs: Run[] = [];
  for (let k = 0; ; k++) {
    const start = dayStart + phase + k * s.restoreIntervalMs;
    if (start + longest(s.restoreDurationMs) >= dayEnd || start > now) break;
    const r = draws(s.seed, 'restore', user.login, date, k);
    if (r[0]! >= s.restoreChance) continue;
    const end = start + Math.round(s.restoreDurationMs * (0.4 + 1.2 * r[1]!));
    if (end > now) continue;
    const status = outcome(RESTORE_OUTCOMES, r[2]!);
    const bytes = status === 'RESTORE_STOP_BY_ERROR' ? 0 : Math.floor(r[3]! * 2 * 1024 ** 3);
    runs.push({ set: pick(user.backupSets, r[4]!), start, end, status, bytes, quirks: [r[5]!, r[6]!] });
  }
  return runs;
}

/** `11;34:15` instead of `11:34:15`, as in the vendor's own examples. */
function withTypo(time: string): string {
  return time.replace(':', ';');
}

function size(bytes: number, asString: boolean): number | string {
  return asString ? String(bytes) : bytes;
}

function recordsFor(world: World, kind: 'backup' | 'restore', login: string, date: string): Record<string, unknown>[] {
  const user = userByLogin(world.s, login);
  if (!user) return [];
  const now = world.s.clock();
  const format = new DayFormatter(world.zone, date);
  if (kind === 'backup') return backupRuns(world, user, date, now).map((run) => backupRecord(world.s, user, run, format));
  const style = restoreStyle(world.s, user);
  return restoreRuns(world, user, date, now).map((run) => restoreRecord(world.s, user, run, format, style));
}

function times(s: Settings, run: Run, format: DayFormatter, running: boolean): { id: string; start: string; end: string } {
  const start = format.time(run.start);
  const id = start.replace(/[ :]/g, '-');
  let startText = start;
  let endText = running ? '' : format.time(run.end);
  const r = run.quirks[0];
  if (r < s.badTimeRate) {
    if (r < s.badTimeRate / 2 || running) startText = withTypo(startText);
    else endText = withTypo(endText);
  }
  return { id, start: startText, end: endText };
}

function backupRecord(s: Settings, user: AhsayUser, run: Run, format: DayFormatter): Record<string, unknown> {
  const t = times(s, run, format, run.status === 'BS_STILL_RUNNING');
  return {
    ID: t.id,
    LoginName: user.login,
    Owner: user.owner,
    UserId: user.login,
    StartTime: t.start,
    EndTime: t.end,
    BackupJobStatus: run.status,
    BackupSetID: run.set.id,
    BackupSetName: run.set.name,
    UploadSize: size(run.bytes, run.quirks[1] < s.sizeAsStringRate),
    RunVersion: RUN_VERSION,
    DestinationID: run.set.destinationId,
  };
}

function restoreStyle(s: Settings, user: AhsayUser): 'example' | 'reference' {
  if (s.restoreFieldStyle !== 'mixed') return s.restoreFieldStyle;
  return user.index % 2 === 0 ? 'example' : 'reference';
}

function restoreRecord(s: Settings, user: AhsayUser, run: Run, format: DayFormatter, style: 'example' | 'reference'): Record<string, unknown> {
  const t = times(s, run, format, false);
  const restoreSize = size(run.bytes, run.quirks[1] < s.sizeAsStringRate);
  if (style === 'example') {
    // Field order and names of the reference example.
    return {
      Status: run.status,
      BackupSetName: run.set.name,
      LoginName: user.login,
      Owner: user.owner,
      EndTime: t.end,
      UserId: user.login,
      RunVersion: RUN_VERSION,
      StartTime: t.start,
      ID: t.id,
      BackupSetID: run.set.id,
      RestoreSize: restoreSize,
      DestinationID: run.set.destinationId,
    };
  }
  return {
    ID: t.id,
    LoginName: user.login,
    Owner: user.owner,
    UserID: user.login,
    StartTime: t.start,
    EndTime: t.end,
    RestoreJobStatus: run.status,
    BackupSetID: run.set.id,
    BackupSetName: run.set.name,
    RestoreSize: restoreSize,
    RunVersion: RUN_VERSION,
    DestinationID: run.set.destinationId,
  };
}

// ---------------------------------------------------------------------------------------------
// fail-next

function forcedKey(login: string, setId: string, start: number): string {
  return `${login}|${setId}|${start}`;
}

function failNext(world: World, login?: string): FailNextResult {
  const { s, zone } = world;
  const now = s.clock();
  const candidates = login === undefined ? Array.from({ length: s.users }, (_, i) => userAt(s, i)) : [userByLogin(s, login)];
  let best: { user: AhsayUser; set: AhsayBackupSet; start: number } | undefined;
  for (const user of candidates) {
    if (!user) throw new Error(`no backup user ${String(login)}`);
    for (const set of user.backupSets) {
      const start = nextRun(world, set, now, user.login);
      if (start !== undefined && (!best || start < best.start)) best = { user, set, start };
    }
  }
  if (!best) throw new Error('the simulator has no backup sets to fail a backup of');
  if (world.forced.size >= MAX_FORCED_FAILURES) world.forced.delete(world.forced.values().next().value!);
  world.forced.add(forcedKey(best.user.login, best.set.id, best.start));
  const date = zone.today(best.start);
  const startTime = new DayFormatter(zone, date).time(best.start);
  return { login: best.user.login, backupSetId: best.set.id, startTime, id: startTime.replace(/[ :]/g, '-') };
}

/** The first run of a set that starts after `now` (today or within the next days) and is not already doomed. */
function nextRun(world: World, set: AhsayBackupSet, now: number, login: string): number | undefined {
  const { s, zone } = world;
  let date = zone.today(now);
  for (let day = 0; day < 3; day++, date = nextDate(date)) {
    const dayStart = zone.midnight(date);
    const dayEnd = zone.midnight(nextDate(date));
    for (let k = 0; ; k++) {
      const start = dayStart + set.phase + k * s.backupIntervalMs;
      if (start + longest(s.backupDurationMs) >= dayEnd || (set.stopsAt !== undefined && start >= set.stopsAt)) break;
      if (start > now && !world.forced.has(forcedKey(login, set.id, start))) return start;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The API

type Body = Record<string, unknown>;

class ProductError {
  constructor(
    readonly message: string,
    readonly exptType: string,
  ) {}
}

function productError(res: express.Response, err: ProductError): void {
  sendJson(res, 200, { Status: 'Error', Message: err.message, ExptType: err.exptType });
}

/** The request body: JSON whatever the content type, else a form; org.json's own message if neither. */
function parseBody(req: express.Request): Body {
  const text = typeof req.body === 'string' ? req.body : '';
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Body;
    } catch {
      // reported below as the product's parser would
    }
  } else if (/^[^=&]+=/.test(trimmed)) {
    return Object.fromEntries(new URLSearchParams(trimmed));
  }
  throw new ProductError(`A JSONObject text must begin with '{' at 1 [character 2 line 1]`, JSON_EXPT_TYPE);
}

function str(body: Body, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function flag(body: Body, key: string): boolean {
  const value = body[key];
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

function required(body: Body, key: string): string {
  const value = str(body, key);
  if (!value) throw new ProductError(`JSONObject["${key}"] not found.`, JSON_EXPT_TYPE);
  return value;
}

/** A yyyy-MM-dd date as SimpleDateFormat (lenient off) would accept it. */
function requiredDate(body: Body, key: string): string {
  const value = required(body, key);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const valid = m && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  if (!valid) throw new ProductError(`Unparseable date: "${value}"`, 'java.text.ParseException');
  return value;
}

type Handler = (world: World, body: Body) => unknown;

const HANDLERS: Record<string, Handler> = {
  '/AuthSystemUser.do': () => ({ Status: 'OK' }),
  '/2/ListUsers.do': listUsers,
  '/ListBackupJobStatus.do': (world, body) => jobList(world, body, 'backup'),
  '/ListRestoreJobStatus.do': (world, body) => jobList(world, body, 'restore'),
  '/ListBackupSets.do': listBackupSets,
  '/2/GetBackupSet.do': getBackupSet,
  '/ListBackupJobs.do': listBackupJobs,
  '/GetBackupJobReportSummary.do': reportSummary,
  '/GetUserStorageStat.do': storageStat,
};

function apiHandler(world: World, o: AhsaySimulatorOptions): express.RequestHandler {
  return (req, res) => {
    const handler = HANDLERS[req.path];
    if (!handler) return sendTomcatError(res, 404, `The requested resource [${AHSAY_API_BASE}${req.path}] is not available`);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendTomcatError(res, 405, `HTTP method ${req.method} is not supported by this URL`);
    }
    try {
      const body = parseBody(req);
      if (str(body, 'SysUser') !== o.sysUser || str(body, 'SysPwd') !== o.sysPwd) {
        throw new ProductError(INCORRECT_CREDENTIALS_MESSAGE, CREDENTIALS_EXPT_TYPE);
      }
      sendJson(res, 200, handler(world, body));
    } catch (err) {
      if (err instanceof InjectedStatus) {
        return sendJson(res, err.status, { Status: 'Error', Message: http.STATUS_CODES[err.status] ?? 'Error', ExptType: 'com.ahsay.sim.InjectedFault' });
      }
      if (!(err instanceof ProductError)) throw err;
      productError(res, err);
    }
  };
}

/** An injected HTTP status for one call (see AhsayFaults). */
class InjectedStatus extends Error {
  constructor(readonly status: number) {
    super(`injected HTTP ${status}`);
  }
}

function listUsers(world: World, body: Body): unknown {
  const { s } = world;
  if (world.productFaults.fullUserListStatus > 0 && !flag(body, 'LoginNameOnly')) throw new InjectedStatus(world.productFaults.fullUserListStatus);
  const search = str(body, 'searchStr');
  const clientType = str(body, 'ClientType');
  const users: unknown[] = [];
  for (let i = 0; i < s.users; i++) {
    const login = loginOf(i);
    if (search && !login.includes(search)) continue;
    // Only the full record needs the drawn facts; a name-only list stays cheap at any size.
    if (flag(body, 'LoginNameOnly') && !clientType) {
      users.push({ LoginName: login });
      continue;
    }
    const user = userAt(s, i);
    if (clientType && user.clientType !== clientType) continue;
    if (flag(body, 'LoginNameOnly')) users.push({ LoginName: login });
    else if (flag(body, 'ClientTypeOnly')) users.push({ ID: userId(s, user), LoginName: login, ClientType: user.clientType });
    else users.push(userJson(s, user));
  }
  return { Status: 'OK', User: users };
}

function userId(s: Settings, user: AhsayUser): string {
  return String(1_600_000_000_000 + Math.floor(draws(s.seed, 'user-id', user.index)[0]! * 80_000_000_000));
}

function userJson(s: Settings, user: AhsayUser): Record<string, unknown> {
  const r = draws(s.seed, 'user-json', user.index);
  // The quota's size comes as a number or, for some users, as a string of digits.
  const quota = user.index % 3 === 2 ? String(user.quotaBytes) : user.quotaBytes;
  return {
    ID: userId(s, user),
    LoginName: user.login,
    Alias: user.login.replace(/^./, (c) => c.toUpperCase()),
    Owner: user.owner,
    ClientType: user.clientType,
    Type: r[0]! < 0.9 ? 'PAID' : 'TRIAL',
    Status: user.status,
    RegistrationDate: Number(userId(s, user)),
    QuotaList: [{ Enabled: true, Quota: quota, DestinationName: 'AhsayCBS', DestinationKey: 'OBS' }],
  };
}

function knownUser(world: World, body: Body): AhsayUser {
  const login = required(body, 'LoginName');
  const user = userByLogin(world.s, login);
  if (!user) throw new ProductError(`User '${login}' does not exist`, JSON_EXPT_TYPE);
  return user;
}

/**
 * A backup set's settings as GetBackupSet.do and ListBackupSets.do with ListAll give them: the
 * schedules under ScheduleSettings (fields of AddSchedule / UpdateSchedule), the destinations under
 * DestinationSettings.DestinationList. The switch comes as a boolean or, for some users, as the
 * string "true"/"false" (the product's mixed types).
 */
function setSettings(s: Settings, user: AhsayUser, set: AhsayBackupSet): Record<string, unknown> {
  const periodic = s.backupIntervalMs < DAY_MS;
  const enabled = user.index % 2 === 1 ? String(set.scheduleEnabled) : set.scheduleEnabled;
  return {
    ID: set.id,
    Name: set.name,
    Type: 'FILE',
    Owner: user.owner,
    ScheduleSettings: {
      Enabled: enabled,
      ScheduleList: [
        {
          ID: `${set.id}-schedule`,
          Name: periodic ? 'Periodic' : 'Daily',
          Type: 'DAILY',
          BackupInterval: periodic ? Math.round(s.backupIntervalMs / MINUTE_MS) : -1,
          Time: { Hour: Math.floor(set.phase / HOUR_MS) % 24, Minute: Math.floor(set.phase / MINUTE_MS) % 60, Duration: -1 },
          FullBackup: true,
        },
      ],
    },
    DestinationSettings: { DestinationList: [{ '@class': 'com.ahsay.obx.cxp.cloud.OBS', Id: set.destinationId, Name: 'AhsayCBS' }] },
  };
}

function listBackupSets(world: World, body: Body): unknown {
  const user = knownUser(world, body);
  const all = flag(body, 'ListAll');
  return { Status: 'OK', Data: user.backupSets.map((set) => (all ? setSettings(world.s, user, set) : { Type: 'FILE', ID: set.id, Name: set.name })) };
}

function getBackupSet(world: World, body: Body): unknown {
  const user = knownUser(world, body);
  const id = required(body, 'BackupSetID');
  const set = user.backupSets.find((candidate) => candidate.id === id);
  if (!set) throw new ProductError(`Backup set '${id}' does not exist`, JSON_EXPT_TYPE);
  return { Status: 'OK', Data: setSettings(world.s, user, set) };
}

/** The runs of `user` that started on the last historyDays days and today, per set. */
function runHistory(world: World, user: AhsayUser): Map<AhsayBackupSet, Run[]> {
  const now = world.s.clock();
  const today = world.zone.today(now);
  const history = new Map<AhsayBackupSet, Run[]>(user.backupSets.map((set) => [set, []]));
  for (let back = world.s.historyDays; back >= 0; back--) {
    for (const run of backupRuns(world, user, nextDate(today, -back), now)) history.get(run.set)!.push(run);
  }
  return history;
}

function runId(world: World, run: Run): string {
  return new DayFormatter(world.zone, world.zone.today(run.start)).time(run.start).replace(/[ :]/g, '-');
}

function listBackupJobs(world: World, body: Body): unknown {
  const user = knownUser(world, body);
  const data = [...runHistory(world, user)].map(([set, runs]) => ({ BackupJob: runs.map((run) => runId(world, run)), BackupSetID: set.id, Removed: false }));
  return { Status: 'OK', Data: data };
}

/** The report summary of one run; Data is an object or, for some users, that object as JSON text (the reference types Data as a String). */
function reportSummary(world: World, body: Body): unknown {
  const user = knownUser(world, body);
  const setId = required(body, 'BackupSetID');
  const jobId = required(body, 'BackupJobID');
  const set = user.backupSets.find((candidate) => candidate.id === setId);
  const date = jobId.slice(0, 10);
  const run = set && /^\d{4}-\d{2}-\d{2}$/.test(date) ? backupRuns(world, user, date, world.s.clock()).find((r) => r.set === set && runId(world, r) === jobId) : undefined;
  if (!run) throw new ProductError(`Backup job '${jobId}' of backup set '${setId}' not found`, 'com.ahsay.obs.core.dbs.BackupJobNotFoundExpt');
  const format = new DayFormatter(world.zone, date);
  const running = run.status === 'BS_STILL_RUNNING';
  const report = {
    ID: jobId,
    StartTime: format.time(run.start),
    EndTime: running ? '' : format.time(run.end),
    ...(world.productFaults.summaryWithoutStatus ? {} : { BackupJobStatus: run.status }),
    NumOfWarnEntries: run.status === 'BS_STOP_SUCCESS_WITH_WARNING' ? 3 : 0,
    NumOfErrorEntries: run.status === 'BS_STOP_SUCCESS_WITH_ERROR' ? 2 : 0,
    NumOfNewFiles: 12,
    TotalNewFilesSize: run.bytes,
  };
  return { Status: 'OK', Data: user.index % 2 === 1 ? JSON.stringify(report) : report };
}

/** k/M/G text as the product writes its sizes for people. */
function humanSize(bytes: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

function storageStat(world: World, body: Body): unknown {
  const user = knownUser(world, body);
  const month = required(body, 'YearMonth');
  if (!/^\d{4}-\d{2}$/.test(month)) throw new ProductError(`Unparseable date: "${month}"`, 'java.text.ParseException');
  const total = Math.floor(user.quotaBytes * user.usedShare);
  const data = Math.floor(total * 0.8);
  return {
    Status: 'OK',
    Data: [
      {
        YearMonth: month,
        AvgDataSize: humanSize(data),
        AvgDataRawSize: String(data),
        AvgRetainSize: humanSize(total - data),
        AvgRetainRawSize: String(total - data),
        AvgTotalStorageSize: humanSize(total),
        AvgTotalStorageRawSize: String(total),
      },
    ],
  };
}

function jobList(world: World, body: Body, kind: 'backup' | 'restore'): unknown {
  const login = required(body, 'LoginName');
  const date = requiredDate(body, kind === 'backup' ? 'BackupDate' : 'RestoreDate');
  if (!userByLogin(world.s, login)) throw new ProductError(`User '${login}' does not exist`, JSON_EXPT_TYPE);
  const seen = world.requestsByDate.get(date);
  if (seen !== undefined || world.requestsByDate.size < MAX_TRACKED_DATES) world.requestsByDate.set(date, (seen ?? 0) + 1);
  return { Status: 'OK', Data: recordsFor(world, kind, login, date) };
}

/** Tomcat's own error page, which is what the servlet container answers outside the API's JSON. */
function sendTomcatError(res: express.Response, status: number, message: string): void {
  const reason = http.STATUS_CODES[status] ?? 'Error';
  const html =
    `<!doctype html><html lang="en"><head><title>HTTP Status ${status} – ${reason}</title></head>` +
    `<body><h1>HTTP Status ${status} – ${reason}</h1><hr class="line" /><p><b>Type</b> Status Report</p>` +
    `<p><b>Message</b> ${escapeHtml(message)}</p><hr class="line" /><h3>Apache Tomcat</h3></body></html>`;
  res.status(status).setHeader('Content-Type', 'text/html;charset=utf-8');
  res.send(html);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function controlRouter(world: World): express.Router {
  const router = express.Router();
  router.post('/fail-next', (req, res) => {
    const login = (req.body as { login?: unknown } | undefined)?.login;
    if (login !== undefined && (typeof login !== 'string' || !userByLogin(world.s, login))) {
      return sendJson(res, 404, { error: `no backup user ${String(login)}` });
    }
    try {
      sendJson(res, 200, failNext(world, login));
    } catch (err) {
      sendJson(res, 409, { error: (err as Error).message });
    }
  });
  router.get('/info', (_req, res) =>
    sendJson(res, 200, {
      users: world.s.users,
      timezone: world.s.zone,
      today: world.zone.today(world.s.clock()),
      requestsByDate: Object.fromEntries(world.requestsByDate),
    }),
  );
  return router;
}

export const DEMO_AHSAY_SYS_USER = 'demo-api';
export const DEMO_AHSAY_SYS_PWD = 'demo-api-password';
export const DEMO_AHSAY_TIMEZONE = 'Asia/Hong_Kong';

/** The demo's AhsayCBS: 8 users in Hong Kong time, a backup per set every 20 minutes, restores now and then. */
export function startDemo(listen: { host: string; port: number }): Promise<RunningSimulator> {
  const sim = createAhsaySimulator({
    sysUser: DEMO_AHSAY_SYS_USER,
    sysPwd: DEMO_AHSAY_SYS_PWD,
    users: 8,
    timezone: DEMO_AHSAY_TIMEZONE,
    backupIntervalMs: 20 * MINUTE_MS,
    backupDurationMs: 4 * MINUTE_MS,
    restoreIntervalMs: 30 * MINUTE_MS,
    restoreChance: 0.4,
    restoreDurationMs: 3 * MINUTE_MS,
    // The vendor's typos in times stay in the tests and fault scenarios; a newcomer's first look at
    // the demo's log should not read as something broken.
    badTimeRate: 0,
    // A stopped schedule, a switched-off one, a suspended user and two users near their quota.
    inventoryCases: true,
  });
  return startSimulator(sim.app, listen);
}

/** This product in the demo: its name (the simulators' flag and product argument), title and default port. */
export const demo = { product: 'ahsay', title: 'AhsayCBS', port: 19103, start: startDemo } as const satisfies DemoDefinition;

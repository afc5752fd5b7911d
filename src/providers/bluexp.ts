/**
 * NetApp BlueXP backup and recovery: backup and restore jobs, volume protection, restore points and
 * backup storage of one account, read through one Connector (agent).
 *
 * API calls of one collection (under <url>/account/{accountId}/providers/cloudmanager_cbs/api/v1):
 * GET /job and GET /restore/status at once, then GET /job/{jobId} only for listed jobs that came
 * without their `data` (newest first, at most MAX_DETAIL_REQUESTS; finished ones are remembered).
 * Protection, restore points and storage come from GET /backup/working-environment (once GET /job
 * has answered) and, per working environment, GET /backup/working-environment/{id}/volume, each read
 * again only when its last answer is older than INVENTORY_TTL_MS; their names also name the volume
 * ids jobs carry.
 * A token from the BlueXP authentication service (refresh-token or client-credentials grant) is
 * requested on the first collection and again shortly before it expires or after a 401.
 */
import type { LRUCache } from 'lru-cache';
import { lruCache } from '../lru';
import type { ResolvedBlock } from '../config/blocks';
import { defineProviderBlock, httpUrl, nonEmpty, oneOf, requiredWithSecret } from '../config/blocks';
import { CollectError } from '../http/errors';
import { parseOAuthTokenAnswer, tokenAuth } from '../http/token';
import type { Token } from '../http/token';
import type { Job, JobKind, JobState, ProductAlert, ResourceProtection, RestorePoint, StateTable, StorageUsage } from '../model';
import { mapStatus, worstOf } from '../model';
import { isObject, quoteForMessage } from '../text';
import type { MappingSink } from './kit';
import { ProblemLog, inSlices, objectWithId } from './kit';
import type { CollectContext, Findings } from './types';
import { defineProvider } from './types';
import { numberValue, stringField } from './util';

export const BLUEXP_JOB_STATES: StateTable = {
  PENDING: 'pending',
  IN_PROGRESS: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
};

/** Status words of the volumes of a multi-volume backup and of the batches of a file restore. */
export const BLUEXP_ITEM_STATES: StateTable = {
  SUCCESS: 'succeeded',
  FAILED: 'failed',
  PENDING: 'pending',
  IN_PROGRESS: 'running',
};

/**
 * `time` has no documented unit. 1e11 seconds is the year 5138 and 1e11 milliseconds is March 1973:
 * no job of this product has either, so anything from 1e11 up is milliseconds, anything below seconds.
 */
export const MILLISECONDS_FROM = 1e11;

/** Used when the token answer has no usable expires_in; the documented lifetime is 86400 s. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

/** Detail requests (GET /job/{id}) one collection may make; the rest are mapped from the list entry. */
export const MAX_DETAIL_REQUESTS = 100;

/** Finished jobs' details kept between collections (they never change again). */
const DETAIL_CACHE_SIZE = 5000;
const TERMINAL_JOB_STATUSES = new Set(['COMPLETED', 'FAILED']);
/** Distinct unrecognised job types logged per target; beyond it they are counted silently. */
const MAX_LOGGED_TYPES = 100;
/** The suffix a Connector id carries in x-agent-id (the Connector's client id does not). */
const AGENT_ID_SUFFIX = 'clients';


export function apiPrefix(accountId: string): string {
  return `/account/${encodeURIComponent(accountId)}/providers/cloudmanager_cbs/api/v1`;
}

/**
 * The x-agent-id value for a Connector id. The API wants the Connector id as BlueXP shows it,
 * ending in "clients"; the Connector's client id is the same string without it, and both get
 * configured in practice, so the suffix is added when missing.
 */
export function normalizeAgentId(agentId: string): string {
  const id = agentId.trim();
  return id.endsWith(AGENT_ID_SUFFIX) ? id : `${id}${AGENT_ID_SUFFIX}`;
}

/** Unix seconds of a `time` value (seconds or milliseconds, see MILLISECONDS_FROM); undefined if unusable. */
export function timeToSeconds(value: unknown): number | undefined {
  const number = numberValue(value);
  if (number === undefined || number <= 0) return undefined;
  return number >= MILLISECONDS_FROM ? number / 1000 : number;
}

/**
 * A value the product writes either as a list or, when it holds one element, as that element alone
 * (the job/{jobId} page's example shows both `"job": {...}` and `"volume": {...}`).
 */
export function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value === undefined || value === null) return [];
  return [value];
}

/** The jobs of a `{"job": ...}` answer, whichever shape `job` has. */
export function jobsOf(body: unknown, where: string): unknown[] {
  if (!isObject(body)) throw new CollectError('invalid_response', `${where}: answer is not a JSON object`);
  const jobs = body.job;
  if (jobs !== undefined && jobs !== null && !isObject(jobs) && !Array.isArray(jobs)) {
    throw new CollectError('invalid_response', `${where}: "job" is neither a list nor an object`);
  }
  return asList(jobs);
}

export interface BlueXpSink extends MappingSink {
  /** A job type that names neither a backup nor a restore, counted as a backup. */
  unclassifiedType?(type: string): void;
}

/** Where a raw job came from: /restore/status lists only restores and carries no `type`. */
export type JobSource = 'job' | 'restore-status';

/**
 * Backup or restore. The type field has no documented enum, so it is read for the words "restore"
 * and "backup" first; then the data decides (data.restore, data.multi-volume-backup); anything else
 * (retention, deletion, activation jobs of the backup service) counts as a backup job.
 */
export function jobKind(raw: Record<string, unknown>, sink?: BlueXpSink): JobKind {
  const type = stringField(raw, 'type');
  if (type && /restore/i.test(type)) return 'restore';
  if (type && /backup/i.test(type)) return 'backup';
  const data = isObject(raw.data) ? raw.data : undefined;
  if (data && isObject(data.restore)) return 'restore';
  if (data && data['multi-volume-backup'] !== undefined) return 'backup';
  if (type) sink?.unclassifiedType?.(type);
  return 'backup';
}

/**
 * Resource names of the ids jobs carry, from the working environment and volume inventory; an id
 * the inventory does not know stays the id.
 */
export interface ResourceNames {
  /** `<working environment>/<volume>` of a volume's id (its file-system-id). */
  volume(id: string): string | undefined;
  /** The name of a working environment's id. */
  environment(id: string): string | undefined;
}

/** The Jobs one raw job stands for: one per volume of a backup, one per restore. */
export function mapJob(raw: unknown, sink: BlueXpSink, source: JobSource = 'job', names?: ResourceNames): Job[] {
  if (!isObject(raw)) {
    sink.problem('job is not an object');
    return [];
  }
  const id = stringField(raw, 'id');
  if (!id) {
    sink.problem('job without an id skipped');
    return [];
  }
  const startedAt = readTime(raw, `job ${id}`, sink);
  const kind = source === 'restore-status' ? 'restore' : jobKind(raw, sink);
  return kind === 'restore' ? [mapRestore(raw, id, startedAt, sink, names)] : mapBackup(raw, id, startedAt, sink, names);
}

function readTime(item: Record<string, unknown>, what: string, sink: BlueXpSink): number | undefined {
  const value = item.time;
  if (value === undefined || value === null) return undefined;
  const seconds = timeToSeconds(value);
  if (seconds === undefined) sink.problem(`${what}: time ${quoteForMessage(value)} is not a usable time`);
  return seconds;
}

/** The job's own status mapped, or undefined when it has none. */
function jobStatus(raw: Record<string, unknown>, sink: BlueXpSink): { status: string; state: JobState } | undefined {
  const status = stringField(raw, 'status');
  if (!status) return undefined;
  return { status, state: itemState(BLUEXP_JOB_STATES, status, sink) };
}

function itemState(table: StateTable, status: string, sink: BlueXpSink): JobState {
  const state = mapStatus(table, status);
  if (state === 'unknown') sink.unknownStatus(status);
  return state;
}

function withoutStatus(sink: BlueXpSink): { status: string; state: JobState } {
  sink.unknownStatus('(none)');
  return { status: 'UNKNOWN', state: 'unknown' };
}

function dataOf(raw: Record<string, unknown>): Record<string, unknown> | undefined {
  return isObject(raw.data) ? raw.data : undefined;
}

/**
 * One Job per volume of a (multi-volume) backup, about `<working environment>/<volume>` as the
 * inventory names the volume's id; a job without volumes is one Job about its working environment.
 */
export function mapBackup(raw: Record<string, unknown>, id: string, startedAt: number | undefined, sink: BlueXpSink, names?: ResourceNames): Job[] {
  const own = jobStatus(raw, sink);
  const error = stringField(raw, 'error');
  const multi = dataOf(raw)?.['multi-volume-backup'];
  const volumes = isObject(multi) ? asList(multi.volume) : [];
  const base = (resource: string, status: { status: string; state: JobState }, message: string | undefined): Job => {
    const job: Job = { kind: 'backup', id, resource, state: status.state, status: status.status };
    if (startedAt !== undefined) job.startedAt = startedAt;
    if (message !== undefined) job.error = message;
    return job;
  };
  if (volumes.length === 0) {
    const environment = stringField(raw, 'working-environment-id');
    return [base((environment && names?.environment(environment)) ?? environment ?? 'unknown', own ?? withoutStatus(sink), error)];
  }
  const seen = new Set<string>();
  const jobs: Job[] = [];
  for (const volume of volumes) {
    const volumeId = isObject(volume) ? stringField(volume, 'id') : undefined;
    if (!isObject(volume) || !volumeId) {
      sink.problem(`job ${id}: a volume without an id skipped`);
      continue;
    }
    if (seen.has(volumeId)) continue;
    seen.add(volumeId);
    const word = stringField(volume, 'status');
    const status = word ? { status: word, state: itemState(BLUEXP_ITEM_STATES, word, sink) } : (own ?? withoutStatus(sink));
    // The job's message explains a failed volume only when the volume has none of its own.
    const message = stringField(volume, 'error') ?? (status.state === 'failed' ? error : undefined);
    jobs.push(base(names?.volume(volumeId) ?? volumeId, status, message));
  }
  return jobs;
}

/**
 * One Job per restore. A file restore's batches are parts of it: without a job status the worst
 * batch speaks for it, and a restore reported COMPLETED while a batch FAILED is a `warning`.
 */
export function mapRestore(raw: Record<string, unknown>, id: string, startedAt: number | undefined, sink: BlueXpSink, names?: ResourceNames): Job {
  const restore = dataOf(raw)?.restore;
  const details = isObject(restore) ? restore : {};
  const batches = asList(details.batch).filter(isObject);
  const batchStatuses = batches.flatMap((batch) => {
    const word = stringField(batch, 'status');
    return word ? [{ status: word, state: itemState(BLUEXP_ITEM_STATES, word, sink), batch }] : [];
  });
  let status = jobStatus(raw, sink);
  if (!status && batchStatuses.length > 0) {
    const worst = worstOf(batchStatuses);
    status = { status: worst.status, state: worst.state };
  }
  status ??= withoutStatus(sink);
  const failedBatch = batchStatuses.find((b) => b.state === 'failed');
  const state: JobState = status.state === 'succeeded' && failedBatch ? 'warning' : status.state;
  const job: Job = { kind: 'restore', id, resource: restoreResource(raw, details, names), state, status: status.status };
  const start = startedAt ?? earliest(batches.map((batch) => readTime(batch, `job ${id} batch`, sink)));
  if (start !== undefined) job.startedAt = start;
  const error = stringField(raw, 'error') ?? (failedBatch ? stringField(failedBatch.batch, 'error') : undefined);
  if (error !== undefined) job.error = error;
  return job;
}

function earliest(times: Array<number | undefined>): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.min(...known) : undefined;
}

/**
 * What a restore is about: the restored volume as "<working environment>/<volume>" (volume names
 * repeat across working environments), from the source, else the target; file paths never (unbounded).
 * A volume id or working environment id the inventory knows takes the inventory's name, so that a
 * restore names a volume as its protection and restore points do.
 */
export function restoreResource(raw: Record<string, unknown>, restore: Record<string, unknown>, names?: ResourceNames): string {
  for (const side of [restore.source, restore.target]) {
    if (!isObject(side)) continue;
    const volumeName = stringField(side, 'volume-name');
    const volumeId = stringField(side, 'volume-id');
    if (!volumeName && !volumeId) continue;
    // The inventory's name of an id wins over the job's own names: those may repeat (see volumesOf, workingEnvironmentsOf).
    const known = volumeId !== undefined ? names?.volume(volumeId) : undefined;
    if (known) return known;
    const environmentId = stringField(side, 'working-environment-id');
    const environment = (environmentId && names?.environment(environmentId)) || stringField(side, 'working-environment-name') || environmentId;
    const volume = volumeName ?? volumeId!;
    return environment ? `${environment}/${volume}` : volume;
  }
  const environment = stringField(raw, 'working-environment-id');
  return (environment && names?.environment(environment)) ?? environment ?? 'unknown';
}

export interface SourcedJob {
  raw: unknown;
  source: JobSource;
}

/**
 * GET /job is the list of record: every job once, restores included. GET /restore/status adds the
 * restores /job does not list, and lends its `data` to a /job entry that came without one. One id
 * is one job: duplicates are dropped, the first seen kept.
 */
export function mergeJobLists(listed: readonly unknown[], restoreStatus: readonly unknown[]): SourcedJob[] {
  const restoresById = new Map<string, Record<string, unknown>>();
  for (const item of restoreStatus) {
    const id = isObject(item) ? stringField(item, 'id') : undefined;
    if (id && isObject(item) && !restoresById.has(id)) restoresById.set(id, item);
  }
  const seen = new Set<string>();
  const out: SourcedJob[] = [];
  for (const item of listed) {
    const id = isObject(item) ? stringField(item, 'id') : undefined;
    if (id !== undefined) {
      if (seen.has(id)) continue;
      seen.add(id);
    }
    const restore = id !== undefined ? restoresById.get(id) : undefined;
    if (isObject(item) && restore && !isObject(item.data) && isObject(restore.data)) {
      out.push({ raw: { ...item, data: restore.data }, source: 'job' });
    } else {
      out.push({ raw: item, source: 'job' });
    }
  }
  for (const [id, item] of restoresById) {
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ raw: item, source: 'restore-status' });
  }
  // Entries without an id are kept so that mapJob reports them.
  for (const item of restoreStatus) if (!isObject(item) || !stringField(item, 'id')) out.push({ raw: item, source: 'restore-status' });
  return out;
}

/** Whether a listed job must be read again with GET /job/{id}: it came without `data` and is recent enough to count. */
export function needsDetails(raw: unknown, lookbackStart: number): boolean {
  if (!isObject(raw) || !stringField(raw, 'id') || isObject(raw.data)) return false;
  const started = timeToSeconds(raw.time);
  return started === undefined || started >= lookbackStart;
}

// ---------------------------------------------------------------------------------------------
// Working environments and volumes: protection, restore points, storage (pure mappings)

/** The backup-enablement-status of a working environment whose backup is on (NetApp's Terraform provider checks for it). */
export const BACKUP_ENABLED = 'ON';
/**
 * Volume backup-status words in which the volume is backed up on its policy's schedule. cbs.json
 * documents no values; these and KNOWN_VOLUME_STATUSES are compared without regard to case.
 */
export const PROTECTED_VOLUME_STATUSES: ReadonlySet<string> = new Set(['ACTIVE']);
/** Volume backup-status words known not to mean "backed up now" (paused, off, failed...); others are logged once. */
const KNOWN_VOLUME_STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'PAUSED', 'INACTIVE', 'FAILED', 'NONE']);
const KNOWN_ENABLEMENT_STATUSES: ReadonlySet<string> = new Set(['ON', 'OFF']);
/** The status of a volume the inventory lists without a backup-status. */
export const NO_BACKUP_STATUS = 'NONE';

/**
 * The period of each backup-policy rule label. A month is taken as 31 days and a year as 366, the
 * longest each can be, so that twice the interval never flags a backup that ran on time.
 */
export const RULE_LABEL_SECONDS: Readonly<Record<string, number>> = {
  hourly: 3600,
  daily: 86_400,
  weekly: 7 * 86_400,
  monthly: 31 * 86_400,
  yearly: 366 * 86_400,
};

/**
 * Bytes of a GB of used-capacity-gb. The API schema (cbs.json 2.0.6) and its reference page give the
 * field, a string, no unit but its name and no byte-valued alternative, so the name is taken at its
 * word: a decimal GB (if NetApp meant GiB, usage is under-stated by at most 7 %).
 */
export const BYTES_PER_GB = 1e9;

/** Product alert types from the working environment counts. */
export const ALERT_FAILED_VOLUMES = 'volume_backups_failed';
export const ALERT_VOLUMES_NOT_BACKED_UP = 'volumes_not_backed_up';

/** How long the working environment and volume lists are reused: they change slowly, each costs a request. */
export const INVENTORY_TTL_MS = 10 * 60_000;
/** Working environments read at most; a longer list is cut there, and a warning says so. */
export const MAX_WORKING_ENVIRONMENTS = 1000;
/** Volumes kept per working environment (an ONTAP cluster holds at most a few thousand). */
export const MAX_VOLUMES_PER_ENVIRONMENT = 5000;
/**
 * Volumes kept across all working environments of a target, cached lists included: ten times the
 * default max_resources, so that the worst volumes are still among those read.
 */
export const MAX_VOLUMES = 50_000;

/** A non-negative whole number from a number or a string of digits (the schema writes counts as strings). */
export function countValue(value: unknown): number | undefined {
  const number = numberValue(value);
  return number !== undefined && Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

/** Bytes of a size in GB (number or numeric string); undefined for anything else. */
export function gbToBytes(value: unknown): number | undefined {
  const gb = numberValue(value);
  return gb !== undefined && gb >= 0 ? Math.round(gb * BYTES_PER_GB) : undefined;
}

/**
 * Seconds between two scheduled backups under a backup policy: the period of its shortest rule label
 * that keeps copies (retention above 0). Undefined when no rule has a known label; unknown labels
 * (custom ONTAP SnapMirror labels) are reported.
 */
export function scheduleIntervalOf(policy: unknown, sink: MappingSink, what: string): number | undefined {
  if (!isObject(policy)) return undefined;
  let shortest: number | undefined;
  for (const rule of asList(policy.rule)) {
    if (!isObject(rule)) continue;
    const label = stringField(rule, 'label');
    if (!label) continue;
    const retention = countValue(rule.retention);
    if (retention === 0) continue;
    const seconds = Object.prototype.hasOwnProperty.call(RULE_LABEL_SECONDS, label.toLowerCase()) ? RULE_LABEL_SECONDS[label.toLowerCase()] : undefined;
    if (seconds === undefined) {
      sink.problem(`${what}: backup policy rule label ${quoteForMessage(label)} has no known period`);
      continue;
    }
    shortest = Math.min(shortest ?? Infinity, seconds);
  }
  return shortest;
}

/** What GET /backup/working-environment says of one working environment. */
export interface WorkingEnvironment {
  id: string;
  /**
   * Its name, else its id; `<name> (<id>)` when another working environment of the list has the same
   * name. The first part of its volumes' resource names and the vault label.
   */
  name: string;
  /** backup-enablement-status as written ('UNKNOWN' when absent). */
  status: string;
  enabled: boolean;
  backedUpVolumes?: number;
  totalVolumes?: number;
  failedVolumes?: number;
  usedBytes?: number;
  /** Seconds between backups under the working environment's default policy. */
  intervalSeconds?: number;
}

export function mapWorkingEnvironment(raw: unknown, sink: MappingSink): WorkingEnvironment | undefined {
  const found = objectWithId(raw, 'working environment', sink);
  if (!found) return undefined;
  const { fields, id } = found;
  const name = stringField(fields, 'name') ?? id;
  const status = stringField(fields, 'backup-enablement-status');
  if (!status || !KNOWN_ENABLEMENT_STATUSES.has(status.toUpperCase())) sink.unknownStatus(status ?? '(none)');
  const environment: WorkingEnvironment = { id, name, status: status ?? 'UNKNOWN', enabled: status?.toUpperCase() === BACKUP_ENABLED };
  const counts = [
    ['backed-up-volume-count', 'backedUpVolumes'],
    ['total-volumes-count', 'totalVolumes'],
    ['failed-backup-volume-count', 'failedVolumes'],
  ] as const;
  for (const [field, key] of counts) {
    const value = fields[field];
    if (value === undefined || value === null || value === '') continue;
    const count = countValue(value);
    if (count === undefined) sink.problem(`working environment ${name}: ${field} ${quoteForMessage(value)} is not a count`);
    else environment[key] = count;
  }
  const used = fields['used-capacity-gb'];
  if (used !== undefined && used !== null && used !== '') {
    const bytes = gbToBytes(used);
    if (bytes === undefined) sink.problem(`working environment ${name}: used-capacity-gb ${quoteForMessage(used)} is not a size`);
    else environment.usedBytes = bytes;
  }
  const interval = scheduleIntervalOf(fields['backup-policy'], sink, `working environment ${name}`);
  if (interval !== undefined) environment.intervalSeconds = interval;
  return environment;
}

/** The working environments of a GET /backup/working-environment answer (`{"working-environment": [...]}`). */
export function workingEnvironmentsOf(body: unknown, sink: MappingSink): WorkingEnvironment[] {
  if (!isObject(body)) throw new CollectError('invalid_response', 'GET /backup/working-environment: answer is not a JSON object');
  const list = body['working-environment'];
  if (list !== undefined && list !== null && !isObject(list) && !Array.isArray(list)) {
    throw new CollectError('invalid_response', 'GET /backup/working-environment: "working-environment" is neither a list nor an object');
  }
  const seen = new Set<string>();
  const out: WorkingEnvironment[] = [];
  for (const item of asList(list)) {
    const environment = mapWorkingEnvironment(item, sink);
    if (!environment || seen.has(environment.id)) continue;
    seen.add(environment.id);
    out.push(environment);
  }
  // Names are not unique in an account: a repeated name names each of its working environments
  // together with the id, so that neither's volumes, storage or alerts take the other's series.
  const counts = new Map<string, number>();
  for (const { name } of out) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const environment of out) if (counts.get(environment.name)! > 1 && environment.name !== environment.id) environment.name = `${environment.name} (${environment.id})`;
  return out;
}

/** What GET /backup/working-environment/{we}/volume says of one volume. */
export interface Volume {
  /** file-system-id: the id backup jobs carry; undefined when the answer has none. */
  id?: string;
  /** `<working environment>/<volume>`, the volume part qualified where the name repeats (see volumesOf). */
  resource: string;
  /** backup-status as written (NO_BACKUP_STATUS when absent). */
  status: string;
  /** Unix seconds of the newest backup (last-backup-creation-time). */
  lastBackupAt?: number;
  /** Backup copies kept (snapshot-count). */
  restorePoints?: number;
  /** Seconds between backups under the volume's policy. */
  intervalSeconds?: number;
}

/**
 * One volume of a volume list. `localName` is its name inside its working environment when the list
 * needs more than the volume's name to tell it apart (see volumesOf); by default the volume's name.
 */
export function mapVolume(raw: unknown, environment: Pick<WorkingEnvironment, 'name'>, sink: MappingSink, localName?: string): Volume | undefined {
  if (!isObject(raw)) {
    sink.problem(`a volume of working environment ${environment.name} is not an object`);
    return undefined;
  }
  const id = stringField(raw, 'file-system-id');
  const name = stringField(raw, 'name') ?? id;
  if (!name) {
    sink.problem(`a volume of working environment ${environment.name} has neither a name nor a file-system-id`);
    return undefined;
  }
  const resource = `${environment.name}/${localName ?? name}`;
  const status = stringField(raw, 'backup-status');
  if (status && !KNOWN_VOLUME_STATUSES.has(status.toUpperCase())) sink.unknownStatus(status);
  const volume: Volume = { resource, status: status ?? NO_BACKUP_STATUS };
  if (id) volume.id = id;
  const created = raw['last-backup-creation-time'];
  if (created !== undefined && created !== null && created !== '' && created !== 0) {
    const seconds = timeToSeconds(created);
    if (seconds === undefined) sink.problem(`volume ${resource}: last-backup-creation-time ${quoteForMessage(created)} is not a usable time`);
    else volume.lastBackupAt = seconds;
  }
  const snapshots = raw['snapshot-count'];
  if (snapshots !== undefined && snapshots !== null && snapshots !== '') {
    const count = countValue(snapshots);
    if (count === undefined) sink.problem(`volume ${resource}: snapshot-count ${quoteForMessage(snapshots)} is not a count`);
    else volume.restorePoints = count;
  }
  const interval = scheduleIntervalOf(raw['backup-policy'], sink, `volume ${resource}`);
  if (interval !== undefined) volume.intervalSeconds = interval;
  return volume;
}

/**
 * The volumes of a GET /backup/working-environment/{we}/volume answer (`{"volume": [...]}`), at most
 * MAX_VOLUMES_PER_ENVIRONMENT, each under a name of its own within the working environment:
 * ONTAP volume names are unique per storage VM, not per cluster, so a name the list holds more than
 * once becomes `<svm>/<volume>`, and where that still repeats (no svm, or the same svm) the
 * file-system-id is added in parentheses. One file-system-id is one volume: a volume listed twice is
 * read once (without an id, the same svm and name is the same volume).
 */
export function volumesOf(body: unknown, environment: Pick<WorkingEnvironment, 'name'>, sink: MappingSink): Volume[] {
  const where = `GET /backup/working-environment/{we}/volume of ${environment.name}`;
  if (!isObject(body)) throw new CollectError('invalid_response', `${where}: answer is not a JSON object`);
  const list = body.volume;
  if (list !== undefined && list !== null && !isObject(list) && !Array.isArray(list)) {
    throw new CollectError('invalid_response', `${where}: "volume" is neither a list nor an object`);
  }
  const items = asList(list);
  if (items.length > MAX_VOLUMES_PER_ENVIRONMENT) {
    sink.problem(`working environment ${environment.name} lists ${items.length} volumes; the first ${MAX_VOLUMES_PER_ENVIRONMENT} are read`);
  }
  interface Entry {
    raw: unknown;
    id?: string;
    name?: string;
    svm?: string;
  }
  const seen = new Set<string>();
  const entries: Entry[] = [];
  for (const raw of items.slice(0, MAX_VOLUMES_PER_ENVIRONMENT)) {
    if (!isObject(raw)) {
      entries.push({ raw });
      continue;
    }
    const id = stringField(raw, 'file-system-id');
    const name = stringField(raw, 'name') ?? id;
    const svm = stringField(raw, 'svm');
    // The JSON text of the tuple cannot mistake an id for a name.
    const key = JSON.stringify(id !== undefined ? [id] : [svm ?? null, name ?? null]);
    if (name !== undefined && seen.has(key)) continue;
    seen.add(key);
    entries.push({ raw, id, name, svm });
  }
  const count = (names: Array<string | undefined>): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const name of names) if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
    return counts;
  };
  const byName = count(entries.map((e) => e.name));
  const qualified = entries.map((e) => (e.name !== undefined && byName.get(e.name)! > 1 && e.svm !== undefined ? `${e.svm}/${e.name}` : e.name));
  const byQualified = count(qualified);
  const out: Volume[] = [];
  entries.forEach((entry, i) => {
    const local = qualified[i];
    const unique = local === undefined || byQualified.get(local)! === 1 || entry.id === undefined ? local : `${local} (${entry.id})`;
    const volume = mapVolume(entry.raw, environment, sink, unique);
    if (volume) out.push(volume);
  });
  return out;
}

/**
 * A volume's protection: backed up on a schedule when its working environment's backup is on and
 * its own backup-status says so. In a working environment whose backup is not on, the working
 * environment's word is the status. The interval is the volume's policy's, else the working
 * environment's default policy's.
 */
export function volumeProtection(volume: Volume, environment: WorkingEnvironment): ResourceProtection {
  const protection: ResourceProtection = environment.enabled
    ? { resource: volume.resource, protected: PROTECTED_VOLUME_STATUSES.has(volume.status.toUpperCase()), status: volume.status }
    : { resource: volume.resource, protected: false, status: environment.status };
  const interval = volume.intervalSeconds ?? environment.intervalSeconds;
  if (interval !== undefined) protection.scheduleIntervalSeconds = interval;
  return protection;
}

/**
 * A volume's backup copies as one counted restore point in its working environment's vault, created
 * at last-backup-creation-time. Undefined when the volume has no backup time; a count without a time
 * is reported (the copies exist, but their age is not known).
 */
export function volumeRestorePoint(volume: Volume, environment: WorkingEnvironment, sink: MappingSink): RestorePoint | undefined {
  if (volume.lastBackupAt === undefined) {
    if (volume.restorePoints) sink.problem(`volume ${volume.resource}: snapshot-count ${volume.restorePoints} without a last-backup-creation-time; its restore points are not counted`);
    return undefined;
  }
  return {
    id: volume.id ?? volume.resource,
    resource: volume.resource,
    vault: environment.name,
    state: 'available',
    createdAt: volume.lastBackupAt,
    count: volume.restorePoints ?? 1,
  };
}

/** Storage and the product's own counts of a working environment, as usage and alerts (absent values stay absent). */
export function environmentFindings(environment: WorkingEnvironment): { storage?: StorageUsage; alerts: ProductAlert[] } {
  const alerts: ProductAlert[] = [];
  if (environment.failedVolumes) alerts.push({ resource: environment.name, type: ALERT_FAILED_VOLUMES, count: environment.failedVolumes });
  const { totalVolumes, backedUpVolumes } = environment;
  if (totalVolumes !== undefined && backedUpVolumes !== undefined && totalVolumes > backedUpVolumes) {
    alerts.push({ resource: environment.name, type: ALERT_VOLUMES_NOT_BACKED_UP, count: totalVolumes - backedUpVolumes });
  }
  return environment.usedBytes === undefined ? { alerts } : { storage: { vault: environment.name, usedBytes: environment.usedBytes }, alerts };
}

/** The inventory of one collection: working environments with their volumes. */
export interface Inventory {
  environments: ReadonlyArray<{ environment: WorkingEnvironment; volumes: readonly Volume[] }>;
}

/** Ids to resource names from the inventory: volumes by file-system-id, working environments by id. */
export function namesOf(inventory: Inventory): ResourceNames {
  const names = nameMaps(inventory);
  for (const { environment, volumes } of inventory.environments) names.add(volumes.map((volume) => ({ volume, environment })));
  return names;
}

function nameMaps(inventory: Inventory): ResourceNames & { add(pairs: ReadonlyArray<{ volume: Volume; environment: WorkingEnvironment }>): void } {
  const volumes = new Map<string, string>();
  const environments = new Map<string, string>();
  for (const { environment } of inventory.environments) environments.set(environment.id, environment.name);
  return {
    add(pairs) {
      for (const { volume } of pairs) if (volume.id && !volumes.has(volume.id)) volumes.set(volume.id, volume.resource);
    },
    volume: (id) => volumes.get(id),
    environment: (id) => environments.get(id),
  };
}

/** The inventory's volumes with their working environments, in order. */
function volumePairs(inventory: Inventory): Array<{ volume: Volume; environment: WorkingEnvironment }> {
  return inventory.environments.flatMap(({ environment, volumes }) => volumes.map((volume) => ({ volume, environment })));
}

/** namesOf, a slice at a time (see inSlices): the inventory may hold MAX_VOLUMES volumes. */
export async function namesInSlices(ctx: Pick<CollectContext, 'signal'>, inventory: Inventory): Promise<ResourceNames> {
  const names = nameMaps(inventory);
  await inSlices(ctx, volumePairs(inventory), (slice) => names.add(slice));
  return names;
}

/** Everything the inventory reports: protection and restore points per volume, storage and alerts per working environment. */
export function inventoryFindings(inventory: Inventory, sink: MappingSink): Required<Pick<Findings, 'resources' | 'restorePoints' | 'storage' | 'alerts'>> {
  return { ...environmentsFindings(inventory), ...volumeFindings(volumePairs(inventory), sink) };
}

function environmentsFindings(inventory: Inventory): { storage: StorageUsage[]; alerts: ProductAlert[] } {
  const found = { storage: [] as StorageUsage[], alerts: [] as ProductAlert[] };
  for (const { environment } of inventory.environments) {
    const { storage, alerts } = environmentFindings(environment);
    if (storage) found.storage.push(storage);
    found.alerts.push(...alerts);
  }
  return found;
}

function volumeFindings(pairs: ReadonlyArray<{ volume: Volume; environment: WorkingEnvironment }>, sink: MappingSink): { resources: ResourceProtection[]; restorePoints: RestorePoint[] } {
  const found = { resources: [] as ResourceProtection[], restorePoints: [] as RestorePoint[] };
  for (const { volume, environment } of pairs) {
    found.resources.push(volumeProtection(volume, environment));
    const point = volumeRestorePoint(volume, environment, sink);
    if (point) found.restorePoints.push(point);
  }
  return found;
}

/** Reports inventoryFindings a slice at a time (see inSlices). */
export async function reportInventory(ctx: Pick<CollectContext, 'signal' | 'report'>, inventory: Inventory, sink: MappingSink): Promise<void> {
  ctx.report(environmentsFindings(inventory));
  await inSlices(ctx, volumePairs(inventory), (slice) => ctx.report(volumeFindings(slice, sink)));
}

// ---------------------------------------------------------------------------------------------
// Configuration and authentication

/** Documented defaults of the NetApp BlueXP (Console) authentication service. */
export const BLUEXP_DEFAULTS = {
  token_url: 'https://netapp-cloud-account.auth0.com/oauth/token',
  audience: 'https://api.cloud.netapp.com',
  /** The client id of the BlueXP Console, the same for every customer (refresh-token grant). */
  refresh_client_id: 'Mu0V1ywgYteI6w1MbD15fKfVIUrNXGWC',
} as const;

const blueXpBlock = defineProviderBlock({
  description:
    'NetApp BlueXP backup and recovery: account, Connector (agent) and credentials. Give refresh_token (refresh-token grant) or client_id with client_secret (client-credentials grant of a service account).',
  fields: {
    account_id: nonEmpty('BlueXP account id (account-xxxxxxxx).'),
    agent_id: nonEmpty('Connector (agent) id, sent as x-agent-id; with or without its "clients" suffix.'),
    token_url: httpUrl('Token endpoint of the BlueXP authentication service.').prefault(BLUEXP_DEFAULTS.token_url),
    audience: nonEmpty('Audience of the token request.').prefault(BLUEXP_DEFAULTS.audience),
    client_id: nonEmpty(
      `Client id of the token request: a service account's client id with client_secret; with refresh_token it defaults to the BlueXP Console's (${BLUEXP_DEFAULTS.refresh_client_id}).`,
    ).optional(),
  },
  secrets: {
    refresh_token: { required: false, description: 'Refresh token of a BlueXP user (refresh-token grant).' },
    client_secret: { required: false, description: 'Client secret of a BlueXP service account (client-credentials grant; needs client_id).' },
  },
  refine(block, ctx) {
    oneOf(
      [
        { name: 'refresh_token (or refresh_token_file)', fields: ['refresh_token', 'refresh_token_file'] },
        { name: 'client_secret (or client_secret_file)', fields: ['client_secret', 'client_secret_file'] },
      ],
      true,
    )(block, ctx);
    requiredWithSecret('client_id', 'client_secret')(block, ctx);
  },
});

type BlueXpSettings = ResolvedBlock<typeof blueXpBlock>;

/** The token request body: the refresh-token grant when a refresh token is configured, else client credentials. */
export function tokenRequestBody(settings: BlueXpSettings): Record<string, string> {
  if (settings.refresh_token !== undefined) {
    return {
      grant_type: 'refresh_token',
      refresh_token: settings.refresh_token,
      client_id: settings.client_id ?? BLUEXP_DEFAULTS.refresh_client_id,
      audience: settings.audience,
    };
  }
  if (settings.client_secret === undefined || settings.client_id === undefined) {
    // The schema rejects this; reaching it means a config built around the schema.
    throw new CollectError('auth', 'neither a refresh token nor a client id with client secret is configured');
  }
  return {
    grant_type: 'client_credentials',
    client_id: settings.client_id,
    client_secret: settings.client_secret,
    audience: settings.audience,
  };
}

/** The token of a token answer; `requestedAt` (epoch ms) is when the request went out, so expiry errs early. */
export function parseTokenAnswer(body: unknown, requestedAt: number): Token {
  return parseOAuthTokenAnswer(body, requestedAt, DEFAULT_TOKEN_LIFETIME_SECONDS);
}

// ---------------------------------------------------------------------------------------------
// Collection

/** Finished jobs' details by id (they never change again). */
type DetailCache = LRUCache<string, Record<string, unknown>>;

/** GET /restore/status; a 4xx (e.g. a Connector without the endpoint) leaves restores to GET /job. */
async function readRestoreStatus(ctx: CollectContext, base: string, warn: (message: string) => void): Promise<unknown[]> {
  try {
    return jobsOf(await ctx.http.json({ path: `${base}/restore/status` }), 'GET /restore/status');
  } catch (err) {
    if (err instanceof CollectError && err.reason === 'http_4xx') {
      warn(err.message);
      return [];
    }
    throw err;
  }
}

/** Replaces listed jobs that came without `data` by their GET /job/{id} answer (newest first, bounded). */
async function fillDetails(ctx: CollectContext, base: string, jobs: SourcedJob[], cache: DetailCache): Promise<void> {
  const wanted = jobs
    .filter((j) => j.source === 'job' && needsDetails(j.raw, ctx.lookbackStart))
    .sort((a, b) => (timeToSeconds((b.raw as Record<string, unknown>).time) ?? Infinity) - (timeToSeconds((a.raw as Record<string, unknown>).time) ?? Infinity));
  if (wanted.length > MAX_DETAIL_REQUESTS) {
    ctx.log.warn({ jobs: wanted.length, limit: MAX_DETAIL_REQUESTS }, 'BlueXP jobs without details beyond the per-collection limit are counted from the list entry');
  }
  await Promise.all(
    wanted.slice(0, MAX_DETAIL_REQUESTS).map(async (entry) => {
      const summary = entry.raw as Record<string, unknown>;
      const id = stringField(summary, 'id')!;
      const cached = cache.get(id);
      if (cached) {
        entry.raw = cached;
        return;
      }
      const detail = await readDetail(ctx, base, id);
      if (!detail) return;
      const merged = { ...summary, ...detail };
      entry.raw = merged;
      if (TERMINAL_JOB_STATUSES.has(stringField(merged, 'status') ?? '')) cache.set(id, merged);
    }),
  );
}

async function readDetail(ctx: CollectContext, base: string, id: string): Promise<Record<string, unknown> | undefined> {
  let jobs: unknown[];
  try {
    jobs = jobsOf(await ctx.http.json({ path: `${base}/job/${encodeURIComponent(id)}` }), `GET /job/${id}`);
  } catch (err) {
    // A job removed between the list and this request is not worth failing the target for.
    if (err instanceof CollectError && (err.reason === 'http_4xx' || err.reason === 'invalid_response')) {
      ctx.log.warn({ job: id, err: err.message }, 'BlueXP job details unavailable; counted from the list entry');
      return undefined;
    }
    throw err;
  }
  const match = jobs.find((j) => isObject(j) && stringField(j, 'id') === id) ?? (jobs.length === 1 ? jobs[0] : undefined);
  return isObject(match) ? match : undefined;
}

/** What one target remembers of its inventory between collections (see INVENTORY_TTL_MS). */
interface InventoryState {
  /** The working environment list; `list` undefined: the call was refused. */
  environments: LRUCache<'all', { list?: WorkingEnvironment[] }>;
  /**
   * Volumes by working environment id and name (its volumes' resource names begin with the name),
   * empty when the volume list was refused. An expired list stays until replaced: it stands in while
   * a new read fails with a 4xx that is no refusal.
   */
  volumes: LRUCache<string, Volume[]>;
}

/** Refusals logged one by one per collection; more are counted in one line. */
const MAX_LOGGED_REFUSALS = 5;

function inventoryState(): InventoryState {
  // The wall clock, as the token cache's: a clock step changes when the inventory is next read, no more.
  const perf = { now: () => Date.now() };
  const clock = { perf, ttlResolution: 0 };
  return {
    environments: lruCache(1, { ttl: INVENTORY_TTL_MS, ...clock }),
    volumes: lruCache(MAX_WORKING_ENVIRONMENTS, { ttl: INVENTORY_TTL_MS, noDeleteOnStaleGet: true, ...clock }),
  };
}

/** Whether an inventory call's failure is the role's refusal: 403, while the job list was read with the same token. */
function isRefusal(err: unknown): err is CollectError {
  return err instanceof CollectError && err.status === 403;
}

/** Refusals of one collection, logged up to MAX_LOGGED_REFUSALS. */
function refusalLog(ctx: CollectContext): { refused(call: string, err: CollectError): void; flush(): void } {
  let count = 0;
  return {
    refused(call, err) {
      count++;
      if (count <= MAX_LOGGED_REFUSALS) {
        ctx.log.warn({ call, status: err.status, err: err.message }, 'BlueXP refused an inventory call; that part is left out (the Backup and recovery viewer role suffices)');
      }
    },
    flush() {
      if (count > MAX_LOGGED_REFUSALS) ctx.log.warn({ refused: count, logged: MAX_LOGGED_REFUSALS }, 'BlueXP refused more inventory calls than were logged');
    },
  };
}

/**
 * Working environments and their volumes, each list from the cache while it is younger than
 * INVENTORY_TTL_MS; undefined when the list was refused. A refusal (403) is remembered like an
 * answer, so it is asked and logged again when it expires. Another 4xx of a volume list is a
 * problem: the list read before stands in, or the working environment has no volumes this time,
 * and the list is asked for again on the next collection. Any other failure fails the collection.
 */
async function readInventory(ctx: CollectContext, base: string, state: InventoryState, sink: MappingSink): Promise<Inventory | undefined> {
  const refusals = refusalLog(ctx);
  let known = state.environments.get('all');
  if (!known) {
    const call = 'GET /backup/working-environment';
    let list: WorkingEnvironment[] | undefined;
    try {
      list = workingEnvironmentsOf(await ctx.http.json({ path: `${base}/backup/working-environment` }), sink);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      refusals.refused(call, err);
    }
    if (list && list.length > MAX_WORKING_ENVIRONMENTS) {
      ctx.log.warn({ environments: list.length, limit: MAX_WORKING_ENVIRONMENTS }, 'BlueXP working environments beyond the limit are not read');
    }
    known = list ? { list: list.slice(0, MAX_WORKING_ENVIRONMENTS) } : {};
    state.environments.set('all', known);
  }
  if (!known.list) {
    refusals.flush();
    return undefined;
  }
  // Lists kept from earlier collections take their part of MAX_VOLUMES first, in list order; the
  // lists read now take the rest as they arrive, so no more than MAX_VOLUMES are ever held.
  let budget = MAX_VOLUMES;
  const cut = (environment: WorkingEnvironment, volumes: Volume[]): Volume[] => {
    const kept = volumes.length > budget ? volumes.slice(0, budget) : volumes;
    if (kept.length < volumes.length) {
      sink.problem(`working environment ${environment.name}: ${volumes.length - kept.length} of its volumes are beyond ${MAX_VOLUMES} volumes across working environments and are not read`);
    }
    budget -= kept.length;
    return kept;
  };
  const keys = known.list.map((environment) => `${environment.id}\n${environment.name}`);
  const cachedLists = known.list.map((environment, i) => {
    const cached = state.volumes.get(keys[i]!);
    return cached && cut(environment, cached);
  });
  const environments = await Promise.all(
    known.list.map(async (environment, i) => {
      const key = keys[i]!;
      const cached = cachedLists[i];
      if (cached) return { environment, volumes: cached };
      const call = `GET /backup/working-environment/${environment.id}/volume`;
      try {
        const path = `${base}/backup/working-environment/${encodeURIComponent(environment.id)}/volume`;
        const volumes = cut(environment, volumesOf(await ctx.http.json({ path }), environment, sink));
        state.volumes.set(key, volumes);
        return { environment, volumes };
      } catch (err) {
        if (isRefusal(err)) {
          refusals.refused(call, err);
          state.volumes.set(key, []);
          return { environment, volumes: [] };
        }
        if (!(err instanceof CollectError) || err.reason !== 'http_4xx') throw err;
        const stale = state.volumes.get(key, { allowStale: true });
        const before = stale && cut(environment, stale);
        sink.problem(`working environment ${environment.name}: ${err.message}; ${before ? 'its volumes as last read' : 'no volumes'} until the list is read`);
        return { environment, volumes: before ?? [] };
      }
    }),
  );
  refusals.flush();
  return { environments };
}

export const bluexp = defineProvider({
  name: 'bluexp',
  kinds: ['backup', 'restore'],
  restorePoints: true,
  reports: { protection: true, storage: true, alerts: true },
  config: blueXpBlock,
  create(_target, settings, env) {
    const tokenUrl = new URL(settings.token_url);
    const tokenClient = env.client(tokenUrl.origin);
    const body = JSON.stringify(tokenRequestBody(settings));
    const cache = env.tokenCache(async (scope) => {
      const requestedAt = Date.now();
      const answer = await tokenClient.json(
        { method: 'POST', path: tokenUrl.pathname + tokenUrl.search, headers: { 'content-type': 'application/json' }, body },
        scope,
      );
      return parseTokenAnswer(answer, requestedAt);
    });
    const agentId = normalizeAgentId(settings.agent_id);
    const base = apiPrefix(settings.account_id);
    const details: DetailCache = lruCache(DETAIL_CACHE_SIZE);
    const problems = new ProblemLog('BlueXP');
    const loggedTypes = new Set<string>();
    let restoreStatusFailing = false;
    const inventory = inventoryState();
    return {
      auth: tokenAuth(cache, (token) => ({ authorization: `Bearer ${token}`, 'x-agent-id': agentId })),
      async collect(ctx) {
        const sink: BlueXpSink & { flush(): void } = {
          ...problems.sink(ctx),
          unclassifiedType: (type) => {
            if (loggedTypes.has(type) || loggedTypes.size >= MAX_LOGGED_TYPES) return;
            loggedTypes.add(type);
            ctx.log.info({ type }, 'BlueXP job type names neither backup nor restore; counted as a backup job');
          },
        };
        let restoreStatusFailed = false;
        const jobList = ctx.http.json({ path: `${base}/job` }).then((answer) => jobsOf(answer, 'GET /job'));
        const [listed, restores, found] = await Promise.all([
          jobList,
          readRestoreStatus(ctx, base, (message) => {
            restoreStatusFailed = true;
            // Logged when it starts failing, not on every scrape of a Connector that lacks the endpoint.
            if (!restoreStatusFailing) ctx.log.warn({ err: message }, 'BlueXP GET /restore/status refused; restores are read from GET /job only');
          }),
          // After the job list: credentials that work for it make a refusal of the inventory a
          // matter of the role, not of a token the authentication service would not give.
          jobList.then(() => readInventory(ctx, base, inventory, sink)),
        ]);
        restoreStatusFailing = restoreStatusFailed;
        const merged = mergeJobLists(listed, restores);
        await fillDetails(ctx, base, merged, details);
        // Jobs name their volumes by id: the inventory names them as its restore points and protection do.
        const names = found && (await namesInSlices(ctx, found));
        await inSlices(ctx, merged, (slice) => ctx.report({ jobs: slice.flatMap(({ raw, source }) => mapJob(raw, sink, source, names)) }));
        if (found) await reportInventory(ctx, found, sink);
        sink.flush();
      },
    };
  },
});

/**
 * Huawei Cloud Backup and Recovery (CBR): backup and restore tasks of one project, its restore
 * points (backups), its vaults' storage and status, and the protection and schedule of every
 * resource in a vault.
 *
 * API calls of one collection (all GET, paged with limit=1000 and offset; see readPages):
 * /v3/{project_id}/operation-logs?operation_type=backup&start_time=<lookback start>,
 * the same with operation_type=restore, /v3/{project_id}/backups, /v3/{project_id}/vaults,
 * /v3/{project_id}/policies?operation_type=backup, and a bounded number of
 * /v3/{project_id}/checkpoints/{id} to explain skipped backups that carry no error.
 * Authentication: an IAM token (X-Auth-Token) or AK/SK request signing.
 */
import type { LRUCache } from 'lru-cache';
import { lruCache } from '../lru';
import type { ResolvedBlock } from '../config/blocks';
import { defineProviderBlock, httpUrl, nonEmpty, oneOf, requiredWithSecret } from '../config/blocks';
import type { TargetCommon } from '../config/schema';
import type { HttpClient, RequestAuth } from '../http/client';
import { parseJsonBody } from '../http/client';
import { CollectError } from '../http/errors';
import { akskAuth } from '../http/huawei-signer';
import { TokenCache, tokenAuth } from '../http/token';
import type { Token } from '../http/token';
import type { Job, JobKind, ProductAlert, ResourceProtection, RestorePoint, RestorePointState, StateTable, StorageUsage } from '../model';
import { mapStatus } from '../model';
import { isObject, quoteForMessage } from '../text';
import type { MappingSink, Paging } from './kit';
import { ProblemLog, objectWithId, offsetPaging, readPages } from './kit';
import { longestGapSeconds } from './rrule';
import type { CollectContext, ProviderEnvironment } from './types';
import { defineProvider } from './types';
import { digitsAt, readDateTime, stringField, utcSeconds } from './util';

/** The largest page the API serves. */
export const PAGE_LIMIT = 1000;
/** 100 pages of 1,000 tasks per kind inside the lookback window: far beyond a real project, and a bound. */
export const MAX_TASK_PAGES = 100;
export const MAX_BACKUP_PAGES = 200;
const TASK_PAGING: Paging = offsetPaging(PAGE_LIMIT, MAX_TASK_PAGES, 'operation_logs');
const BACKUP_PAGING: Paging = offsetPaging(PAGE_LIMIT, MAX_BACKUP_PAGES, 'backups');
/** A project holds at most a few hundred vaults (the quota); ten pages are a bound, not a limit. */
export const MAX_VAULT_PAGES = 10;
export const MAX_POLICY_PAGES = 10;
const VAULT_PAGING: Paging = offsetPaging(PAGE_LIMIT, MAX_VAULT_PAGES, 'vaults');
const POLICY_PAGING: Paging = offsetPaging(PAGE_LIMIT, MAX_POLICY_PAGES, 'policies');
/** Checkpoint details read per collection; what they tell is remembered, so later scrapes need fewer. */
export const MAX_CHECKPOINT_LOOKUPS = 10;
const MAX_REMEMBERED_CHECKPOINTS = 5000;
const MAX_REMEMBERED_VAULTS = 10_000;
/** CBR sizes are in GB of 2^30 bytes: a "40" GB disk is an EVS volume of 40 GiB. */
export const BYTES_PER_GB = 1024 ** 3;
/**
 * A vault's billing.used and billing.allocated are in MB (billing.size in GB; the SDKs' Billing
 * model says so). MB is taken as 2^20 bytes, the same binary unit as BYTES_PER_GB, so that used and
 * capacity compare: a vault whose 100 GB are full reports used 102400.
 */
export const BYTES_PER_MB = 1024 ** 2;
/** A vault's billing.status when it takes backups; any other is a product alert vault_<status>. */
export const VAULT_AVAILABLE = 'available';
/** A resource's protect_status while the product protects it. */
const PROTECTING_STATUSES = new Set(['available', 'protecting']);
export const NO_POLICY_STATUS = 'no_policy';
export const POLICY_DISABLED_STATUS = 'policy_disabled';
/** A token answer without a usable expires_at is trusted this long (IAM tokens live 24 h). */
const FALLBACK_TOKEN_LIFETIME_MS = 3_600_000;

export const CBR_TASK_STATES: StateTable = {
  waiting: 'pending',
  running: 'running',
  success: 'succeeded',
  failed: 'failed',
  timeout: 'failed',
  skipped: 'cancelled',
};

/**
 * Checkpoint states (the checkpoint API), plus the backup list's own words: a backup being restored
 * from is still a usable restore point, and the waiting_* words are queued versions of the others.
 */
export const CBR_RESTORE_POINT_STATES: Readonly<Record<string, RestorePointState>> = {
  available: 'available',
  protecting: 'creating',
  deleting: 'deleting',
  deleted: 'deleted',
  error: 'error',
  'error-deleting': 'error',
  restoring: 'available',
  waiting_protect: 'creating',
  waiting_delete: 'deleting',
  waiting_restore: 'available',
};


// ---------------------------------------------------------------------------------------------
// Small pure helpers

/**
 * Unix seconds of a CBR time. Two shapes occur: `2019-05-23T14:35:23.584418` (microseconds, no
 * zone: UTC) and `2019-05-23T14:35:23.584+00:00` (or `Z`). Fractions are kept to the microsecond.
 */
export function parseCbrTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const quick = quickCbrTime(value);
  if (quick !== undefined) return quick;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) return undefined;
  const [, date, time, fraction, zone] = m;
  const offset = zone === undefined || zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${date}T${time}${offset}`);
  if (!Number.isFinite(ms)) return undefined;
  return ms / 1000 + (fraction ? Number(`0.${fraction}`) : 0);
}

/**
 * The shapes CBR sends (`2019-05-23T14:35:23.584418`, `2019-05-23T14:35:23.584+00:00`) read from
 * the characters, without a regex or Date.parse: a collection reads tens of thousands of them.
 * Undefined for everything else, which parseCbrTime then reads the general way.
 */
function quickCbrTime(value: string): number | undefined {
  const fields = readDateTime(value, 'T ', ':');
  const seconds = fields && utcSeconds(fields);
  if (seconds === undefined) return undefined;
  let at = 19;
  let fraction = 0;
  if (value[at] === '.') {
    let end = at + 1;
    while (end < value.length && digitsAt(value, end, 1) >= 0) end++;
    const digits = end - at - 1;
    if (digits < 1 || digits > 9) return undefined;
    fraction = Number(`0.${value.slice(at + 1, end)}`);
    at = end;
  }
  const offset = zoneOffsetAt(value, at);
  return offset === undefined ? undefined : seconds - offset + fraction;
}

/** Seconds east of UTC of the zone that ends `value` at `at` (none, `Z`, `+08:00`, `-0530`); undefined if something else does. */
function zoneOffsetAt(value: string, at: number): number | undefined {
  const rest = value.length - at;
  if (rest === 0) return 0;
  if (rest === 1) return value[at] === 'Z' ? 0 : undefined;
  const sign = value[at] === '+' ? 1 : value[at] === '-' ? -1 : 0;
  if (sign === 0 || (rest !== 6 && rest !== 5) || (rest === 6 && value[at + 3] !== ':')) return undefined;
  const hours = digitsAt(value, at + 1, 2);
  const minutes = digitsAt(value, at + rest - 2, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return undefined;
  return sign * (hours * 3600 + minutes * 60);
}

/** The operation-logs start_time parameter: `%YYYY-%mm-%ddT%HH:%MM:%SSZ`, e.g. 2018-01-01T12:00:00Z. */
export function formatStartTime(unixSeconds: number): string {
  return new Date(Math.floor(Math.max(0, unixSeconds)) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Bytes of a size the API gives in GB, as a number or a numeric string; undefined for anything else. */
export function gbToBytes(value: unknown): number | undefined {
  const gb = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(gb) || gb < 0) return undefined;
  return Math.round(gb * BYTES_PER_GB);
}

function objectField(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = obj[key];
  return isObject(value) ? value : undefined;
}

export function mapRestorePointStatus(status: string | undefined): RestorePointState {
  if (status === undefined) return 'unknown';
  return Object.prototype.hasOwnProperty.call(CBR_RESTORE_POINT_STATES, status) ? CBR_RESTORE_POINT_STATES[status]! : 'unknown';
}

/** `code: message` from error_info; the API sends empty strings for tasks without an error. */
export function errorText(errorInfo: unknown): string | undefined {
  if (!isObject(errorInfo)) return undefined;
  const code = stringField(errorInfo, 'code');
  const message = stringField(errorInfo, 'message');
  if (code && message) return `${code}: ${message}`;
  return code ?? message;
}

// ---------------------------------------------------------------------------------------------
// Tasks (operation logs)

/** What a task is about: the backed-up resource, or for a restore the resource restored to. */
export function taskResource(extra: Record<string, unknown> | undefined, kind: JobKind): string | undefined {
  const resource = extra && objectField(extra, 'resource');
  const fromResource = resource && (stringField(resource, 'name') ?? stringField(resource, 'id'));
  if (kind === 'backup') return fromResource;
  const restore = extra && objectField(extra, 'restore');
  return (restore && (stringField(restore, 'target_resource_name') ?? stringField(restore, 'target_resource_id'))) ?? fromResource;
}

export function mapTask(item: unknown, kind: JobKind, sink: MappingSink): Job | undefined {
  if (!isObject(item)) {
    sink.problem(`${kind} task is not an object`);
    return undefined;
  }
  const id = stringField(item, 'id');
  if (!id) {
    sink.problem(`${kind} task without an id`);
    return undefined;
  }
  const status = stringField(item, 'status');
  const state = mapStatus(CBR_TASK_STATES, status);
  if (state === 'unknown') sink.unknownStatus(status ?? '(none)');
  const extra = objectField(item, 'extra_info');
  let resource = taskResource(extra, kind);
  if (!resource) {
    resource = stringField(item, 'vault_name') ?? 'unknown';
    sink.problem(`${kind} task ${id} names no resource; reported as ${quoteForMessage(resource)}`);
  }
  const job: Job = { kind, id, resource, state, status: status ?? 'unknown' };
  const startField = item.started_at !== undefined && item.started_at !== null && item.started_at !== '' ? 'started_at' : 'created_at';
  const startedAt = parseCbrTime(item[startField]);
  if (startedAt !== undefined) job.startedAt = startedAt;
  else if (item[startField] !== undefined && item[startField] !== null) {
    sink.problem(`${kind} task ${id}: ${startField} ${quoteForMessage(item[startField])} is not a time`);
  }
  const finished = state === 'succeeded' || state === 'failed' || state === 'cancelled';
  const endedAt = finished ? parseCbrTime(item.ended_at) : undefined;
  if (endedAt !== undefined) job.endedAt = endedAt;
  const error = errorText(item.error_info);
  if (error) job.error = error;
  return job;
}

/** A mapped task with what the checkpoint step needs of the raw one. */
export interface MappedTask {
  job: Job;
  checkpointId?: string;
  resourceId?: string;
}

export function mapTaskPage(items: readonly unknown[], kind: JobKind, sink: MappingSink, vaults: VaultNames): MappedTask[] {
  const out: MappedTask[] = [];
  for (const item of items) {
    const job = mapTask(item, kind, sink);
    if (!job || !isObject(item)) continue;
    const vaultId = stringField(item, 'vault_id');
    const vaultName = stringField(item, 'vault_name');
    if (vaultId && vaultName) vaults.remember(vaultId, vaultName);
    const mapped: MappedTask = { job };
    const checkpointId = stringField(item, 'checkpoint_id');
    if (checkpointId) mapped.checkpointId = checkpointId;
    const extra = objectField(item, 'extra_info');
    const resource = extra && objectField(extra, 'resource');
    const resourceId = resource && stringField(resource, 'id');
    if (resourceId) mapped.resourceId = resourceId;
    out.push(mapped);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Restore points

/** Vault id -> name, learnt from the vault list (and tasks and checkpoint details); bounded. */
export class VaultNames {
  private readonly names: LRUCache<string, string>;
  constructor(limit = MAX_REMEMBERED_VAULTS) {
    this.names = lruCache(limit);
  }
  remember(id: string, name: string): void {
    this.names.set(id, name);
  }
  get(id: string): string | undefined {
    return this.names.get(id);
  }
}

/** A backup from GET /backups as a restore point; its vault is named if the name is known, else its id. */
export function mapBackup(raw: unknown, vaults: Pick<VaultNames, 'get'>, sink: MappingSink): RestorePoint | undefined {
  const found = objectWithId(raw, 'backup', sink);
  if (!found) return undefined;
  const { fields: item, id } = found;
  const createdAt = parseCbrTime(item.created_at);
  if (createdAt === undefined) {
    sink.problem(`backup ${id}: created_at ${quoteForMessage(item.created_at)} is not a time; skipped`);
    return undefined;
  }
  const status = stringField(item, 'status');
  const state = mapRestorePointStatus(status);
  if (state === 'unknown') sink.unknownStatus(status ?? '(none)');
  const vaultId = stringField(item, 'vault_id');
  const point: RestorePoint = {
    id,
    resource: stringField(item, 'resource_name') ?? stringField(item, 'resource_id') ?? 'unknown',
    vault: (vaultId && vaults.get(vaultId)) ?? vaultId ?? 'unknown',
    state,
    createdAt,
  };
  const bytes = gbToBytes(item.resource_size);
  if (bytes !== undefined) point.bytes = bytes;
  return point;
}

/** What a checkpoint detail tells: its vault, a restore point per resource, and why resources were skipped. */
export interface CheckpointDetail {
  id: string;
  vaultId?: string;
  vaultName?: string;
  restorePoints: RestorePoint[];
  /** Resource id -> `code: reason` for resources the backup skipped. */
  skipped: Map<string, string>;
}

/** Maps the answer of GET /v3/{project_id}/checkpoints/{checkpoint_id} (`{"checkpoint": {...}}`). */
export function mapCheckpoint(body: unknown, sink: MappingSink): CheckpointDetail | undefined {
  const checkpoint = isObject(body) ? objectField(body, 'checkpoint') : undefined;
  const id = checkpoint && stringField(checkpoint, 'id');
  if (!checkpoint || !id) {
    sink.problem('checkpoint answer without checkpoint.id');
    return undefined;
  }
  const vault = objectField(checkpoint, 'vault');
  const detail: CheckpointDetail = { id, restorePoints: [], skipped: new Map() };
  const vaultId = vault && stringField(vault, 'id');
  const vaultName = vault && stringField(vault, 'name');
  if (vaultId) detail.vaultId = vaultId;
  if (vaultName) detail.vaultName = vaultName;
  const status = stringField(checkpoint, 'status');
  const state = mapRestorePointStatus(status);
  if (state === 'unknown') sink.unknownStatus(status ?? '(none)');
  const createdAt = parseCbrTime(checkpoint.created_at);
  const resources = vault && Array.isArray(vault.resources) ? vault.resources : [];
  for (const resource of resources) {
    if (!isObject(resource) || createdAt === undefined) continue;
    const name = stringField(resource, 'name') ?? stringField(resource, 'id');
    if (!name) continue;
    const point: RestorePoint = { id, resource: name, vault: vaultName ?? vaultId ?? 'unknown', state, createdAt };
    const bytes = gbToBytes(resource.resource_size);
    if (bytes !== undefined) point.bytes = bytes;
    detail.restorePoints.push(point);
  }
  const skipped = vault && Array.isArray(vault.skipped_resources) ? vault.skipped_resources : [];
  for (const entry of skipped) {
    if (!isObject(entry)) continue;
    const resourceId = stringField(entry, 'id');
    const why = errorText({ code: entry.code, message: entry.reason });
    if (resourceId && why) detail.skipped.set(resourceId, why);
  }
  return detail;
}

// ---------------------------------------------------------------------------------------------
// Vaults and policies: storage, protection and schedules

/** Bytes of a size the API gives in MB, as a number or a numeric string; undefined for anything else. */
export function mbToBytes(value: unknown): number | undefined {
  const mb = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(mb) || mb < 0) return undefined;
  return Math.round(mb * BYTES_PER_MB);
}

/** A resource a vault holds, as the vault list says. */
export interface VaultResource {
  name: string;
  protectStatus: string;
}

/** What the vault list tells of one vault. */
export interface VaultInventory {
  id: string;
  name: string;
  /** billing.status (available, lock, frozen, deleting, error). */
  status?: string;
  storage: StorageUsage;
  resources: VaultResource[];
}

/** A vault from GET /v3/{project_id}/vaults; its resources are named as backups name them (name, else id). */
export function mapVault(raw: unknown, sink: MappingSink): VaultInventory | undefined {
  const found = objectWithId(raw, 'vault', sink);
  if (!found) return undefined;
  const { fields: item, id } = found;
  const name = stringField(item, 'name') ?? id;
  const billing = objectField(item, 'billing');
  const storage: StorageUsage = { vault: name };
  const used = billing && mbToBytes(billing.used);
  const capacity = billing && gbToBytes(billing.size);
  if (used !== undefined) storage.usedBytes = used;
  if (capacity !== undefined) storage.capacityBytes = capacity;
  if (billing && (used === undefined || capacity === undefined)) sink.problem(`vault ${name}: billing.used ${quoteForMessage(billing.used)} or billing.size ${quoteForMessage(billing.size)} is not a size`);
  const vault: VaultInventory = { id, name, storage, resources: [] };
  const status = billing && stringField(billing, 'status');
  if (status) vault.status = status;
  for (const resource of Array.isArray(item.resources) ? item.resources : []) {
    if (!isObject(resource)) continue;
    const resourceName = stringField(resource, 'name') ?? stringField(resource, 'id');
    if (!resourceName) {
      sink.problem(`vault ${name}: a resource without a name or id`);
      continue;
    }
    vault.resources.push({ name: resourceName, protectStatus: stringField(resource, 'protect_status') ?? 'unknown' });
  }
  return vault;
}

/** A backup policy: whether it runs, its vaults, and its schedule's RRULEs. */
export interface BackupPolicy {
  id: string;
  enabled: boolean;
  vaultIds: string[];
  patterns: string[];
}

/** A policy from GET /v3/{project_id}/policies; replication policies (and others) are not backup schedules: undefined. */
export function mapPolicy(raw: unknown, sink: MappingSink): BackupPolicy | undefined {
  const found = objectWithId(raw, 'policy', sink);
  if (!found) return undefined;
  const { fields: item, id } = found;
  if (stringField(item, 'operation_type') !== 'backup') return undefined;
  const vaultIds: string[] = [];
  for (const v of Array.isArray(item.associated_vaults) ? item.associated_vaults : []) {
    const vaultId = isObject(v) ? stringField(v, 'vault_id') : undefined;
    if (vaultId) vaultIds.push(vaultId);
  }
  const trigger = objectField(item, 'trigger');
  const properties = trigger && objectField(trigger, 'properties');
  const written = properties && Array.isArray(properties.pattern) ? properties.pattern : [];
  const patterns = written.filter((p): p is string => typeof p === 'string');
  return { id, enabled: item.enabled === true, vaultIds, patterns };
}

/** What the vaults and policies say: storage per vault, an alert per vault that takes no backups, protection per resource. */
export interface Inventory {
  storage: StorageUsage[];
  alerts: ProductAlert[];
  /** Absent when the policies could not be read: then protection is not known. */
  resources?: ResourceProtection[];
}

/**
 * A resource is protected when its protect_status is available (or protecting) and its vault is
 * bound to an enabled backup policy; the schedule interval is the longest gap between runs of the
 * vault's enabled backup policies together. `policies` undefined: they could not be read.
 */
export function inventoryOf(vaults: readonly VaultInventory[], policies: readonly BackupPolicy[] | undefined, sink: MappingSink): Inventory {
  const found: Inventory = { storage: [], alerts: [] };
  for (const vault of vaults) {
    found.storage.push(vault.storage);
    // A frozen, locked, deleting or broken vault takes no backups: an alert on the vault.
    if (vault.status !== undefined && vault.status !== VAULT_AVAILABLE) found.alerts.push({ resource: vault.name, type: `vault_${vault.status}` });
  }
  if (!policies) return found;
  found.resources = [];
  for (const vault of vaults) {
    const bound = policies.filter((p) => p.vaultIds.includes(vault.id));
    const enabled = bound.filter((p) => p.enabled);
    const policyStatus = bound.length === 0 ? NO_POLICY_STATUS : enabled.length === 0 ? POLICY_DISABLED_STATUS : undefined;
    let interval: number | undefined;
    if (enabled.length > 0) {
      const patterns = enabled.flatMap((p) => p.patterns);
      interval = longestGapSeconds(patterns);
      if (interval === undefined) sink.problem(`backup policy ${enabled.map((p) => p.id).join(', ')} of vault ${vault.name}: schedule ${quoteForMessage(patterns.join(' | '))} not understood; no schedule interval`);
    }
    for (const resource of vault.resources) {
      const ok = PROTECTING_STATUSES.has(resource.protectStatus);
      const protection: ResourceProtection = {
        resource: resource.name,
        protected: ok && policyStatus === undefined,
        status: ok ? (policyStatus ?? resource.protectStatus) : resource.protectStatus,
      };
      if (interval !== undefined) protection.scheduleIntervalSeconds = interval;
      found.resources.push(protection);
    }
  }
  return found;
}

async function readVaults(ctx: CollectContext, projectPath: string, sink: MappingSink, names: VaultNames): Promise<VaultInventory[]> {
  const byId = new Map<string, VaultInventory>();
  await readPages(ctx, `${projectPath}/vaults`, {}, VAULT_PAGING, (items) => {
    for (const item of items) {
      const vault = mapVault(item, sink);
      if (!vault || byId.has(vault.id)) continue;
      byId.set(vault.id, vault);
      names.remember(vault.id, vault.name);
    }
  });
  return [...byId.values()];
}

/** Backup policies; undefined when the credentials may not list them (a 403, logged once per target). */
async function readPolicies(ctx: CollectContext, projectPath: string, sink: MappingSink, refused: { logged: boolean }): Promise<BackupPolicy[] | undefined> {
  const byId = new Map<string, BackupPolicy>();
  try {
    await readPages(ctx, `${projectPath}/policies`, { operation_type: 'backup' }, POLICY_PAGING, (items) => {
      for (const item of items) {
        const policy = mapPolicy(item, sink);
        if (policy) byId.set(policy.id, policy);
      }
    });
  } catch (err) {
    if (!(err instanceof CollectError) || err.status !== 403) throw err;
    if (!refused.logged) {
      refused.logged = true;
      ctx.log.warn({ call: 'policies', status: err.status, err: err.message }, 'CBR refused the policy list (cbr:policies:list); protection and schedules are left out');
    }
    return undefined;
  }
  return [...byId.values()];
}

// ---------------------------------------------------------------------------------------------
// Collection

/** Checkpoint details already read (they do not change), bounded; null = not readable. */
class CheckpointMemo {
  private readonly known = lruCache<string, { detail: CheckpointDetail | null }>(MAX_REMEMBERED_CHECKPOINTS);
  has(id: string): boolean {
    return this.known.has(id);
  }
  get(id: string): CheckpointDetail | null | undefined {
    return this.known.get(id)?.detail;
  }
  set(id: string, detail: CheckpointDetail | null): void {
    this.known.set(id, { detail });
  }
}

/** Tasks of one kind; the same id on two pages (the list moved while paging) counts once. */
async function readTasks(
  ctx: CollectContext,
  projectPath: string,
  kind: JobKind,
  sink: MappingSink,
  vaults: VaultNames,
  onTasks: (tasks: MappedTask[]) => void = () => undefined,
): Promise<MappedTask[]> {
  const byId = new Map<string, MappedTask>();
  const query = { operation_type: kind, start_time: formatStartTime(ctx.lookbackStart) };
  await readPages(ctx, `${projectPath}/operation-logs`, query, TASK_PAGING, (items) => {
    const fresh: MappedTask[] = [];
    for (const task of mapTaskPage(items, kind, sink, vaults)) {
      if (byId.has(task.job.id)) continue;
      byId.set(task.job.id, task);
      fresh.push(task);
    }
    onTasks(fresh);
  });
  return [...byId.values()];
}

interface RawBackup {
  point: RestorePoint;
  vaultId?: string;
  checkpointId?: string;
}

async function readBackups(ctx: CollectContext, projectPath: string, sink: MappingSink): Promise<RawBackup[]> {
  const out: RawBackup[] = [];
  const seen = new Set<string>();
  // Vault names are applied after the checkpoint lookups; here every vault is still its id.
  const noNames = { get: () => undefined };
  await readPages(ctx, `${projectPath}/backups`, {}, BACKUP_PAGING, (items) => {
    for (const item of items) {
      const point = mapBackup(item, noNames, sink);
      if (!point || seen.has(point.id) || !isObject(item)) continue;
      seen.add(point.id);
      const raw: RawBackup = { point };
      const vaultId = stringField(item, 'vault_id');
      const checkpointId = stringField(item, 'checkpoint_id');
      if (vaultId) raw.vaultId = vaultId;
      if (checkpointId) raw.checkpointId = checkpointId;
      out.push(raw);
    }
  });
  return out;
}

/**
 * Which checkpoint details are worth a request: skipped backups that came without an error code
 * (the checkpoint's skipped_resources says why). Known answers are not asked again. Vaults are named
 * by the vault list, not by checkpoints.
 */
export function checkpointsToRead(tasks: readonly MappedTask[], memo: { has(id: string): boolean }, limit = MAX_CHECKPOINT_LOOKUPS): string[] {
  const wanted = new Set<string>();
  for (const t of tasks) {
    if (wanted.size >= limit) break;
    if (t.job.kind !== 'backup' || t.job.status !== 'skipped' || t.job.error || !t.checkpointId || memo.has(t.checkpointId)) continue;
    wanted.add(t.checkpointId);
  }
  return [...wanted];
}

async function readCheckpoint(ctx: CollectContext, projectPath: string, id: string, memo: CheckpointMemo, vaults: VaultNames, sink: MappingSink): Promise<void> {
  try {
    const body = await ctx.http.json({ path: `${projectPath}/checkpoints/${encodeURIComponent(id)}` });
    const detail = mapCheckpoint(body, sink) ?? null;
    memo.set(id, detail);
    if (detail?.vaultId && detail.vaultName) vaults.remember(detail.vaultId, detail.vaultName);
  } catch (err) {
    // Details only add names and reasons: losing one must not cost the target its whole scrape.
    if (!(err instanceof CollectError) || err.reason === 'auth' || err.reason === 'timeout') throw err;
    if (err.reason === 'http_4xx') memo.set(id, null);
    ctx.log.warn({ checkpoint: id, reason: err.reason, err: err.message }, 'CBR checkpoint detail not readable');
  }
}

/**
 * The checkpoint lookups of one collection, started as soon as it is known they are wanted: those
 * for skipped backups as each page of tasks arrives, while the lists' other pages are still being
 * read, so that a new skipped backup does not add a round trip to the scrape.
 */
class CheckpointLookups {
  private readonly started = new Map<string, Promise<void>>();

  constructor(
    private readonly read: (id: string) => Promise<void>,
    private readonly memo: CheckpointMemo,
  ) {}

  /** Known or already asked: checkpointsToRead leaves these out. */
  has(id: string): boolean {
    return this.memo.has(id) || this.started.has(id);
  }

  /** Lookups this collection may still start. */
  remaining(limit = MAX_CHECKPOINT_LOOKUPS): number {
    return Math.max(0, limit - this.started.size);
  }

  start(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.has(id)) continue;
      const lookup = this.read(id);
      // Awaited in done(); until then a failure must not count as unhandled.
      lookup.catch(() => undefined);
      this.started.set(id, lookup);
    }
  }

  async done(): Promise<void> {
    await Promise.all(this.started.values());
  }
}

function explainSkipped(tasks: MappedTask[], memo: CheckpointMemo): void {
  for (const t of tasks) {
    if (t.job.status !== 'skipped' || t.job.error || !t.checkpointId || !t.resourceId) continue;
    const why = memo.get(t.checkpointId)?.skipped.get(t.resourceId);
    if (why) t.job.error = why;
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration and authentication

const cbrIamBlock = defineProviderBlock({
  description: 'IAM user whose token authenticates the requests (password method, project scope).',
  fields: {
    url: httpUrl('IAM endpoint, e.g. https://iam.ap-southeast-1.myhuaweicloud.com (the path /v3/auth/tokens is added).'),
    domain: nonEmpty('Account (domain) name of the IAM user.'),
    user: nonEmpty('IAM user name.'),
    project: nonEmpty('Project name the token is scoped to, e.g. ap-southeast-1.'),
  },
  secrets: {
    password: { required: true, description: 'Password of the IAM user.' },
  },
});

const cbrBlock = defineProviderBlock({
  description: 'Huawei Cloud Backup and Recovery (CBR): project and credentials, either an IAM user (iam) or an access key pair (access_key, secret_key).',
  fields: {
    project_id: nonEmpty('Project id whose backups and tasks are read.'),
    access_key: nonEmpty('Access key id (AK) for request signing (SDK-HMAC-SHA256).').optional(),
  },
  nested: { iam: cbrIamBlock },
  secrets: {
    secret_key: { required: false, description: 'Secret access key (SK) for request signing.' },
  },
  refine(block, ctx) {
    oneOf(
      [
        { name: 'iam', fields: ['iam'] },
        { name: 'access_key with secret_key', fields: ['access_key', 'secret_key', 'secret_key_file'] },
      ],
      true,
    )(block, ctx);
    requiredWithSecret('access_key', 'secret_key')(block, ctx);
    if (block.access_key !== undefined && block.secret_key === undefined && block.secret_key_file === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret_key'], message: 'required with access_key (or secret_key_file)' });
    }
  },
});

type CbrSettings = ResolvedBlock<typeof cbrBlock>;

/** The IAM password-method token request, scoped to a project by name. */
export function tokenRequestBody(iam: { domain: string; user: string; password: string; project: string }): string {
  return JSON.stringify({
    auth: {
      identity: { methods: ['password'], password: { user: { name: iam.user, password: iam.password, domain: { name: iam.domain } } } },
      scope: { project: { name: iam.project } },
    },
  });
}

/** Fetches an IAM token: the X-Subject-Token header, valid until the answer's token.expires_at. */
export function iamTokenFetcher(
  client: Pick<HttpClient, 'request'>,
  iam: { domain: string; user: string; password: string; project: string },
  log: { warn(obj: object, msg: string): void },
  now: () => number = Date.now,
): ConstructorParameters<typeof TokenCache>[0] {
  return async (scope): Promise<Token> => {
    const response = await client.request(
      { method: 'POST', path: '/v3/auth/tokens', headers: { 'content-type': 'application/json;charset=utf8' }, body: tokenRequestBody(iam) },
      scope,
    );
    const header = response.headers['x-subject-token'];
    const value = Array.isArray(header) ? header[0] : header;
    if (!value) throw new CollectError('invalid_response', 'POST /v3/auth/tokens: answer without an X-Subject-Token header');
    const body = parseJsonBody(response, 'POST /v3/auth/tokens');
    const token = isObject(body) ? objectField(body, 'token') : undefined;
    const expires = token && parseCbrTime(token.expires_at);
    if (expires === undefined) {
      log.warn({ expires_at: token?.expires_at }, 'IAM token answer without a usable expires_at; renewing it within the hour');
      return { value, expiresAt: now() + FALLBACK_TOKEN_LIFETIME_MS };
    }
    return { value, expiresAt: expires * 1000 };
  };
}

function authFor(target: TargetCommon, settings: CbrSettings, env: ProviderEnvironment): RequestAuth {
  const { iam } = settings;
  if (iam) {
    if (iam.password === undefined) throw new Error(`target ${target.name}: cbr.iam.password missing`);
    const credentials = { domain: iam.domain, user: iam.user, password: iam.password, project: iam.project };
    const cache = env.tokenCache(iamTokenFetcher(env.client(iam.url), credentials, env.log));
    return tokenAuth(cache, (token) => ({ 'x-auth-token': token }));
  }
  if (settings.access_key === undefined || settings.secret_key === undefined) {
    throw new Error(`target ${target.name}: cbr needs iam or access_key with secret_key`);
  }
  return akskAuth({ accessKey: settings.access_key, secretKey: settings.secret_key, baseUrl: target.url });
}

export const cbr = defineProvider({
  name: 'cbr',
  kinds: ['backup', 'restore'],
  restorePoints: true,
  reports: { protection: true, storage: true, alerts: true },
  config: cbrBlock,
  create(target, settings, env) {
    const projectPath = `/v3/${encodeURIComponent(settings.project_id)}`;
    const vaults = new VaultNames();
    const memo = new CheckpointMemo();
    const problems = new ProblemLog('CBR');
    const policiesRefused = { logged: false };
    return {
      auth: authFor(target, settings, env),
      async collect(ctx) {
        const sink = problems.sink(ctx);
        const lookups = new CheckpointLookups((id) => readCheckpoint(ctx, projectPath, id, memo, vaults, sink), memo);
        const [backupTasks, restoreTasks, backups, vaultList, policies] = await Promise.all([
          readTasks(ctx, projectPath, 'backup', sink, vaults, (tasks) => lookups.start(checkpointsToRead(tasks, lookups, lookups.remaining()))),
          readTasks(ctx, projectPath, 'restore', sink, vaults),
          readBackups(ctx, projectPath, sink),
          readVaults(ctx, projectPath, sink, vaults),
          readPolicies(ctx, projectPath, sink, policiesRefused),
        ]);
        await lookups.done();
        explainSkipped(backupTasks, memo);
        const restorePoints = backups.map(({ point, vaultId }) => {
          const name = vaultId && vaults.get(vaultId);
          return name ? { ...point, vault: name } : point;
        });
        const inventory = inventoryOf(vaultList, policies, sink);
        ctx.report({ jobs: [...backupTasks, ...restoreTasks].map((t) => t.job), restorePoints, storage: inventory.storage, alerts: inventory.alerts });
        if (inventory.resources) ctx.report({ resources: inventory.resources });
        sink.flush();
      },
    };
  },
});

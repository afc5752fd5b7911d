/**
 * MongoDB Ops Manager: restore jobs, backup protection, snapshots and open backup alerts of every
 * cluster in the configured (or all) projects.
 *
 * API calls of one collection: GET /groups (paged; or GET /groups/{id} per configured project),
 * GET /groups/{id}/clusters (paged) per project, GET /groups/{id}/clusters/{id}/restoreJobs (paged,
 * itemsPerPage=500) per cluster; per project GET /groups/{id}/backupConfigs (paged) and
 * GET /groups/{id}/alerts?status=OPEN (paged); per cluster with a backup configuration the first
 * page of GET /groups/{id}/clusters/{id}/snapshots and, at most once an hour,
 * GET /groups/{id}/backupConfigs/{id}/snapshotSchedule. Digest authentication with the public key
 * as user name.
 */
import type { LRUCache } from 'lru-cache';
import { lruCache } from '../lru';
import { z } from 'zod';
import { defineProviderBlock } from '../config/blocks';
import { digestAuth } from '../http/auth';
import { CollectError } from '../http/errors';
import type { Job, ProductAlert, ResourceProtection, RestorePoint, RestorePointState, StateTable } from '../model';
import { mapStatus, worstOf } from '../model';
import { isObject, quoteForMessage } from '../text';
import type { MappingSink, Paging } from './kit';
import { ProblemLog, pageNumberPaging, readPages } from './kit';
import type { CollectContext } from './types';
import { defineProvider } from './types';
import { parseIsoTimestamp, stringField } from './util';

const API = '/api/public/v1.0';
export const ITEMS_PER_PAGE = 500;
/** 1,000 pages of 500 = half a million items per list: far beyond any real cluster, small enough to bound a loop. */
const MAX_PAGES = 1000;
const PAGING: Paging = pageNumberPaging(ITEMS_PER_PAGE, MAX_PAGES);

export const OPSMANAGER_STATES: StateTable = {
  IN_PROGRESS: 'running',
  FINISHED: 'succeeded',
  BROKEN: 'failed',
  KILLED: 'cancelled',
};

/** Delivery states in which the download link can still be used; only these get an expiry series. */
const USABLE_DELIVERY_STATES = new Set(['NOT_STARTED', 'IN_PROGRESS', 'READY']);

interface RawProject {
  id: string;
  name: string;
}

interface RawCluster {
  id: string;
  name: string;
}

/** A project's clusters: those restores and backups are about, and every cluster id's resource name. */
interface ProjectClusters {
  project: RawProject;
  list: RawCluster[];
  /** Cluster id -> resource name, shard and config server entities included (named as their cluster). */
  names: Map<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Protection, snapshots, schedules and alerts (pure mappings)

/**
 * Snapshots read per cluster and scrape: one page. A default retention keeps about 32 snapshots, so
 * the page holds the whole list and with it the newest, which is what the RPO needs.
 */
export const SNAPSHOT_PAGE_SIZE = 100;
/** How long a cluster's snapshot schedule is reused: schedules change rarely, and each costs a request. */
export const SCHEDULE_TTL_MS = 3_600_000;
const MAX_CACHED_SCHEDULES = 10_000;

/** The backup configuration status in which Ops Manager takes snapshots on its schedule. */
const PROTECTED_STATUS = 'STARTED';
const KNOWN_BACKUP_STATUSES = new Set(['STARTED', 'STOPPED', 'INACTIVE', 'TERMINATING', 'PROVISIONING']);
/** The status given to a cluster Ops Manager has no backup configuration for. */
export const NO_BACKUP_STATUS = 'NONE';

/** Alert event types about backup (Ops Manager alert reference, Backup section). */
export const BACKUP_ALERT_TYPES = new Set([
  'OPLOG_BEHIND',
  'RESYNC_REQUIRED',
  'BACKUP_TOO_MANY_RETRIES',
  'BACKUP_IN_UNEXPECTED_STATE',
  'LATE_SNAPSHOT',
  'BAD_CLUSTERSHOTS',
  'BACKUP_AGENT_DOWN',
]);

/** clusterId -> statusName of a project's backup configurations. */
export function mapBackupConfigs(raw: unknown[], sink: MappingSink): Map<string, string> {
  const configs = new Map<string, string>();
  for (const item of raw) {
    const clusterId = isObject(item) ? stringField(item, 'clusterId') : undefined;
    if (!clusterId || !isObject(item)) {
      sink.problem('backup configuration without a clusterId');
      continue;
    }
    const status = stringField(item, 'statusName') ?? '';
    if (!KNOWN_BACKUP_STATUSES.has(status)) sink.unknownStatus(status || '(none)');
    configs.set(clusterId, status || 'UNKNOWN');
  }
  return configs;
}

/** A cluster's protection from its backup configuration's status (undefined: it has none). */
export function protectionOf(resource: string, status: string | undefined, scheduleIntervalSeconds?: number): ResourceProtection {
  const found: ResourceProtection = { resource, protected: status === PROTECTED_STATUS, status: status ?? NO_BACKUP_STATUS };
  if (scheduleIntervalSeconds !== undefined) found.scheduleIntervalSeconds = scheduleIntervalSeconds;
  return found;
}

/** Seconds between snapshots from a snapshotSchedule answer; undefined when it does not say. */
export function scheduleIntervalSeconds(raw: unknown, sink: MappingSink, resource: string): number | undefined {
  const hours = isObject(raw) ? raw.snapshotIntervalHours : undefined;
  if (typeof hours === 'number' && Number.isFinite(hours) && hours > 0) return hours * 3600;
  sink.problem(`snapshot schedule of ${resource}: snapshotIntervalHours ${quoteForMessage(hours)} is not a positive number`);
  return undefined;
}

/**
 * One cluster's snapshots as restore points (no vault: Ops Manager has no container of its own).
 * An incomplete snapshot is being taken; one that may be inconsistent or lacks shards is not usable.
 */
export function mapSnapshots(raw: unknown[], resource: string, sink: MappingSink): RestorePoint[] {
  const points: RestorePoint[] = [];
  for (const item of raw) {
    if (!isObject(item)) {
      sink.problem(`snapshot of ${resource} is not an object`);
      continue;
    }
    const id = stringField(item, 'id');
    if (!id) {
      sink.problem(`snapshot of ${resource} has no id`);
      continue;
    }
    // created is a BSON timestamp as the API writes it, {date: ISO-8601, increment}; a plain
    // ISO-8601 string (as restore jobs write it) is read too.
    const created = isObject(item.created) ? item.created.date : item.created;
    const createdAt = parseIsoTimestamp(created);
    if (createdAt === undefined) {
      sink.problem(`snapshot ${id} of ${resource}: created ${quoteForMessage(item.created)} has no ISO-8601 date`);
      continue;
    }
    const point: RestorePoint = { id, resource, vault: '', state: snapshotState(item), createdAt };
    const bytes = storedBytes(item.parts);
    if (bytes !== undefined) point.bytes = bytes;
    points.push(point);
  }
  return points;
}

function snapshotState(item: Record<string, unknown>): RestorePointState {
  if (item.complete !== true) return 'creating';
  const missing = Array.isArray(item.missingShards) && item.missingShards.length > 0;
  return item.isPossiblyInconsistent === true || missing ? 'error' : 'available';
}

/** Bytes the snapshot's parts (one per shard and config server) occupy in the snapshot store. */
function storedBytes(parts: unknown): number | undefined {
  if (!Array.isArray(parts)) return undefined;
  let total = 0;
  let known = false;
  for (const part of parts) {
    const size = isObject(part) ? part.storageSizeBytes : undefined;
    if (typeof size === 'number' && Number.isFinite(size) && size >= 0) {
      total += size;
      known = true;
    }
  }
  return known ? total : undefined;
}

/**
 * Open backup alerts of a project, each on its cluster's resource name (a shard's alert on its
 * sharded cluster), or on the project's name when the alert names no known cluster.
 */
export function mapAlerts(raw: unknown[], projectName: string, names: ReadonlyMap<string, string>): ProductAlert[] {
  const alerts: ProductAlert[] = [];
  for (const item of raw) {
    if (!isObject(item)) continue;
    const type = stringField(item, 'eventTypeName');
    if (!type || !BACKUP_ALERT_TYPES.has(type)) continue;
    const status = stringField(item, 'status');
    if (status !== undefined && status !== 'OPEN') continue;
    const clusterId = stringField(item, 'clusterId');
    alerts.push({ resource: (clusterId && names.get(clusterId)) || projectName, type });
  }
  return alerts;
}

/** Maps one cluster's restore jobs; the jobs of a sharded restore (same batchId) become one job. */
export function mapRestoreJobs(raw: unknown[], resource: string, sink: MappingSink): Job[] {
  return mergeBatches(mapRestoreJobPage(raw, resource, sink));
}

/** A mapped job with the batch it belongs to: pages are mapped as they arrive, batches merged at the end. */
export interface BatchMember {
  job: Job;
  batchId?: string;
}

export function mapRestoreJobPage(raw: unknown[], resource: string, sink: MappingSink): BatchMember[] {
  const mapped: BatchMember[] = [];
  for (const item of raw) {
    const job = mapRestoreJob(item, resource, sink);
    if (!job) continue;
    const batchId = isObject(item) ? stringField(item, 'batchId') : undefined;
    mapped.push(batchId ? { job, batchId } : { job });
  }
  return mapped;
}

export function mergeBatches(members: readonly BatchMember[]): Job[] {
  const jobs: Job[] = [];
  const batches = new Map<string, Job[]>();
  for (const { job, batchId } of members) {
    if (!batchId) {
      jobs.push(job);
      continue;
    }
    const batch = batches.get(batchId);
    if (batch) batch.push(job);
    else batches.set(batchId, [job]);
  }
  for (const [batchId, batch] of batches) jobs.push(mergeBatch(batchId, batch));
  return jobs;
}

export function mapRestoreJob(item: unknown, resource: string, sink: MappingSink): Job | undefined {
  if (!isObject(item)) {
    sink.problem(`restore job of ${resource} is not an object`);
    return undefined;
  }
  const id = stringField(item, 'id');
  if (!id) {
    sink.problem(`restore job of ${resource} has no id`);
    return undefined;
  }
  const status = stringField(item, 'statusName') ?? '';
  const state = mapStatus(OPSMANAGER_STATES, status);
  if (state === 'unknown') sink.unknownStatus(status || '(none)');
  const created = item.created;
  const startedAt = parseIsoTimestamp(created);
  if (created !== undefined && startedAt === undefined) sink.problem(`restore job ${id}: created ${quoteForMessage(created)} is not an ISO-8601 time`);
  const job: Job = { kind: 'restore', id, resource, state, status: status || 'UNKNOWN' };
  if (startedAt !== undefined) job.startedAt = startedAt;
  const expiry = deliveryExpiry(item.delivery);
  if (expiry !== undefined) job.deliveryExpiresAt = expiry;
  return job;
}

function deliveryExpiry(delivery: unknown): number | undefined {
  if (!isObject(delivery)) return undefined;
  const status = stringField(delivery, 'statusName');
  if (!status || !USABLE_DELIVERY_STATES.has(status)) return undefined;
  return parseIsoTimestamp(delivery.expires);
}

function mergeBatch(batchId: string, members: Job[]): Job {
  const worst = worstOf(members);
  const starts = members.map((m) => m.startedAt).filter((t): t is number => t !== undefined);
  const expiries = members.map((m) => m.deliveryExpiresAt).filter((t): t is number => t !== undefined);
  const job: Job = { kind: 'restore', id: batchId, resource: worst.resource, state: worst.state, status: worst.status };
  if (starts.length) job.startedAt = Math.min(...starts);
  if (expiries.length) job.deliveryExpiresAt = Math.min(...expiries);
  return job;
}

/** Every item of a paged Ops Manager list, each page mapped as it arrives. */
async function readAll<T>(ctx: CollectContext, path: string, mapPage: (items: unknown[]) => T[]): Promise<T[]> {
  const mapped: T[] = [];
  await readPages(ctx, path, {}, PAGING, (items) => mapped.push(...mapPage(items)));
  return mapped;
}

async function listProjects(ctx: CollectContext, configured: string[] | undefined): Promise<RawProject[]> {
  if (configured?.length) {
    return Promise.all(
      configured.map(async (id) => {
        const body = await ctx.http.json({ path: `${API}/groups/${encodeURIComponent(id)}` });
        const name = isObject(body) ? stringField(body, 'name') : undefined;
        return { id, name: name ?? id };
      }),
    );
  }
  return readAll(ctx, `${API}/groups`, (items) =>
    items.flatMap((item) => {
      const id = isObject(item) ? stringField(item, 'id') : undefined;
      if (!id || !isObject(item)) {
        ctx.log.warn({ item: typeof item }, 'Ops Manager project without an id skipped');
        return [];
      }
      return [{ id, name: stringField(item, 'name') ?? id }];
    }),
  );
}

async function listClusters(ctx: CollectContext, project: RawProject): Promise<ProjectClusters> {
  const names = new Map<string, string>();
  const list = await readAll(ctx, `${API}/groups/${encodeURIComponent(project.id)}/clusters`, (items) =>
    items.flatMap((item) => {
      const id = isObject(item) ? stringField(item, 'id') : undefined;
      if (!id || !isObject(item)) return [];
      // A shard or config server carries its sharded cluster's clusterName: the same resource.
      const name = `${project.name}/${stringField(item, 'clusterName') ?? id}`;
      names.set(id, name);
      return isPartOfShardedCluster(item) ? [] : [{ id, name }];
    }),
  );
  return { project, list, names };
}

/**
 * Reads what an API key may lack the right for: a 403 (or, where `alsoMissing`, a 404) leaves that
 * part out, logged once per target and call, while restore jobs and the rest keep working.
 */
async function optional<T>(
  ctx: CollectContext,
  forbidden: LRUCache<string, true>,
  call: string,
  read: () => Promise<T>,
  alsoMissing = false,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof CollectError) || !(err.status === 403 || (alsoMissing && err.status === 404))) throw err;
    if (!forbidden.has(call)) {
      forbidden.set(call, true);
      ctx.log.warn({ call, status: err.status, err: err.message }, 'Ops Manager refused a backup inventory call; that part is left out (Project Read Only suffices)');
    }
    return undefined;
  }
}

interface InventoryState {
  /** group/cluster -> seconds between snapshots (undefined: the schedule does not say). */
  schedules: LRUCache<string, { seconds?: number }>;
  /** Calls already logged as refused. */
  forbidden: LRUCache<string, true>;
}

/** Protection, restore points and open backup alerts of one project. */
async function collectInventory(ctx: CollectContext, state: InventoryState, { project, list, names }: ProjectClusters, sink: MappingSink): Promise<void> {
  const group = `${API}/groups/${encodeURIComponent(project.id)}`;
  const alerts = optional(ctx, state.forbidden, 'alerts', async () => {
    const found: ProductAlert[] = [];
    await readPages(ctx, `${group}/alerts`, { status: 'OPEN' }, PAGING, (items) => found.push(...mapAlerts(items, project.name, names)));
    ctx.report({ alerts: found });
  });
  // Awaited below; a failure of the configurations' read fails the collection before that.
  alerts.catch(() => undefined);
  const configs = await optional(ctx, state.forbidden, 'backupConfigs', () => readAll(ctx, `${group}/backupConfigs`, (items) => [...mapBackupConfigs(items, sink)]));
  const statuses = configs && new Map(configs);
  await Promise.all([
    alerts,
    ...list.map(async (cluster) => {
      const status = statuses?.get(cluster.id);
      // A cluster without a configuration has no snapshots; when the configurations cannot be read,
      // every cluster is asked, so restore points still come.
      if (statuses && status === undefined) {
        ctx.report({ resources: [protectionOf(cluster.name, undefined)] });
        return;
      }
      const clusterPath = `${group}/clusters/${encodeURIComponent(cluster.id)}`;
      const snapshots = optional(ctx, state.forbidden, 'snapshots', async () => {
        const body = await ctx.http.json({ path: `${clusterPath}/snapshots`, query: { pageNum: 1, itemsPerPage: SNAPSHOT_PAGE_SIZE } });
        const results = isObject(body) ? body.results : undefined;
        if (!Array.isArray(results)) throw new CollectError('invalid_response', `GET ${clusterPath}/snapshots: answer has no "results" list`);
        ctx.report({ restorePoints: mapSnapshots(results, cluster.name, sink) });
      }, true);
      if (!statuses) return snapshots;
      const interval = await scheduleOf(ctx, state, group, cluster, sink);
      ctx.report({ resources: [protectionOf(cluster.name, status, interval)] });
      await snapshots;
    }),
  ]);
}

/** A cluster's snapshot interval, from the cache when read within SCHEDULE_TTL_MS. */
async function scheduleOf(ctx: CollectContext, state: InventoryState, group: string, cluster: RawCluster, sink: MappingSink): Promise<number | undefined> {
  const key = `${group}/${cluster.id}`;
  const cached = state.schedules.get(key);
  if (cached) return cached.seconds;
  const body = await optional(ctx, state.forbidden, 'snapshotSchedule', () => ctx.http.json({ path: `${group}/backupConfigs/${encodeURIComponent(cluster.id)}/snapshotSchedule` }), true);
  const seconds = body === undefined ? undefined : scheduleIntervalSeconds(body, sink, cluster.name);
  // A refused or unreadable schedule is remembered too: asking again every scrape would not change it.
  state.schedules.set(key, seconds === undefined ? {} : { seconds });
  return seconds;
}

/**
 * The cluster list also holds each shard of a sharded cluster (a REPLICA_SET with shardName) and its
 * config server replica set. Their restores are the sharded cluster's batch: reading them again
 * would count every shard restore twice.
 */
export function isPartOfShardedCluster(cluster: Record<string, unknown>): boolean {
  return stringField(cluster, 'shardName') !== undefined || cluster.typeName === 'CONFIG_SERVER_REPLICA_SET';
}

const opsManagerBlock = defineProviderBlock({
  description: 'MongoDB Ops Manager: API key (HTTP Digest authentication) and which projects to watch.',
  fields: {
    public_key: z.string().min(1).describe('Public key of the Ops Manager API key (the Digest user name).'),
    projects: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Project (group) ids to collect. Omit to collect every project the API key can see.'),
  },
  secrets: {
    private_key: { required: true, description: 'Private key of the Ops Manager API key (the Digest password).' },
  },
});

export const opsmanager = defineProvider({
  name: 'opsmanager',
  kinds: ['restore'],
  restorePoints: true,
  reports: { protection: true, storage: false, alerts: true },
  config: opsManagerBlock,
  create(_target, settings) {
    const problems = new ProblemLog('Ops Manager');
    const inventory: InventoryState = {
      schedules: lruCache(MAX_CACHED_SCHEDULES, { ttl: SCHEDULE_TTL_MS }),
      forbidden: lruCache(100),
    };
    return {
      auth: digestAuth(settings.public_key, settings.private_key),
      async collect(ctx) {
        const sink = problems.sink(ctx);
        const projects = await listProjects(ctx, settings.projects);
        const clusters = await Promise.all(projects.map((project) => listClusters(ctx, project)));
        // Each page's jobs are reported as it arrives: 200 clusters of 500 jobs are summarised as
        // they come, never held all at once.
        await Promise.all([
          ...clusters.map((found) => collectInventory(ctx, inventory, found, sink)),
          ...clusters.flatMap(({ project, list }) =>
            list.map(async (cluster) => {
              const path = `${API}/groups/${encodeURIComponent(project.id)}/clusters/${encodeURIComponent(cluster.id)}/restoreJobs`;
              // A job of its own is reported with its page; the members of a sharded restore wait
              // for the list's end, where their batch becomes one job.
              const members: BatchMember[] = [];
              await readPages(ctx, path, {}, PAGING, (items) => {
                const jobs: Job[] = [];
                for (const member of mapRestoreJobPage(items, cluster.name, sink)) {
                  if (member.batchId) members.push(member);
                  else jobs.push(member.job);
                }
                ctx.report({ jobs });
              });
              ctx.report({ jobs: mergeBatches(members) });
            }),
          ),
        ]);
        sink.flush();
      },
    };
  },
});

/**
 * MongoDB Atlas cloud backups: per cluster of the configured (or all) projects, whether cloud backup
 * is on and how often its policy takes snapshots, the snapshots (restore points, and the backup
 * runs they are), and the restore jobs with their real start and end.
 *
 * Atlas Administration API v2 (base /api/atlas/v2). API calls of one collection: GET /groups (paged;
 * or GET /groups/{id} per configured project), GET /groups/{id}/clusters (paged) per project; per
 * cluster with backup on its snapshots (GET .../backup/snapshots for a replica set,
 * .../backup/snapshots/shardedClusters for a sharded or global cluster; paged), GET
 * .../backup/restoreJobs (paged) and, at most once an hour, GET .../backup/schedule. Authentication: an API key pair (HTTP Digest, public
 * key as user name) or a service account (OAuth 2 client credentials at POST /api/oauth/token,
 * bearer token).
 *
 * Each call asks for the resource version its mapping was written against (Accept:
 * application/vnd.atlas.<date>+json): the newest stable version of each resource in the Atlas Admin
 * API specification of atlas-sdk-go v20250312023 (openapi/atlas-api-transformed.yaml). A version
 * Atlas retires answers 406/410, which names the call, instead of a silently different shape.
 */
import type { LRUCache } from 'lru-cache';
import { lruCache } from '../lru';
import { z } from 'zod';
import { defineProviderBlock, nonEmpty, oneOf, requiredWithSecret } from '../config/blocks';
import { digestAuth } from '../http/auth';
import type { RequestOptions } from '../http/client';
import { CollectError } from '../http/errors';
import { parseOAuthTokenAnswer, tokenAuth } from '../http/token';
import type { Job, JobState, ResourceProtection, RestorePoint, RestorePointState, StateTable } from '../model';
import { mapStatus } from '../model';
import { isObject, quoteForMessage } from '../text';
import type { MappingSink, Paging } from './kit';
import { ProblemLog, mapLimited, objectWithId, pageNumberPaging, readPages } from './kit';
import type { CollectContext, ScopedHttp } from './types';
import { defineProvider } from './types';
import { parseIsoTimestamp, stringField } from './util';

const API = '/api/atlas/v2';
/** Atlas's token endpoint, on the same origin as the API. */
export const ATLAS_TOKEN_PATH = '/api/oauth/token';
/** The largest page the Admin API serves. */
export const ITEMS_PER_PAGE = 500;
/** 200 pages of 500 per list: far beyond any real project, small enough to bound a loop. */
const MAX_PAGES = 200;
const PAGING: Paging = pageNumberPaging(ITEMS_PER_PAGE, MAX_PAGES);

/**
 * Resource versions asked for. Clusters and the backup schedule changed shape on 2024-08-05
 * (ClusterDescription20240805, DiskBackupSnapshotSchedule20240805); projects, snapshots (of replica
 * sets and of sharded clusters) and restore jobs still have only their 2023-01-01 version.
 */
export const ATLAS_API_VERSIONS = {
  groups: '2023-01-01',
  clusters: '2024-08-05',
  snapshots: '2023-01-01',
  shardedSnapshots: '2023-01-01',
  restoreJobs: '2023-01-01',
  schedule: '2024-08-05',
} as const;

export function acceptHeader(version: string): string {
  return `application/vnd.atlas.${version}+json`;
}

/** The resource version a path of the API is read in. */
export function versionFor(path: string): string {
  const bare = path.split('?')[0]!;
  if (/\/clusters$/.test(bare)) return ATLAS_API_VERSIONS.clusters;
  if (bare.endsWith('/backup/schedule')) return ATLAS_API_VERSIONS.schedule;
  if (bare.endsWith('/backup/snapshots')) return ATLAS_API_VERSIONS.snapshots;
  if (bare.endsWith('/backup/snapshots/shardedClusters')) return ATLAS_API_VERSIONS.shardedSnapshots;
  if (bare.endsWith('/backup/restoreJobs')) return ATLAS_API_VERSIONS.restoreJobs;
  return ATLAS_API_VERSIONS.groups;
}

/** ctx.http with each request's Accept header naming the resource version it is read in. */
function versioned(http: ScopedHttp): ScopedHttp {
  const withAccept = (options: RequestOptions): RequestOptions => ({ ...options, headers: { accept: acceptHeader(versionFor(options.path)), ...options.headers } });
  return { request: (options) => http.request(withAccept(options)), json: (options) => http.json(withAccept(options)) };
}

// ---------------------------------------------------------------------------------------------
// Snapshots: restore points, and the backup runs that took them

/** Cloud backup snapshot status (DiskBackupSnapshot.status) as a backup run's state. */
export const ATLAS_SNAPSHOT_STATES: StateTable = {
  queued: 'pending',
  inProgress: 'running',
  completed: 'succeeded',
  failed: 'failed',
};

const RESTORE_POINT_STATE: Partial<Record<JobState, RestorePointState>> = {
  pending: 'creating',
  running: 'creating',
  succeeded: 'available',
  failed: 'error',
};

/** What one page of a cluster's snapshots says: each snapshot is a restore point and a backup run. */
export interface MappedSnapshots {
  restorePoints: RestorePoint[];
  jobs: Job[];
}

/**
 * One cluster's snapshots, of a replica set (DiskBackupReplicaSet) or of a sharded cluster
 * (DiskBackupShardedClusterSnapshot: one snapshot of the whole cluster, its shards' and config
 * server's parts in members): both say id, status, createdAt and storageSizeBytes. A snapshot is a backup run that started at createdAt (Atlas says when it
 * was taken, not when taking it ended, so the run has no end) and, once completed, a restore point.
 * Restore points have no vault: Atlas keeps snapshots per cluster.
 */
export function mapSnapshots(raw: unknown[], resource: string, sink: MappingSink): MappedSnapshots {
  const found: MappedSnapshots = { restorePoints: [], jobs: [] };
  for (const item of raw) {
    const snapshot = objectWithId(item, `snapshot of ${resource}`, sink);
    if (!snapshot) continue;
    const { fields, id } = snapshot;
    const createdAt = parseIsoTimestamp(fields.createdAt);
    if (createdAt === undefined) {
      sink.problem(`snapshot ${id} of ${resource}: createdAt ${quoteForMessage(fields.createdAt)} is not an ISO-8601 time`);
      continue;
    }
    const status = stringField(fields, 'status') ?? '';
    const state = mapStatus(ATLAS_SNAPSHOT_STATES, status);
    if (state === 'unknown') sink.unknownStatus(status || '(none)');
    const bytes = sizeOf(fields.storageSizeBytes);
    const point: RestorePoint = { id, resource, vault: '', state: RESTORE_POINT_STATE[state] ?? 'unknown', createdAt };
    const job: Job = { kind: 'backup', id, resource, state, status: status || 'UNKNOWN', startedAt: createdAt };
    if (bytes !== undefined) {
      point.bytes = bytes;
      job.bytes = bytes;
    }
    found.restorePoints.push(point);
    found.jobs.push(job);
  }
  return found;
}

function sizeOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Restore jobs

/**
 * A restore job has no status word, only flags: the job's status is named after the flag that
 * decides its state (in this order), and `finished` or `inProgress` when none is set.
 */
export const ATLAS_RESTORE_STATES: StateTable = {
  cancelled: 'cancelled',
  failed: 'failed',
  // Expired before it finished: the restore never completed.
  expired: 'failed',
  finished: 'succeeded',
  inProgress: 'running',
};

/** The status of a restore job from its flags and finishedAt. */
export function restoreStatus(fields: Record<string, unknown>, finishedAt: number | undefined): string {
  if (fields.cancelled === true) return 'cancelled';
  if (fields.failed === true) return 'failed';
  if (finishedAt !== undefined) return 'finished';
  if (fields.expired === true) return 'expired';
  return 'inProgress';
}

/**
 * One cluster's restore jobs. createdAt (the start) is in the documented answers of the Atlas API
 * and its older Go client; where an answer lacks it the job has no start rather than an invented one.
 * A download restore's link works until expiresAt: that is its delivery expiry while usable.
 */
export function mapRestoreJobs(raw: unknown[], resource: string, sink: MappingSink): Job[] {
  const jobs: Job[] = [];
  for (const item of raw) {
    const restore = objectWithId(item, `restore job of ${resource}`, sink);
    if (!restore) continue;
    const { fields, id } = restore;
    const startedAt = timeField(fields, 'createdAt', `restore job ${id}`, sink);
    const endedAt = timeField(fields, 'finishedAt', `restore job ${id}`, sink);
    const status = restoreStatus(fields, endedAt);
    const job: Job = { kind: 'restore', id, resource, state: mapStatus(ATLAS_RESTORE_STATES, status), status };
    if (startedAt !== undefined) job.startedAt = startedAt;
    if (endedAt !== undefined) job.endedAt = endedAt;
    if (stringField(fields, 'deliveryType') === 'download' && (status === 'finished' || status === 'inProgress') && fields.expired !== true) {
      const expiresAt = timeField(fields, 'expiresAt', `restore job ${id}`, sink);
      if (expiresAt !== undefined) job.deliveryExpiresAt = expiresAt;
    }
    jobs.push(job);
  }
  return jobs;
}

/** A time field: absent is fine, present but not ISO-8601 is a problem and left out. */
function timeField(fields: Record<string, unknown>, key: string, what: string, sink: MappingSink): number | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  const seconds = parseIsoTimestamp(value);
  if (seconds === undefined) sink.problem(`${what}: ${key} ${quoteForMessage(value)} is not an ISO-8601 time`);
  return seconds;
}

// ---------------------------------------------------------------------------------------------
// Clusters and their backup schedules

/** Protection statuses: Atlas has a flag, not a word, so the word says which way the flag is. */
export const BACKUP_ON = 'enabled';
export const BACKUP_OFF = 'disabled';

export interface AtlasCluster {
  name: string;
  /** `<project>/<cluster>`. */
  resource: string;
  backup: boolean;
  /** Sharded or global (clusterType SHARDED or GEOSHARDED): its snapshots are listed apart from a replica set's. */
  sharded: boolean;
}

/** clusterType of ClusterDescription20240805: whether the cluster is sharded. */
const CLUSTER_TYPES: Record<string, boolean> = { REPLICASET: false, SHARDED: true, GEOSHARDED: true };

/**
 * A project's clusters. Cloud backup is on where backupEnabled is true (the 2024-08-05 shape), or
 * providerBackupEnabled (the older shape, which some answers still carry). A cluster without
 * clusterType is a replica set, the API's default; an unknown type is a named problem and read as
 * a replica set too.
 */
export function mapClusters(raw: unknown[], projectName: string, sink: MappingSink): AtlasCluster[] {
  const clusters: AtlasCluster[] = [];
  for (const item of raw) {
    const name = isObject(item) ? stringField(item, 'name') : undefined;
    if (!name || !isObject(item)) {
      sink.problem(`cluster of project ${projectName} without a name`);
      continue;
    }
    const type = item.clusterType ?? 'REPLICASET';
    let sharded = typeof type === 'string' ? CLUSTER_TYPES[type] : undefined;
    if (sharded === undefined) {
      sink.problem(`cluster ${projectName}/${name}: clusterType ${quoteForMessage(type)} is not REPLICASET, SHARDED or GEOSHARDED; its snapshots are read as a replica set's`);
      sharded = false;
    }
    clusters.push({ name, resource: `${projectName}/${name}`, backup: item.backupEnabled === true || item.providerBackupEnabled === true, sharded });
  }
  return clusters;
}

/**
 * Where a cluster's snapshots are listed: Atlas keeps a sharded cluster's apart ("Return All Sharded
 * Cluster Cloud Backups"), and its replica set list has none of them.
 */
export function snapshotsPath(backupBase: string, cluster: Pick<AtlasCluster, 'sharded'>): string {
  return cluster.sharded ? `${backupBase}/snapshots/shardedClusters` : `${backupBase}/snapshots`;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * Seconds between two snapshots of one policy item. Only an hourly item's frequencyInterval is a
 * count (every 1, 2, 4, 6, 8 or 12 hours); for the others it names the day of the week, month or
 * year (DiskBackupApiPolicyItem), so the gap is the period itself: the longest month and year, which
 * errs towards a later freshness alert rather than a false one.
 */
export function policyItemSeconds(item: unknown): number | undefined {
  if (!isObject(item)) return undefined;
  const type = stringField(item, 'frequencyType');
  switch (type) {
    case 'hourly': {
      const hours = item.frequencyInterval;
      return typeof hours === 'number' && Number.isInteger(hours) && hours > 0 && hours <= 24 ? hours * HOUR : undefined;
    }
    case 'daily':
      return DAY;
    case 'weekly':
      return 7 * DAY;
    case 'monthly':
      return 31 * DAY;
    case 'yearly':
      return 366 * DAY;
    default:
      return undefined;
  }
}

/** Seconds between snapshots from a backup schedule: its most frequent policy item; undefined when none says. */
export function scheduleIntervalSeconds(raw: unknown, sink: MappingSink, resource: string): number | undefined {
  const policies = isObject(raw) ? raw.policies : undefined;
  const items = Array.isArray(policies) ? policies.flatMap((policy) => (isObject(policy) && Array.isArray(policy.policyItems) ? policy.policyItems : [])) : [];
  let shortest: number | undefined;
  for (const item of items) {
    const seconds = policyItemSeconds(item);
    if (seconds === undefined) {
      sink.problem(`backup schedule of ${resource}: policy item ${quoteForMessage(item)} has no known frequency`);
      continue;
    }
    shortest = shortest === undefined ? seconds : Math.min(shortest, seconds);
  }
  if (shortest === undefined && items.length === 0) sink.problem(`backup schedule of ${resource} has no policy items`);
  return shortest;
}

export function protectionOf(cluster: AtlasCluster, intervalSeconds?: number): ResourceProtection {
  const found: ResourceProtection = { resource: cluster.resource, protected: cluster.backup, status: cluster.backup ? BACKUP_ON : BACKUP_OFF };
  if (intervalSeconds !== undefined) found.scheduleIntervalSeconds = intervalSeconds;
  return found;
}

// ---------------------------------------------------------------------------------------------
// Collection

/** How long a cluster's backup schedule is reused: schedules change rarely, and each costs a request. */
export const SCHEDULE_TTL_MS = 3_600_000;
const MAX_CACHED_SCHEDULES = 10_000;
/**
 * A refused call is logged once per call and cluster, and again after this long if it still is:
 * other clusters' refusals are not hidden behind the first, and a lasting one does not flood the log.
 */
export const REFUSAL_LOG_TTL_MS = 3_600_000;
const MAX_REFUSALS_REMEMBERED = 10_000;

interface Project {
  id: string;
  name: string;
}

interface State {
  /** group/cluster -> seconds between snapshots (empty: the schedule does not say). */
  schedules: LRUCache<string, { seconds?: number }>;
  /** `<call> <project>/<cluster>` already logged as refused (within REFUSAL_LOG_TTL_MS). */
  refused: LRUCache<string, true>;
}

async function listProjects(ctx: CollectContext, configured: string[] | undefined, sink: MappingSink): Promise<Project[]> {
  if (configured?.length) {
    return Promise.all(
      configured.map(async (id) => {
        const body = await ctx.http.json({ path: `${API}/groups/${encodeURIComponent(id)}` });
        return { id, name: (isObject(body) ? stringField(body, 'name') : undefined) ?? id };
      }),
    );
  }
  const projects: Project[] = [];
  await readPages(ctx, `${API}/groups`, {}, PAGING, (items) => {
    for (const item of items) {
      const project = objectWithId(item, 'project', sink);
      if (project) projects.push({ id: project.id, name: stringField(project.fields, 'name') ?? project.id });
    }
  });
  return projects;
}

/**
 * A per-cluster read that may be refused (403: the key lacks a role on it) or find the cluster gone
 * (404: deleted since the list): that part is left out, logged once per call and cluster (again an
 * hour later if it still is).
 */
async function optional(ctx: CollectContext, state: State, call: string, cluster: AtlasCluster, read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch (err) {
    if (!(err instanceof CollectError) || (err.status !== 403 && err.status !== 404)) throw err;
    const key = `${call} ${cluster.resource}`;
    if (!state.refused.has(key)) {
      state.refused.set(key, true);
      ctx.log.warn({ call, resource: cluster.resource, status: err.status, err: err.message }, 'Atlas refused a backup call; that part is left out (Project Read Only suffices)');
    }
  }
}

async function collectCluster(ctx: CollectContext, state: State, project: Project, cluster: AtlasCluster, sink: MappingSink): Promise<void> {
  if (!cluster.backup) {
    ctx.report({ resources: [protectionOf(cluster)] });
    return;
  }
  const base = `${API}/groups/${encodeURIComponent(project.id)}/clusters/${encodeURIComponent(cluster.name)}/backup`;
  await Promise.all([
    optional(ctx, state, 'snapshots', cluster, () =>
      // The specification lists no paging parameters for the sharded list; one that ignores them
      // answers everything on one page longer than asked for, which readPages takes as the whole list.
      readPages(ctx, snapshotsPath(base, cluster), {}, PAGING, (items) => {
        const { restorePoints, jobs } = mapSnapshots(items, cluster.resource, sink);
        ctx.report({ restorePoints, jobs });
      }),
    ),
    optional(ctx, state, 'restoreJobs', cluster, () => readPages(ctx, `${base}/restoreJobs`, {}, PAGING, (items) => ctx.report({ jobs: mapRestoreJobs(items, cluster.resource, sink) }))),
    scheduleOf(ctx, state, base, cluster, sink).then((seconds) => ctx.report({ resources: [protectionOf(cluster, seconds)] })),
  ]);
}

/** A cluster's snapshot interval, from the cache when read within SCHEDULE_TTL_MS. */
async function scheduleOf(ctx: CollectContext, state: State, base: string, cluster: AtlasCluster, sink: MappingSink): Promise<number | undefined> {
  const cached = state.schedules.get(base);
  if (cached) return cached.seconds;
  let body: unknown;
  await optional(ctx, state, 'schedule', cluster, async () => {
    body = await ctx.http.json({ path: `${base}/schedule` });
  });
  const seconds = body === undefined ? undefined : scheduleIntervalSeconds(body, sink, cluster.resource);
  // A refused or unreadable schedule is remembered too: asking again every scrape would not change it.
  state.schedules.set(base, seconds === undefined ? {} : { seconds });
  return seconds;
}

// ---------------------------------------------------------------------------------------------
// Configuration

const atlasBlock = defineProviderBlock({
  description:
    'MongoDB Atlas cloud backups: an API key (public_key with private_key, HTTP Digest) or a service account (client_id with client_secret, OAuth 2 client credentials), and which projects to watch.',
  fields: {
    public_key: nonEmpty('Public key of an Atlas API key (the Digest user name); with private_key.').optional(),
    client_id: nonEmpty('Client id of an Atlas service account; with client_secret.').optional(),
    projects: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Project (group) ids to collect. Omit to collect every project the key or service account can see.'),
  },
  secrets: {
    private_key: { required: false, description: 'Private key of the Atlas API key (the Digest password; needs public_key).' },
    client_secret: { required: false, description: 'Client secret of the Atlas service account (needs client_id).' },
  },
  refine(block, ctx) {
    oneOf(
      [
        { name: 'private_key (or private_key_file)', fields: ['private_key', 'private_key_file'] },
        { name: 'client_secret (or client_secret_file)', fields: ['client_secret', 'client_secret_file'] },
      ],
      true,
    )(block, ctx);
    requiredWithSecret('public_key', 'private_key')(block, ctx);
    requiredWithSecret('client_id', 'client_secret')(block, ctx);
  },
});

export const atlas = defineProvider({
  name: 'atlas',
  kinds: ['backup', 'restore'],
  restorePoints: true,
  reports: { protection: true, storage: false, alerts: false },
  config: atlasBlock,
  create(target, settings, env) {
    const problems = new ProblemLog('Atlas');
    const state: State = {
      schedules: lruCache(MAX_CACHED_SCHEDULES, { ttl: SCHEDULE_TTL_MS }),
      refused: lruCache(MAX_REFUSALS_REMEMBERED, { ttl: REFUSAL_LOG_TTL_MS }),
    };
    let auth;
    if (settings.client_secret !== undefined && settings.client_id !== undefined) {
      const tokenClient = env.client(new URL(target.url).origin);
      const basic = Buffer.from(`${encodeURIComponent(settings.client_id)}:${encodeURIComponent(settings.client_secret)}`).toString('base64');
      const cache = env.tokenCache(async (scope) => {
        const requestedAt = Date.now();
        const answer = await tokenClient.json(
          {
            method: 'POST',
            path: ATLAS_TOKEN_PATH,
            headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials',
          },
          scope,
        );
        return parseOAuthTokenAnswer(answer, requestedAt);
      });
      auth = tokenAuth(cache, (token) => ({ authorization: `Bearer ${token}` }));
    } else {
      // The schema requires one of the two ways; reaching here without a key pair is a config built around it.
      auth = digestAuth(settings.public_key ?? '', settings.private_key ?? '');
    }
    return {
      auth,
      async collect(outer) {
        const ctx: CollectContext = { ...outer, http: versioned(outer.http) };
        const sink = problems.sink(ctx);
        const projects = await listProjects(ctx, settings.projects, sink);
        // At most max_concurrency projects, and clusters, prepared at once: the pool bounds the
        // requests in flight, this bounds what waits for it.
        await mapLimited(projects, target.max_concurrency, async (project) => {
          const clusters: AtlasCluster[] = [];
          await readPages(ctx, `${API}/groups/${encodeURIComponent(project.id)}/clusters`, {}, PAGING, (items) => clusters.push(...mapClusters(items, project.name, sink)));
          await mapLimited(clusters, target.max_concurrency, (cluster) => collectCluster(ctx, state, project, cluster, sink));
        });
        sink.flush();
      },
    };
  },
});

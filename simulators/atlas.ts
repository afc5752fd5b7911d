/**
 * MongoDB Atlas simulator: the part of the Atlas Administration API v2 the exporter reads (projects,
 * clusters, cloud backup snapshots, restore jobs, backup schedules), behind both of Atlas's ways to
 * authenticate: API keys (HTTP Digest) and service accounts (OAuth 2 client credentials at
 * POST /api/oauth/token, then a bearer token valid for an hour).
 *
 * Faithful details (Atlas Admin API v2 specification and the public Go SDK's models, atlas-sdk-go
 * v20250312023: Group, ClusterDescription20240805, DiskBackupSnapshot, DiskBackupShardedClusterSnapshot,
 * DiskBackupSnapshotRestoreJob, DiskBackupSnapshotSchedule20240805, DiskBackupApiPolicyItem, ApiError):
 * - Every v2 call names a resource version in `Accept: application/vnd.atlas.<date>+json`; a date
 *   the resource does not have is refused with 406 (the reference does not list that error's code).
 * - Lists: `{links, results, totalCount}`, pageNum 1-based, itemsPerPage default 100 and at most
 *   500, includeCount=false leaves totalCount out.
 * - Errors: `{detail, error, errorCode, parameters, reason}`; 429 carries Retry-After and the
 *   RATE_LIMITED error code; a Digest 401 carries `WWW-Authenticate: Digest realm="MMS Public API"`.
 * - Clusters are addressed by name; backupEnabled says whether cloud backup is on (the older
 *   2023-02-01 shape says providerBackupEnabled); clusterType REPLICASET | SHARDED | GEOSHARDED.
 * - Snapshots: status queued | inProgress | completed | failed, createdAt, expiresAt,
 *   storageSizeBytes, frequencyType, snapshotType scheduled, type replicaSet; newest first.
 * - A sharded (or global) cluster's snapshots are listed only at .../backup/snapshots/shardedClusters
 *   ("Return All Sharded Cluster Cloud Backups"), one per cluster with its shards' and config
 *   server's parts in members and snapshotIds, type shardedCluster; its replica set list
 *   (.../backup/snapshots) is empty, and so is a replica set's sharded list. The specification lists
 *   no paging parameters for the sharded list: it answers every snapshot at once, with totalCount.
 * - Restore jobs have no status word: cancelled, failed and expired flags, createdAt (in the API's
 *   documented answers and the older Go client's CloudProviderSnapshotRestoreJob), finishedAt once
 *   done, deliveryType automated | download | pointInTime, expiresAt for downloads.
 * - The schedule's policies[].policyItems[] give frequencyType hourly | daily | weekly | monthly and
 *   frequencyInterval (hours for hourly items; the day for the others).
 *
 * The world, by position of a cluster in its project (every seventh repeats it): 0 has a restore that
 * is always in progress, 1 has cloud backup disabled, 2's newest snapshot failed, 3 is stale (backup
 * on, but its newest snapshot is three days old), 4 takes one snapshot a day, 5 is healthy, 6 is a
 * healthy sharded cluster (GEOSHARDED in every second project); all but 4 snapshot every six hours.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import { digestAuthentication } from './digest-server';
import type { DemoDefinition } from './demo';
import { createSimulator, ApiError, handleApiErrors as handle, mongodbApiError as apiError, queryValue, pageWindow, replayAnswers, sendJson, startSimulator, type Faults, type RunningSimulator, type Simulator } from './framework';
import { digest, draws, pick } from './seeded';

export const ATLAS_API_BASE = '/api/atlas/v2';
export const ATLAS_TOKEN_PATH = '/api/oauth/token';
export const ATLAS_DIGEST_REALM = 'MMS Public API';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const MAX_ITEMS_PER_PAGE = 500;
const DEFAULT_ITEMS_PER_PAGE = 100;
const MAX_TOKENS = 10_000;

/** The resource versions each path serves (Atlas Admin API specification, versions of each operation). */
const VERSIONS = {
  groups: ['2023-01-01'],
  clusters: ['2023-02-01', '2024-08-05'],
  snapshots: ['2023-01-01'],
  shardedSnapshots: ['2023-01-01'],
  restoreJobs: ['2023-01-01'],
  schedule: ['2023-01-01', '2024-08-05'],
} as const;

export interface AtlasSimulatorOptions {
  /** API key pair (Digest); leave out to accept service accounts only. */
  publicKey?: string;
  privateKey?: string;
  /** Service account (OAuth client credentials); read on every token request, so a test can rotate it. */
  serviceAccount?: { clientId: string; clientSecret: string };
  /** Lifetime of bearer tokens (default one hour, as Atlas documents). */
  tokenLifetimeMs?: number;
  projects?: number;
  clustersPerProject?: number;
  /** Snapshots listed per cluster (default 8: two days of six-hourly snapshots). */
  snapshotsPerCluster?: number;
  /** Restore jobs listed per cluster: the newest N, one every restoreIntervalMs. */
  restoresPerCluster?: number;
  restoreIntervalMs?: number;
  /** Typical run time of a restore (each varies by ±30 %). */
  restoreDurationMs?: number;
  clock?: () => number;
  seed?: string;
  faults?: Partial<Faults>;
}

interface Settings {
  tokenLifetimeMs: number;
  snapshotsPerCluster: number;
  restoresPerCluster: number;
  restoreIntervalMs: number;
  restoreDurationMs: number;
  clock: () => number;
  seed: string;
}

export interface AtlasProject {
  id: string;
  name: string;
  orgId: string;
  created: number;
}

export type ClusterRole = 'restoring' | 'disabled' | 'failed-snapshot' | 'stale' | 'daily' | 'healthy' | 'sharded';
const ROLES: readonly ClusterRole[] = ['restoring', 'disabled', 'failed-snapshot', 'stale', 'daily', 'healthy', 'sharded'];

export type ClusterType = 'REPLICASET' | 'SHARDED' | 'GEOSHARDED';

export interface AtlasCluster {
  id: string;
  name: string;
  groupId: string;
  role: ClusterRole;
  clusterType: ClusterType;
}

export interface AtlasSimulator extends Simulator {
  projects: readonly AtlasProject[];
  clusters: readonly AtlasCluster[];
  /** Every bearer token issued so far expires now. */
  expireTokens(): void;
  /** Every bearer token issued so far is forgotten. */
  revokeTokens(): void;
  /** Bearer tokens issued so far. */
  tokensIssued(): number;
}

export function createAtlasSimulator(options: AtlasSimulatorOptions): AtlasSimulator {
  const s: Settings = {
    tokenLifetimeMs: options.tokenLifetimeMs ?? HOUR_MS,
    snapshotsPerCluster: Math.max(0, options.snapshotsPerCluster ?? 8),
    restoresPerCluster: Math.max(0, options.restoresPerCluster ?? 4),
    restoreIntervalMs: Math.max(1, options.restoreIntervalMs ?? 30 * MINUTE_MS),
    restoreDurationMs: Math.max(1, options.restoreDurationMs ?? 10 * MINUTE_MS),
    clock: options.clock ?? Date.now,
    seed: options.seed ?? 'backup-exporter-atlas',
  };
  const world = buildWorld(options, s);
  const tokens = new TokenBook(s);
  const router = express.Router();
  router.post(ATLAS_TOKEN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), tokenHandler(options, tokens));
  router.use(ATLAS_API_BASE, authentication(options, s, tokens), replayAnswers, apiRouter(world, s));
  router.use(handle((req) => {
    throw notFound(req);
  }));
  const sim = createSimulator({
    name: 'atlas',
    router,
    faults: options.faults,
    control: controlRouter(world, tokens),
    errorBody: (status) => apiError(status, status === 429 ? 'RATE_LIMITED' : 'UNEXPECTED_ERROR', 'Unexpected error.').body,
  });
  return {
    ...sim,
    projects: world.projects,
    clusters: world.clusters,
    expireTokens: () => tokens.expireAll(),
    revokeTokens: () => tokens.revokeAll(),
    tokensIssued: () => tokens.issued,
  };
}

// ---------------------------------------------------------------------------------------------
// The world

const PROJECT_NAMES = ['Production', 'Staging', 'Analytics', 'Payments'];
const CLUSTER_NAMES = ['orders', 'catalog', 'sessions', 'billing', 'inventory', 'events', 'profiles', 'audit'];

interface World {
  seed: string;
  projects: AtlasProject[];
  clusters: AtlasCluster[];
  byGroup: Map<string, AtlasCluster[]>;
}

/** A 24-hex-digit id shaped like a MongoDB ObjectId: 4 bytes of creation time, then seeded hash bytes. */
function objectId(seed: string, atMs: number, ...parts: (string | number)[]): string {
  const seconds = Math.max(0, Math.floor(atMs / 1000)) % 2 ** 32;
  return seconds.toString(16).padStart(8, '0') + digest(seed, parts).toString('hex', 0, 8);
}

function numbered(names: readonly string[], i: number): string {
  const round = Math.floor(i / names.length);
  return round === 0 ? names[i % names.length]! : `${names[i % names.length]}-${round}`;
}

/** ISO-8601 UTC with milliseconds cut, the way Atlas writes times (2024-08-05T10:00:00Z). */
function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function buildWorld(o: AtlasSimulatorOptions, s: Settings): World {
  const origin = Date.UTC(2024, 0, 8);
  const world: World = { seed: s.seed, projects: [], clusters: [], byGroup: new Map() };
  const orgId = objectId(s.seed, origin - DAY_MS, 'org');
  for (let p = 0; p < Math.max(0, o.projects ?? 1); p++) {
    const created = origin + p * DAY_MS;
    const project = { id: objectId(s.seed, created, 'project', p), name: numbered(PROJECT_NAMES, p), orgId, created };
    world.projects.push(project);
    const clusters: AtlasCluster[] = [];
    for (let c = 0; c < Math.max(0, o.clustersPerProject ?? ROLES.length); c++) {
      const role = ROLES[c % ROLES.length]!;
      const clusterType: ClusterType = role !== 'sharded' ? 'REPLICASET' : p % 2 === 0 ? 'SHARDED' : 'GEOSHARDED';
      const cluster = { id: objectId(s.seed, created + (c + 1) * HOUR_MS, 'cluster', project.id, c), name: numbered(CLUSTER_NAMES, c), groupId: project.id, role, clusterType };
      clusters.push(cluster);
      world.clusters.push(cluster);
    }
    world.byGroup.set(project.id, clusters);
  }
  return world;
}

// ---------------------------------------------------------------------------------------------
// Snapshots (derived from the clock, newest first)

function snapshotIntervalMs(cluster: AtlasCluster): number {
  return cluster.role === 'daily' ? DAY_MS : 6 * HOUR_MS;
}

/** How long taking a snapshot lasts: the newest is queued, then in progress, meanwhile. */
const SNAPSHOT_QUEUED_MS = 2 * MINUTE_MS;
const SNAPSHOT_DURATION_MS = 12 * MINUTE_MS;

interface SnapshotSlots {
  newest: number;
  count: number;
  phase: number;
  interval: number;
}

function snapshotSlots(world: World, s: Settings, cluster: AtlasCluster, now: number): SnapshotSlots {
  const interval = snapshotIntervalMs(cluster);
  if (cluster.role === 'disabled') return { newest: 0, count: 0, phase: 0, interval };
  const phase = Math.floor(draws(world.seed, 'snapshot-phase', cluster.id)[0]! * interval);
  const until = cluster.role === 'stale' ? now - 3 * DAY_MS : now;
  const newest = Math.floor((until - phase) / interval);
  return { newest, count: Math.max(0, Math.min(s.snapshotsPerCluster, newest + 1)), phase, interval };
}

function snapshotStatus(cluster: AtlasCluster, slots: SnapshotSlots, n: number, now: number): string {
  const age = now - (slots.phase + n * slots.interval);
  if (age < SNAPSHOT_QUEUED_MS) return 'queued';
  if (age < SNAPSHOT_DURATION_MS) return 'inProgress';
  // The newest finished snapshot of a failed-snapshot cluster failed.
  const newestDone = age - slots.interval < SNAPSHOT_DURATION_MS;
  return cluster.role === 'failed-snapshot' && newestDone ? 'failed' : 'completed';
}

function isSharded(cluster: AtlasCluster): boolean {
  return cluster.clusterType !== 'REPLICASET';
}

/** The parts of a sharded cluster's snapshot: two shards and the config server. */
const SHARD_MEMBERS = ['shard-0', 'shard-1', 'config-0'];

function snapshotJson(world: World, cluster: AtlasCluster, slots: SnapshotSlots, n: number, now: number, origin: string): Record<string, unknown> {
  const taken = slots.phase + n * slots.interval;
  const id = objectId(world.seed, taken, 'snapshot', cluster.id, n);
  const daily = cluster.role === 'daily';
  if (isSharded(cluster)) {
    const members = SHARD_MEMBERS.map((member) => ({ cloudProvider: 'AWS', id: objectId(world.seed, taken, 'snapshot', cluster.id, n, member), replicaSetName: `atlas-${cluster.id.slice(-6)}-${member}` }));
    return {
      createdAt: iso(taken),
      expiresAt: iso(taken + 2 * DAY_MS),
      frequencyType: 'hourly',
      id,
      links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.name}/backup/snapshots/shardedCluster/${id}`)],
      members,
      mongodVersion: '7.0.14',
      policyItems: [policyItemId(world, cluster, 'hourly')],
      snapshotIds: members.map((member) => member.id),
      snapshotType: 'scheduled',
      status: snapshotStatus(cluster, slots, n, now),
      storageSizeBytes: Math.floor(draws(world.seed, 'snapshot-size', cluster.id, n)[0]! * 4e10) + 1e8,
      type: 'shardedCluster',
    };
  }
  return {
    cloudProvider: 'AWS',
    copyRegions: [],
    createdAt: iso(taken),
    expiresAt: iso(taken + (daily ? 7 : 2) * DAY_MS),
    frequencyType: daily ? 'daily' : 'hourly',
    id,
    links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.name}/backup/snapshots/${id}`)],
    mongodVersion: '7.0.14',
    policyItems: [policyItemId(world, cluster, daily ? 'daily' : 'hourly')],
    replicaSetName: `atlas-${cluster.id.slice(-6)}-shard-0`,
    snapshotType: 'scheduled',
    status: snapshotStatus(cluster, slots, n, now),
    storageSizeBytes: Math.floor(draws(world.seed, 'snapshot-size', cluster.id, n)[0]! * 4e10) + 1e8,
    type: 'replicaSet',
  };
}

// ---------------------------------------------------------------------------------------------
// Restore jobs (slot n of a cluster is requested at phase + n * interval)

function restoreSlots(world: World, s: Settings, cluster: AtlasCluster, now: number): { newest: number; count: number; phase: number } {
  if (cluster.role === 'disabled') return { newest: 0, count: 0, phase: 0 };
  const phase = Math.floor(draws(world.seed, 'restore-phase', cluster.id)[0]! * s.restoreIntervalMs);
  const newest = Math.floor((now - phase) / s.restoreIntervalMs);
  return { newest, count: Math.max(0, Math.min(s.restoresPerCluster, newest + 1)), phase };
}

function restoreJobJson(world: World, s: Settings, cluster: AtlasCluster, n: number, phase: number, now: number, origin: string): Record<string, unknown> {
  const created = phase + n * s.restoreIntervalMs;
  const r = draws(world.seed, 'restore', cluster.id, n);
  // The restoring cluster's restores outlast the interval between them: its newest is always running.
  const duration = cluster.role === 'restoring' ? 1.5 * s.restoreIntervalMs : Math.round(s.restoreDurationMs * (0.7 + 0.6 * r[0]!));
  const deliveryType = pick(['automated', 'automated', 'download', 'pointInTime'] as const, r[1]!);
  const outcome = r[2]! < 0.8 ? 'finished' : r[2]! < 0.9 ? 'failed' : 'cancelled';
  const done = now >= created + duration;
  const id = objectId(world.seed, created, 'restore', cluster.id, n);
  const snapshotAt = created - (1 + Math.floor(r[3]! * 23)) * HOUR_MS;
  const job: Record<string, unknown> = {
    cancelled: done && outcome === 'cancelled',
    createdAt: iso(created),
    deliveryType,
    expired: false,
    failed: done && outcome === 'failed',
    id,
    links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.name}/backup/restoreJobs/${id}`)],
    snapshotId: objectId(world.seed, snapshotAt, 'snapshot', cluster.id, 'restored', n),
    timestamp: iso(snapshotAt),
  };
  if (done && outcome === 'finished') job.finishedAt = iso(created + duration);
  if (deliveryType === 'download') {
    const expiresAt = created + duration + 4 * HOUR_MS;
    job.expiresAt = iso(expiresAt);
    if (done && outcome === 'finished') {
      job.expired = now >= expiresAt;
      job.deliveryUrl = [`${origin}/backup/restore/${id}/download.tar.gz`];
    }
  } else {
    job.targetClusterName = cluster.name;
    job.targetGroupId = cluster.groupId;
  }
  if (deliveryType === 'pointInTime') job.pointInTimeUTCSeconds = Math.floor(snapshotAt / 1000) + 600;
  return job;
}

// ---------------------------------------------------------------------------------------------
// Backup schedule

function policyItemId(world: World, cluster: AtlasCluster, type: string): string {
  return objectId(world.seed, Date.UTC(2024, 0, 8), 'policy-item', cluster.id, type);
}

function scheduleJson(world: World, cluster: AtlasCluster, now: number, origin: string): Record<string, unknown> {
  const item = (frequencyType: string, frequencyInterval: number, retentionUnit: string, retentionValue: number) => ({
    frequencyInterval,
    frequencyType,
    id: policyItemId(world, cluster, frequencyType),
    retentionUnit,
    retentionValue,
  });
  const items = [item('daily', 1, 'days', 7), item('weekly', 6, 'weeks', 4), item('monthly', 40, 'months', 12)];
  if (cluster.role !== 'daily') items.unshift(item('hourly', 6, 'days', 2));
  const interval = snapshotIntervalMs(cluster);
  return {
    autoExportEnabled: false,
    clusterId: cluster.id,
    clusterName: cluster.name,
    copySettings: [],
    links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.name}/backup/schedule`)],
    nextSnapshot: iso((Math.floor(now / interval) + 1) * interval),
    policies: [{ id: objectId(world.seed, Date.UTC(2024, 0, 8), 'policy', cluster.id), policyItems: items }],
    referenceHourOfDay: 3,
    referenceMinuteOfHour: 0,
    restoreWindowDays: 2,
    useOrgAndGroupNamesInExportPrefix: false,
  };
}

// ---------------------------------------------------------------------------------------------
// API routes

function notFound(req: express.Request): ApiError {
  const path = req.originalUrl.split('?')[0]!;
  return apiError(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]);
}

function positiveInt(req: express.Request, name: string, fallback: number, max: number): number {
  const raw = queryValue(req, name);
  if (raw === undefined) return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= max)) throw apiError(400, 'INVALID_QUERY_PARAMETER', `Invalid value ${raw} for query parameter ${name}.`, [name, raw]);
  return value;
}

function originOf(req: express.Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

function selfLink(href: string): { href: string; rel: string } {
  return { href, rel: 'self' };
}

/** A list answer, asking `item` only for the indices on the requested page. */
function listBody(req: express.Request, totalCount: number, item: (index: number) => unknown): unknown {
  const pageNum = positiveInt(req, 'pageNum', 1, Number.MAX_SAFE_INTEGER);
  const itemsPerPage = positiveInt(req, 'itemsPerPage', DEFAULT_ITEMS_PER_PAGE, MAX_ITEMS_PER_PAGE);
  const window = pageWindow(totalCount, pageNum, itemsPerPage);
  const results: unknown[] = [];
  for (let i = window.start; i < window.end; i++) results.push(item(i));
  const body: Record<string, unknown> = { links: [selfLink(`${originOf(req)}${req.originalUrl}`)], results };
  if (queryValue(req, 'includeCount') !== 'false') body.totalCount = totalCount;
  return body;
}

/** Refuses a request whose Accept header names no version this resource has. */
function requireVersion(req: express.Request, versions: readonly string[]): void {
  const accept = req.get('accept') ?? '';
  const dates = [...accept.matchAll(/application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2})\+json/g)].map((m) => m[1]!);
  if (dates.some((date) => versions.includes(date))) return;
  throw apiError(406, 'INVALID_VERSION_DATE', `The requested version is not supported; this resource has ${versions.join(', ')}.`, [accept]);
}

function param(req: express.Request, name: string): string {
  return String(req.params[name] ?? '');
}

function projectOf(world: World, groupId: string): AtlasProject {
  if (!/^[0-9a-f]{24}$/.test(groupId)) throw apiError(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId]);
  const project = world.projects.find((p) => p.id === groupId);
  if (!project) throw apiError(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId]);
  return project;
}

function clusterOf(world: World, groupId: string, name: string): AtlasCluster {
  const project = projectOf(world, groupId);
  const cluster = world.byGroup.get(project.id)!.find((c) => c.name === name);
  if (!cluster) throw apiError(404, 'CLUSTER_NOT_FOUND', `No cluster named ${name} exists in group ${groupId}.`, [name, groupId]);
  return cluster;
}

function projectJson(world: World, p: AtlasProject, origin: string): Record<string, unknown> {
  return {
    clusterCount: world.byGroup.get(p.id)!.length,
    created: iso(p.created),
    id: p.id,
    links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${p.id}`)],
    name: p.name,
    orgId: p.orgId,
    tags: [],
  };
}

function clusterJson(cluster: AtlasCluster, legacy: boolean, origin: string): Record<string, unknown> {
  const backup = cluster.role !== 'disabled';
  const json: Record<string, unknown> = {
    backupEnabled: backup,
    clusterType: cluster.clusterType,
    createDate: iso(parseInt(cluster.id.slice(0, 8), 16) * 1000),
    groupId: cluster.groupId,
    id: cluster.id,
    links: [selfLink(`${origin}${ATLAS_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.name}`)],
    mongoDBMajorVersion: '7.0',
    mongoDBVersion: '7.0.14',
    name: cluster.name,
    paused: false,
    pitEnabled: cluster.role === 'healthy',
    stateName: 'IDLE',
  };
  // The 2023-02-01 shape names the cloud backup flag providerBackupEnabled (backupEnabled is the legacy backup there).
  if (legacy) {
    json.backupEnabled = false;
    json.providerBackupEnabled = backup;
  }
  return json;
}

function apiRouter(world: World, s: Settings): express.Router {
  const r = express.Router();
  r.get('/groups', handle((req, res) => {
    requireVersion(req, VERSIONS.groups);
    const origin = originOf(req);
    sendJson(res, 200, listBody(req, world.projects.length, (i) => projectJson(world, world.projects[i]!, origin)));
  }));
  r.get('/groups/:groupId', handle((req, res) => {
    requireVersion(req, VERSIONS.groups);
    sendJson(res, 200, projectJson(world, projectOf(world, param(req, 'groupId')), originOf(req)));
  }));
  r.get('/groups/:groupId/clusters', handle((req, res) => {
    requireVersion(req, VERSIONS.clusters);
    const clusters = world.byGroup.get(projectOf(world, param(req, 'groupId')).id)!;
    const legacy = !(req.get('accept') ?? '').includes('2024-08-05');
    const origin = originOf(req);
    sendJson(res, 200, listBody(req, clusters.length, (i) => clusterJson(clusters[i]!, legacy, origin)));
  }));
  r.get('/groups/:groupId/clusters/:clusterName/backup/snapshots', handle((req, res) => {
    requireVersion(req, VERSIONS.snapshots);
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterName'));
    const now = s.clock();
    const slots = snapshotSlots(world, s, cluster, now);
    const origin = originOf(req);
    // A sharded cluster's snapshots are not in the replica set list.
    const count = isSharded(cluster) ? 0 : slots.count;
    sendJson(res, 200, listBody(req, count, (i) => snapshotJson(world, cluster, slots, slots.newest - i, now, origin)));
  }));
  r.get('/groups/:groupId/clusters/:clusterName/backup/snapshots/shardedClusters', handle((req, res) => {
    requireVersion(req, VERSIONS.shardedSnapshots);
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterName'));
    const now = s.clock();
    const slots = snapshotSlots(world, s, cluster, now);
    const origin = originOf(req);
    const results: unknown[] = [];
    if (isSharded(cluster)) for (let i = 0; i < slots.count; i++) results.push(snapshotJson(world, cluster, slots, slots.newest - i, now, origin));
    // No paging parameters: every snapshot on one answer.
    sendJson(res, 200, { links: [selfLink(`${origin}${req.originalUrl}`)], results, totalCount: results.length });
  }));
  r.get('/groups/:groupId/clusters/:clusterName/backup/restoreJobs', handle((req, res) => {
    requireVersion(req, VERSIONS.restoreJobs);
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterName'));
    const now = s.clock();
    const slots = restoreSlots(world, s, cluster, now);
    const origin = originOf(req);
    sendJson(res, 200, listBody(req, slots.count, (i) => restoreJobJson(world, s, cluster, slots.newest - i, slots.phase, now, origin)));
  }));
  r.get('/groups/:groupId/clusters/:clusterName/backup/schedule', handle((req, res) => {
    requireVersion(req, VERSIONS.schedule);
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterName'));
    // What Atlas answers for a cluster without cloud backup is not in the reference; the exporter does not ask.
    if (cluster.role === 'disabled') throw apiError(400, 'CLOUD_BACKUP_NOT_ENABLED', `Cloud backup is not enabled for cluster ${cluster.name}.`, [cluster.name]);
    sendJson(res, 200, scheduleJson(world, cluster, s.clock(), originOf(req)));
  }));
  r.use(handle((req) => {
    throw notFound(req);
  }));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Authentication: Digest API keys and OAuth bearer tokens

class TokenBook {
  /** token -> expiry (epoch ms of the simulator's clock), oldest first. */
  private readonly tokens = new Map<string, number>();
  issued = 0;

  constructor(private readonly s: Settings) {}

  issue(): { token: string; expiresInSeconds: number } {
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    const token = randomBytes(30).toString('base64url');
    this.tokens.set(token, this.s.clock() + this.s.tokenLifetimeMs);
    this.issued++;
    return { token, expiresInSeconds: Math.round(this.s.tokenLifetimeMs / 1000) };
  }

  valid(token: string): boolean {
    const expires = this.tokens.get(token);
    return expires !== undefined && this.s.clock() < expires;
  }

  expireAll(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  revokeAll(): void {
    this.tokens.clear();
  }
}

/** OAuth 2 client credentials (RFC 6749 section 4.4): client id and secret in HTTP Basic, form body. */
function tokenHandler(o: AtlasSimulatorOptions, tokens: TokenBook): express.RequestHandler {
  return (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (body.grant_type !== 'client_credentials') {
      return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'Only client_credentials is supported.' });
    }
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.get('authorization') ?? '');
    const [id, secret] = basic ? decodeBasic(basic[1]!) : [];
    const account = o.serviceAccount;
    if (!account || id !== account.clientId || secret !== account.clientSecret) {
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'Invalid client credentials.' }, { 'WWW-Authenticate': 'Basic realm="Atlas"' });
    }
    const { token, expiresInSeconds } = tokens.issue();
    sendJson(res, 200, { access_token: token, expires_in: expiresInSeconds, token_type: 'Bearer' });
  };
}

/** The form-encoded client id and secret of an HTTP Basic value (RFC 6749 section 2.3.1); empty if malformed. */
function decodeBasic(value: string): string[] {
  try {
    return Buffer.from(value, 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
  } catch {
    return [];
  }
}

function authentication(o: AtlasSimulatorOptions, s: Settings, tokens: TokenBook): express.RequestHandler {
  const refuse = (res: express.Response, challenge?: string) =>
    sendJson(res, 401, apiError(401, 'NOT_AUTHORIZED', 'You are not authorized for this resource.').body, challenge ? { 'WWW-Authenticate': challenge } : {});
  const digestGuard = digestAuthentication({
    realm: ATLAS_DIGEST_REALM,
    algorithm: 'MD5',
    clock: s.clock,
    nonceLifetimeMs: 5 * MINUTE_MS,
    passwordFor: (user) => (o.publicKey !== undefined && user === o.publicKey ? o.privateKey : undefined),
    refuse,
  });
  return (req, res, next) => {
    const bearer = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '');
    if (!bearer) return digestGuard(req, res, next);
    if (tokens.valid(bearer[1]!)) return next();
    refuse(res);
  };
}

function controlRouter(world: World, tokens: TokenBook): express.Router {
  const router = express.Router();
  router.get('/info', (_req, res) => sendJson(res, 200, { projects: world.projects, clusters: world.clusters, tokensIssued: tokens.issued }));
  router.post('/expire-tokens', (_req, res) => {
    tokens.expireAll();
    sendJson(res, 200, { expired: true });
  });
  router.post('/revoke-tokens', (_req, res) => {
    tokens.revokeAll();
    sendJson(res, 200, { revoked: true });
  });
  return router;
}

// ---------------------------------------------------------------------------------------------
// Demo

export const DEMO_ATLAS_PUBLIC_KEY = 'demo-atlas-public-key';
export const DEMO_ATLAS_PRIVATE_KEY = 'demo-atlas-private-key';
export const DEMO_ATLAS_CLIENT_ID = 'mdb_sa_id_demo';
export const DEMO_ATLAS_CLIENT_SECRET = 'mdb_sa_sk_demo-secret-do-not-use-in-production';

/** The demo's Atlas: two projects of seven clusters, a restore every ten minutes lasting about three. */
export function startDemo(listen: { host: string; port: number }): Promise<RunningSimulator> {
  const sim = createAtlasSimulator({
    publicKey: DEMO_ATLAS_PUBLIC_KEY,
    privateKey: DEMO_ATLAS_PRIVATE_KEY,
    serviceAccount: { clientId: DEMO_ATLAS_CLIENT_ID, clientSecret: DEMO_ATLAS_CLIENT_SECRET },
    projects: 2,
    clustersPerProject: 7,
    restoresPerCluster: 12,
    restoreIntervalMs: 10 * MINUTE_MS,
    restoreDurationMs: 3 * MINUTE_MS,
  });
  return startSimulator(sim.app, listen);
}

/** This product in the demo: its name (the simulators' flag and product argument), title and default port. */
export const demo = { product: 'atlas', title: 'MongoDB Atlas', port: 19105, start: startDemo } as const satisfies DemoDefinition;

/**
 * MongoDB Ops Manager simulator: the part of the public API (v1.0) the exporter reads, with the
 * product's Digest authentication, paging, error bodies and quirks, and restore jobs that are
 * created and finish as the clock moves.
 *
 * Everything is derived from a seed and the clock, never stored per job, so a benchmark-sized
 * simulator (hundreds of clusters, hundreds of jobs each) costs only the page being asked for.
 *
 * Faithful details (from the Ops Manager API reference and client libraries):
 * - 401 answers carry `WWW-Authenticate: Digest realm="MMS Public API", domain="", nonce=..,
 *   algorithm=MD5, qop="auth", stale=false`, `application/json;charset=ISO-8859-1` and the body
 *   `{"detail":"You are not authorized for this resource.","error":401,"reason":"Unauthorized"}`
 *   (no errorCode on that one).
 * - Other errors: `{detail, error, errorCode, parameters, reason}`.
 * - Lists: `{links: [{href, rel: "self"|"next"|"previous"}], results, totalCount}`; pageNum is
 *   1-based, itemsPerPage defaults to 100, at most 500.
 * - A project's cluster list holds the sharded cluster and, besides it, one REPLICA_SET entity per
 *   shard (clusterName = the parent's, with shardName) and the CONFIG_SERVER_REPLICA_SET.
 * - GET /clusters answers one entry per project with its clusters nested (a different shape).
 * - A sharded cluster's restore is a batch: one job per shard plus one for the config server,
 *   all with the same batchId; each job's clusterId is its shard's (or config server's) id.
 * - Automated restores are reported with delivery.methodName HTTP; QUERY is the other method.
 * - Backup (Ops Manager API reference; the Go client's BackupConfig, ContinuousSnapshot,
 *   SnapshotSchedule and Alert structs): GET /groups/{g}/backupConfigs lists one configuration per
 *   cluster whose backup was ever set up (statusName STARTED, STOPPED, ...); a cluster never set up
 *   has none. Snapshots are listed newest first, `created` is a BSON timestamp {date, increment},
 *   a sharded cluster's snapshot has one part per shard and one for the config server.
 *   GET /groups/{g}/alerts?status=OPEN lists the open alerts; alerts about backup carry clusterId.
 *
 * The backup world, by position of a cluster in the list of restorable clusters (every sixth
 * repeats it): 0 backs up on schedule and has an open RESYNC_REQUIRED alert (closeAlerts() closes
 * it), 1 was STOPPED a day ago, 3 was never configured, 4 is STARTED but its newest snapshot is
 * three days old; the rest back up every six hours.
 */
import { createHash } from 'node:crypto';
import express from 'express';
import { createSimulator, ApiError, type Handler, handleApiErrors, mongodbApiError as apiError, queryValue, pageWindow, replayAnswers, sendJson, startSimulator, type Faults, type RunningSimulator, type Simulator } from './framework';
import type { DemoDefinition } from './demo';
import { digestAuthentication, type DigestAlgorithm } from './digest-server';
import { digest, draws, pick } from './seeded';

export const OPS_MANAGER_API_BASE = '/api/public/v1.0';
export const OPS_MANAGER_REALM = 'MMS Public API';

const MAX_ITEMS_PER_PAGE = 500;
const DEFAULT_ITEMS_PER_PAGE = 100;
const MAX_FORCED_FAILURES = 10_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const SERVICE_VERSION = 'gitHash=0000000000000000000000000000000000000000; versionString=7.0.0.sim';

export interface OpsManagerSimulatorOptions {
  publicKey: string;
  privateKey: string;
  algorithm?: 'MD5' | 'SHA-256';
  /** How long a nonce is accepted before answers with it get 401 stale=true (default 5 min). */
  nonceLifetimeMs?: number;
  projects?: number;
  clustersPerProject?: number;
  /** Every Nth cluster of a project is sharded (0 = none; default 3). */
  shardedEvery?: number;
  /** Shards per sharded cluster (default 2); each restore batch has this many jobs plus one for the config server. */
  shardsPerCluster?: number;
  /** Restore requests listed per cluster: the newest N, one every jobIntervalMs. */
  jobsPerCluster?: number;
  jobIntervalMs?: number;
  /** Typical run time of a restore job (each job varies by ±30%). */
  jobDurationMs?: number;
  /** Snapshots kept per cluster, one every six hours (default 28: a week). */
  snapshotsPerCluster?: number;
  clock?: () => number;
  seed?: string;
  faults?: Partial<Faults>;
}

export type BackupStatus = 'STARTED' | 'STOPPED' | 'INACTIVE' | 'TERMINATING' | 'PROVISIONING';

/** How a cluster is backed up in the simulated world. */
export interface ClusterBackup {
  /** Undefined: never configured (no backup configuration, no snapshots). */
  status?: BackupStatus;
  /** When the newest snapshot was taken, at the latest (stopped or stalled backups). */
  snapshotsUntil?: number;
}

export interface OpsManagerProject {
  id: string;
  name: string;
  orgId: string;
  created: number;
}

export type ClusterTypeName = 'REPLICA_SET' | 'SHARDED_REPLICA_SET' | 'CONFIG_SERVER_REPLICA_SET';

export interface OpsManagerCluster {
  id: string;
  groupId: string;
  clusterName: string;
  typeName: ClusterTypeName;
  replicaSetName?: string;
  shardName?: string;
  /** Set on shard and config server entities: the sharded cluster they belong to. */
  parentId?: string;
}

export interface FailNextResult {
  groupId: string;
  clusterId: string;
  /** When the doomed job(s) will be created. */
  created: string;
  jobIds: string[];
  batchId?: string;
}

export interface OpsManagerSimulator extends Simulator {
  projects: readonly OpsManagerProject[];
  projectIds: string[];
  /** Clusters restores are requested for: replica sets and sharded clusters (no shard entities). */
  clusters: readonly OpsManagerCluster[];
  /** Everything GET /groups/{g}/clusters lists, shard and config server entities included. */
  allClusters: readonly OpsManagerCluster[];
  /** Makes the next restore to be created BROKEN (on one cluster, or the soonest across all). */
  failNext(clusterId?: string): FailNextResult;
  /** How each restorable cluster is backed up (clock-relative times resolved now). */
  backupOf(clusterId: string): ClusterBackup;
  /** Closes every open alert (they stay listed as CLOSED). */
  closeAlerts(): void;
}

interface Settings {
  algorithm: DigestAlgorithm;
  nonceLifetimeMs: number;
  jobsPerCluster: number;
  jobIntervalMs: number;
  jobDurationMs: number;
  shardsPerCluster: number;
  snapshotsPerCluster: number;
  clock: () => number;
  seed: string;
}

export function createOpsManagerSimulator(options: OpsManagerSimulatorOptions): OpsManagerSimulator {
  const settings = settingsFrom(options);
  const world = buildWorld(options, settings);
  const forced = new ForcedFailures();
  const alerts = new AlertBook(world, settings);
  const api = apiRouter(world, settings, forced);
  backupRoutes(api, world, settings, alerts);
  api.use(handle((req) => {
    throw notFound(req);
  }));
  const router = express.Router();
  router.use(OPS_MANAGER_API_BASE, serviceHeaders, digestGuard(options, settings), replayAnswers, api);
  router.use(handle((req) => {
    throw notFound(req);
  }));
  const sim = createSimulator({
    name: 'opsmanager',
    router,
    faults: options.faults,
    control: controlRouter(world, settings, forced, alerts),
    errorBody: (status) => apiError(status, status === 429 ? 'RATE_LIMITED' : 'UNEXPECTED_ERROR', 'Unexpected error.').body,
    onReset: () => {
      forced.clear();
      alerts.reopen();
    },
  });
  return {
    ...sim,
    projects: world.projects,
    projectIds: world.projects.map((p) => p.id),
    clusters: world.restorable,
    allClusters: world.allClusters,
    failNext: (clusterId) => failNext(world, settings, forced, clusterId),
    backupOf: (clusterId) => backupOf(world, settings, clusterId, settings.clock()),
    closeAlerts: () => alerts.close(),
  };
}

function settingsFrom(o: OpsManagerSimulatorOptions): Settings {
  return {
    algorithm: o.algorithm ?? 'MD5',
    nonceLifetimeMs: o.nonceLifetimeMs ?? 5 * 60_000,
    jobsPerCluster: Math.max(0, o.jobsPerCluster ?? 20),
    jobIntervalMs: Math.max(1, o.jobIntervalMs ?? 2 * 60_000),
    jobDurationMs: Math.max(1, o.jobDurationMs ?? 45_000),
    shardsPerCluster: Math.max(1, o.shardsPerCluster ?? 2),
    snapshotsPerCluster: Math.max(0, o.snapshotsPerCluster ?? 28),
    clock: o.clock ?? Date.now,
    seed: o.seed ?? 'backup-exporter',
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic identifiers and numbers


/** A 24-hex-char id shaped like a MongoDB ObjectId: 4 bytes of creation time, then seeded hash bytes. */
function objectId(seed: string, atMs: number, ...parts: (string | number)[]): string {
  const seconds = Math.max(0, Math.floor(atMs / 1000)) % 2 ** 32;
  return seconds.toString(16).padStart(8, '0') + digest(seed, parts).toString('hex', 0, 8);
}



/** ISO-8601 UTC without milliseconds, the way the product writes dates (2016-03-04T22:07:27Z). */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------------------------
// Projects and clusters (small, built once)

const PROJECT_NAMES = ['Production', 'Staging', 'Analytics', 'Payments', 'Customer-Data', 'Reporting', 'Logistics', 'Identity'];
const CLUSTER_NAMES = ['orders', 'catalog', 'sessions', 'billing', 'inventory', 'events', 'profiles', 'audit'];

interface World {
  seed: string;
  orgId: string;
  projects: OpsManagerProject[];
  projectsById: Map<string, OpsManagerProject>;
  allClusters: OpsManagerCluster[];
  clustersByGroup: Map<string, OpsManagerCluster[]>;
  clustersById: Map<string, OpsManagerCluster>;
  restorable: OpsManagerCluster[];
  /** Shard entities then config server, in batch order, per sharded cluster id. */
  members: Map<string, OpsManagerCluster[]>;
}

function numbered(names: readonly string[], i: number): string {
  const round = Math.floor(i / names.length);
  return round === 0 ? names[i % names.length]! : `${names[i % names.length]}-${round}`;
}

function buildWorld(o: OpsManagerSimulatorOptions, s: Settings): World {
  const origin = Date.UTC(2023, 0, 2);
  const world: World = {
    seed: s.seed,
    orgId: objectId(s.seed, origin - DAY_MS, 'org'),
    projects: [],
    projectsById: new Map(),
    allClusters: [],
    clustersByGroup: new Map(),
    clustersById: new Map(),
    restorable: [],
    members: new Map(),
  };
  const projectCount = Math.max(0, o.projects ?? 2);
  for (let p = 0; p < projectCount; p++) {
    const created = origin + p * DAY_MS;
    const project = { id: objectId(s.seed, created, 'project', p), name: numbered(PROJECT_NAMES, p), orgId: world.orgId, created };
    world.projects.push(project);
    world.projectsById.set(project.id, project);
    world.clustersByGroup.set(project.id, []);
    addClusters(world, project, o, s);
  }
  return world;
}

function addClusters(world: World, project: OpsManagerProject, o: OpsManagerSimulatorOptions, s: Settings): void {
  const count = Math.max(0, o.clustersPerProject ?? 3);
  const shardedEvery = Math.max(0, o.shardedEvery ?? 3);
  for (let c = 0; c < count; c++) {
    const name = numbered(CLUSTER_NAMES, c);
    const discovered = project.created + (c + 1) * HOUR_MS;
    const id = objectId(s.seed, discovered, 'cluster', project.id, c);
    const sharded = shardedEvery > 0 && (c + 1) % shardedEvery === 0;
    if (!sharded) {
      addCluster(world, { id, groupId: project.id, clusterName: name, typeName: 'REPLICA_SET', replicaSetName: name }, true);
      continue;
    }
    const parent: OpsManagerCluster = { id, groupId: project.id, clusterName: name, typeName: 'SHARDED_REPLICA_SET' };
    addCluster(world, parent, true);
    world.members.set(id, shardEntities(parent, discovered, s));
    for (const member of world.members.get(id)!) addCluster(world, member, false);
  }
}

function shardEntities(parent: OpsManagerCluster, discovered: number, s: Settings): OpsManagerCluster[] {
  const members: OpsManagerCluster[] = [];
  for (let k = 0; k < s.shardsPerCluster; k++) {
    const rs = `${parent.clusterName}-shard-${k}`;
    members.push({
      id: objectId(s.seed, discovered + (k + 1) * 1000, 'shard', parent.id, k),
      groupId: parent.groupId,
      clusterName: parent.clusterName,
      typeName: 'REPLICA_SET',
      replicaSetName: rs,
      shardName: rs,
      parentId: parent.id,
    });
  }
  members.push({
    id: objectId(s.seed, discovered + (s.shardsPerCluster + 1) * 1000, 'config', parent.id),
    groupId: parent.groupId,
    clusterName: parent.clusterName,
    typeName: 'CONFIG_SERVER_REPLICA_SET',
    replicaSetName: `${parent.clusterName}-config-0`,
    parentId: parent.id,
  });
  return members;
}

function addCluster(world: World, cluster: OpsManagerCluster, restorable: boolean): void {
  world.allClusters.push(cluster);
  world.clustersById.set(cluster.id, cluster);
  world.clustersByGroup.get(cluster.groupId)!.push(cluster);
  if (restorable) world.restorable.push(cluster);
}

// ---------------------------------------------------------------------------------------------
// Restore jobs (derived on demand from cluster, slot number and clock)

/**
 * Slot n of a cluster is the restore requested at phase + n * interval; the newest slot is the
 * last one at or before now, and the list shows the newest jobsPerCluster slots.
 */
interface Schedule {
  cluster: OpsManagerCluster;
  /** Jobs per slot: 1 for a replica set, shards + config server for a sharded cluster. */
  members: OpsManagerCluster[];
  phase: number;
  newest: number;
}

function scheduleOf(world: World, s: Settings, cluster: OpsManagerCluster, now: number): Schedule {
  const members = world.members.get(cluster.id) ?? [cluster];
  const phase = Math.floor(draws(s.seed, 'phase', cluster.id)[0]! * s.jobIntervalMs);
  return { cluster, members, phase, newest: Math.floor((now - phase) / s.jobIntervalMs) };
}

function slotTime(sched: Schedule, s: Settings, n: number): number {
  return sched.phase + n * s.jobIntervalMs;
}

function inWindow(sched: Schedule, s: Settings, n: number): boolean {
  return n <= sched.newest && n > sched.newest - s.jobsPerCluster;
}

function jobCount(sched: Schedule, s: Settings): number {
  return s.jobsPerCluster * sched.members.length;
}

function jobId(world: World, sched: Schedule, s: Settings, n: number, m: number): string {
  return objectId(world.seed, slotTime(sched, s, n), 'job', sched.cluster.id, n, m);
}

function batchIdOf(world: World, sched: Schedule, s: Settings, n: number): string {
  return objectId(world.seed, slotTime(sched, s, n), 'batch', sched.cluster.id, n);
}

/** Slot numbers whose creation time falls in the second an ObjectId-shaped id names. */
function slotsNamedBy(sched: Schedule, s: Settings, id: string): number[] {
  if (!/^[0-9a-f]{24}$/.test(id)) return [];
  const ms = parseInt(id.slice(0, 8), 16) * 1000;
  const first = Math.ceil((ms - sched.phase) / s.jobIntervalMs);
  const last = Math.floor((ms + 999 - sched.phase) / s.jobIntervalMs);
  const out: number[] = [];
  for (let n = first; n <= last && out.length < 1000; n++) if (inWindow(sched, s, n)) out.push(n);
  return out;
}

function findJob(world: World, sched: Schedule, s: Settings, id: string): { n: number; m: number } | undefined {
  for (const n of slotsNamedBy(sched, s, id)) {
    for (let m = 0; m < sched.members.length; m++) if (jobId(world, sched, s, n, m) === id) return { n, m };
  }
  return undefined;
}

function findBatch(world: World, sched: Schedule, s: Settings, batchId: string): number | undefined {
  if (sched.members.length === 1) return undefined;
  return slotsNamedBy(sched, s, batchId).find((n) => batchIdOf(world, sched, s, n) === batchId);
}

/** Slots forced to end BROKEN (fail-next), bounded so a long demo cannot grow it without limit. */
class ForcedFailures {
  private readonly slots = new Set<string>();
  has(clusterId: string, n: number): boolean {
    return this.slots.has(`${clusterId}:${n}`);
  }
  add(clusterId: string, n: number): void {
    if (this.slots.size >= MAX_FORCED_FAILURES) this.slots.delete(this.slots.values().next().value!);
    this.slots.add(`${clusterId}:${n}`);
  }
  clear(): void {
    this.slots.clear();
  }
}

type JobStatus = 'IN_PROGRESS' | 'FINISHED' | 'BROKEN' | 'KILLED';

interface JobFacts {
  id: string;
  created: number;
  finishes: number;
  status: JobStatus;
  member: OpsManagerCluster;
  request: RequestFacts;
  /** Member-level draws: [duration, outcome, downloaded, download delay, snapshot age, increment]. */
  r: number[];
  known: StaticFacts;
}

/** What one restore request decided; shared by every job of a sharded batch. */
interface RequestFacts {
  method: 'HTTP' | 'QUERY';
  expirationHours: number;
  maxDownloads: number;
  pointInTime: boolean;
  encrypted: boolean;
  masterKeyUUID: string;
}

function requestFacts(world: World, sched: Schedule, n: number): RequestFacts {
  const r = draws(world.seed, 'request', sched.cluster.id, n);
  const key = digest(world.seed, ['kmip', sched.cluster.id]).toString('hex');
  return {
    method: r[0]! < 0.85 ? 'HTTP' : 'QUERY',
    expirationHours: pick([1, 2, 24, 48], r[1]!),
    maxDownloads: pick([1, 1, 3], r[2]!),
    pointInTime: r[3]! < 0.2,
    encrypted: r[4]! < 0.1,
    masterKeyUUID: `${key.slice(0, 8)}-${key.slice(8, 12)}-4${key.slice(13, 16)}-a${key.slice(17, 20)}-${key.slice(20, 32)}`,
  };
}

function outcomeOf(r: number): JobStatus {
  if (r < 0.85) return 'FINISHED';
  return r < 0.95 ? 'BROKEN' : 'KILLED';
}

/** What never changes about one job (ids, draws, derived strings): hashed once, not on every page. */
interface StaticFacts {
  id: string;
  created: number;
  r: number[];
  request: RequestFacts;
  snapshotAt: number;
  snapshotId: string;
  createdIso: string;
  snapshotIso: string;
  sha1: string;
}

/** Jobs whose static facts are remembered; enough for the largest benchmark (200 clusters x 500 jobs). */
const MAX_REMEMBERED_JOBS = 250_000;
const staticFactsMemo = new WeakMap<World, Map<string, StaticFacts>>();

function staticFacts(world: World, sched: Schedule, s: Settings, n: number, m: number): StaticFacts {
  let memo = staticFactsMemo.get(world);
  if (!memo) staticFactsMemo.set(world, (memo = new Map()));
  const key = `${sched.cluster.id}:${n}:${m}`;
  const known = memo.get(key);
  if (known) return known;
  const id = jobId(world, sched, s, n, m);
  const created = slotTime(sched, s, n);
  const r = draws(world.seed, 'job', id);
  const snapshotAt = created - (1 + Math.floor(r[4]! * 23)) * HOUR_MS;
  const facts: StaticFacts = {
    id,
    created,
    r,
    request: requestFacts(world, sched, n),
    snapshotAt,
    snapshotId: objectId(world.seed, snapshotAt, 'snapshot', sched.members[m]!.id, n),
    createdIso: isoSeconds(created),
    snapshotIso: isoSeconds(snapshotAt),
    sha1: createHash('sha1').update(`${world.seed}:${id}`).digest('hex'),
  };
  if (memo.size >= MAX_REMEMBERED_JOBS) memo.delete(memo.keys().next().value!);
  memo.set(key, facts);
  return facts;
}

function jobFacts(world: World, sched: Schedule, s: Settings, forced: ForcedFailures, n: number, m: number, now: number): JobFacts {
  const known = staticFacts(world, sched, s, n, m);
  const finishes = known.created + Math.round(s.jobDurationMs * (0.7 + 0.6 * known.r[0]!));
  const outcome = forced.has(sched.cluster.id, n) ? 'BROKEN' : outcomeOf(known.r[1]!);
  const status = now < finishes ? 'IN_PROGRESS' : outcome;
  return { id: known.id, created: known.created, finishes, status, member: sched.members[m]!, request: known.request, r: known.r, known };
}

interface Link {
  href: string;
  rel: string;
}

function restoreJobJson(world: World, sched: Schedule, s: Settings, f: JobFacts, n: number, now: number, origin: string): Record<string, unknown> {
  const snapshotAt = f.known.snapshotAt;
  const job: Record<string, unknown> = {};
  if (sched.members.length > 1) job.batchId = batchIdOf(world, sched, s, n);
  job.clusterId = f.member.id;
  job.created = f.known.createdIso;
  job.delivery = deliveryJson(f, snapshotAt, now, origin);
  job.encryptionEnabled = f.request.encrypted;
  job.groupId = sched.cluster.groupId;
  const hashes = hashesJson(world, f, snapshotAt, now);
  if (hashes) job.hashes = hashes;
  job.id = f.id;
  job.links = [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${sched.cluster.groupId}/clusters/${sched.cluster.id}/restoreJobs/${f.id}`)];
  if (f.request.encrypted) job.masterKeyUUID = f.request.masterKeyUUID;
  job.pointInTime = f.request.pointInTime;
  job.snapshotId = f.known.snapshotId;
  job.statusName = f.status;
  job.timestamp = { date: f.known.snapshotIso, increment: 1 + Math.floor(f.r[5]! * 5) };
  return job;
}

function downloadedAt(f: JobFacts): number | undefined {
  if (f.request.method !== 'HTTP' || f.status !== 'FINISHED' || f.r[2]! >= 0.6) return undefined;
  return f.finishes + Math.round(f.r[3]! * 10 * 60_000);
}

function expiresAt(f: JobFacts): number {
  return f.finishes + f.request.expirationHours * HOUR_MS;
}

function deliveryStatus(f: JobFacts, now: number): string {
  if (f.status === 'IN_PROGRESS') return now < (f.created + f.finishes) / 2 ? 'NOT_STARTED' : 'IN_PROGRESS';
  if (f.status === 'BROKEN') return 'FAILED';
  if (f.status === 'KILLED') return 'INTERRUPTED';
  if (f.request.method === 'QUERY') return 'READY';
  const downloaded = downloadedAt(f);
  if (now >= expiresAt(f)) return 'EXPIRED';
  if (downloaded !== undefined && now >= downloaded && f.request.maxDownloads === 1) return 'MAX_DOWNLOADS_EXCEEDED';
  return 'READY';
}

function archiveName(f: JobFacts, snapshotAt: number): string {
  return `${f.member.replicaSetName ?? f.member.clusterName}-${Math.floor(snapshotAt / 1000)}-${f.id}.tar.gz`;
}

function deliveryJson(f: JobFacts, snapshotAt: number, now: number, origin: string): Record<string, unknown> {
  const statusName = deliveryStatus(f, now);
  if (f.request.method === 'QUERY') return { methodName: 'QUERY', statusName };
  const delivery: Record<string, unknown> = { expirationHours: f.request.expirationHours };
  if (f.status === 'FINISHED') delivery.expires = isoSeconds(expiresAt(f));
  delivery.maxDownloads = f.request.maxDownloads;
  delivery.methodName = 'HTTP';
  delivery.statusName = statusName;
  const token = Buffer.from(f.id + f.member.id).toString('base64');
  delivery.url = `${origin}/backup/restore/v2/pull/${f.id}/${token}/${archiveName(f, snapshotAt)}`;
  return delivery;
}

/** Present only once the archive was downloaded, as the product does. */
function hashesJson(world: World, f: JobFacts, snapshotAt: number, now: number): unknown[] | undefined {
  const at = downloadedAt(f);
  if (at === undefined || now < at || at >= expiresAt(f)) return undefined;
  return [{ fileName: archiveName(f, snapshotAt), hash: f.known.sha1, typeName: 'SHA1' }];
}

// ---------------------------------------------------------------------------------------------
// fail-next

function failNext(world: World, s: Settings, forced: ForcedFailures, clusterId?: string): FailNextResult {
  const now = s.clock();
  const candidates = clusterId === undefined ? world.restorable : [restorableCluster(world, clusterId)];
  let best: { sched: Schedule; n: number; at: number } | undefined;
  for (const cluster of candidates) {
    const sched = scheduleOf(world, s, cluster, now);
    let n = sched.newest + 1;
    while (forced.has(cluster.id, n)) n++;
    const at = slotTime(sched, s, n);
    if (!best || at < best.at) best = { sched, n, at };
  }
  if (!best) throw new Error('the simulator has no clusters to fail a restore on');
  forced.add(best.sched.cluster.id, best.n);
  return failNextResult(world, s, best.sched, best.n);
}

function restorableCluster(world: World, clusterId: string): OpsManagerCluster {
  const cluster = world.clustersById.get(clusterId);
  if (!cluster) throw new Error(`no cluster with id ${clusterId}`);
  // A shard's restores are requested on its sharded cluster, so that is where the failure goes.
  return cluster.parentId ? world.clustersById.get(cluster.parentId)! : cluster;
}

function failNextResult(world: World, s: Settings, sched: Schedule, n: number): FailNextResult {
  const result: FailNextResult = {
    groupId: sched.cluster.groupId,
    clusterId: sched.cluster.id,
    created: isoSeconds(slotTime(sched, s, n)),
    jobIds: sched.members.map((_, m) => jobId(world, sched, s, n, m)),
  };
  if (sched.members.length > 1) result.batchId = batchIdOf(world, sched, s, n);
  return result;
}

function controlRouter(world: World, s: Settings, forced: ForcedFailures, alerts: AlertBook): express.Router {
  const router = express.Router();
  router.post('/close-alerts', (_req, res) => {
    alerts.close();
    sendJson(res, 200, { closed: true });
  });
  router.post('/fail-next', (req, res) => {
    const clusterId = (req.body as { clusterId?: unknown } | undefined)?.clusterId;
    if (clusterId !== undefined && (typeof clusterId !== 'string' || !world.clustersById.has(clusterId))) {
      return sendJson(res, 404, { error: `no cluster with id ${String(clusterId)}` });
    }
    sendJson(res, 200, failNext(world, s, forced, clusterId));
  });
  router.get('/info', (_req, res) =>
    sendJson(res, 200, { projectIds: world.projects.map((p) => p.id), clusters: world.allClusters }),
  );
  return router;
}

// ---------------------------------------------------------------------------------------------
// Digest authentication

function digestGuard(o: OpsManagerSimulatorOptions, s: Settings): express.RequestHandler {
  return digestAuthentication({
    realm: OPS_MANAGER_REALM,
    algorithm: s.algorithm,
    clock: s.clock,
    nonceLifetimeMs: s.nonceLifetimeMs,
    passwordFor: (user) => (user === o.publicKey ? o.privateKey : undefined),
    refuse: (res, challengeHeader) =>
      sendJson(
        res,
        401,
        { detail: 'You are not authorized for this resource.', error: 401, reason: 'Unauthorized' },
        { 'WWW-Authenticate': challengeHeader, 'Content-Type': 'application/json;charset=ISO-8859-1' },
      ),
  });
}

const serviceHeaders: express.RequestHandler = (_req, res, next) => {
  res.setHeader('X-MongoDB-Service-Version', SERVICE_VERSION);
  next();
};

// ---------------------------------------------------------------------------------------------
// API routes

function flag(req: express.Request, name: string): boolean {
  return queryValue(req, name)?.toLowerCase() === 'true';
}

/** Sends a product answer, honouring ?envelope=true and ?pretty=true. */
function reply(req: express.Request, res: express.Response, status: number, body: unknown, list = false): void {
  const space = flag(req, 'pretty') ? 2 : undefined;
  if (!flag(req, 'envelope')) return sendJson(res, status, body, {}, { space });
  // The envelope exists for clients that cannot read the status line, so the status moves into the body.
  const wrapped = list ? { ...(body as object), status } : { content: body, status };
  sendJson(res, 200, wrapped, {}, { space });
}

/** Turns a thrown ApiError into the product's error answer, in the envelope when asked for. */
function handle(fn: Handler): express.RequestHandler {
  return handleApiErrors(fn, (req, res, error) => reply(req, res, error.status, error.body));
}


interface Paging {
  pageNum: number;
  itemsPerPage: number;
}

function parsePaging(req: express.Request): Paging {
  return {
    pageNum: positiveInt(req, 'pageNum', 1, Number.MAX_SAFE_INTEGER),
    itemsPerPage: positiveInt(req, 'itemsPerPage', DEFAULT_ITEMS_PER_PAGE, MAX_ITEMS_PER_PAGE),
  };
}

function positiveInt(req: express.Request, name: string, fallback: number, max: number): number {
  const raw = queryValue(req, name);
  if (raw === undefined) return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= max)) {
    const range = max === MAX_ITEMS_PER_PAGE ? ` It must be between 1 and ${MAX_ITEMS_PER_PAGE}.` : ' It must be a positive integer.';
    throw apiError(400, 'INVALID_QUERY_PARAMETER', `Invalid value ${raw} for query parameter ${name}.${range}`, [name, raw]);
  }
  return value;
}

function originOf(req: express.Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

function selfLink(href: string): Link {
  return { href, rel: 'self' };
}

function pageHref(req: express.Request, pageNum: number, itemsPerPage: number): string {
  const url = new URL(req.originalUrl, originOf(req));
  url.searchParams.delete('pageNum');
  url.searchParams.delete('itemsPerPage');
  url.searchParams.append('pageNum', String(pageNum));
  url.searchParams.append('itemsPerPage', String(itemsPerPage));
  return url.toString();
}

/** Builds a list answer, asking `item` only for the indices on the requested page. */
function listBody<T>(req: express.Request, totalCount: number, item: (index: number) => T): unknown {
  const { pageNum, itemsPerPage } = parsePaging(req);
  const window = pageWindow(totalCount, pageNum, itemsPerPage);
  const links: Link[] = [];
  if (window.hasPrevious) links.push({ href: pageHref(req, pageNum - 1, itemsPerPage), rel: 'previous' });
  links.push(selfLink(pageHref(req, pageNum, itemsPerPage)));
  if (window.hasNext) links.push({ href: pageHref(req, pageNum + 1, itemsPerPage), rel: 'next' });
  const results: T[] = [];
  for (let i = window.start; i < window.end; i++) results.push(item(i));
  return { links, results, totalCount };
}

function groupOf(world: World, groupId: string): OpsManagerProject {
  if (!/^[0-9a-f]{24}$/.test(groupId)) throw apiError(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId]);
  const project = world.projectsById.get(groupId);
  if (!project) throw apiError(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId]);
  return project;
}

function clusterOf(world: World, groupId: string, clusterId: string): OpsManagerCluster {
  groupOf(world, groupId);
  const cluster = world.clustersById.get(clusterId);
  if (!cluster || cluster.groupId !== groupId) {
    throw apiError(404, 'CLUSTER_NOT_FOUND', `No cluster with ID ${clusterId} exists in group ${groupId}.`, [clusterId, groupId]);
  }
  return cluster;
}

function projectJson(world: World, p: OpsManagerProject, now: number, origin: string): Record<string, unknown> {
  const clusters = world.clustersByGroup.get(p.id)!;
  const replicaSets = clusters.filter((c) => c.typeName !== 'SHARDED_REPLICA_SET').length;
  const shards = clusters.filter((c) => c.shardName !== undefined).length;
  return {
    activeAgentCount: replicaSets * 3,
    hostCounts: { arbiter: 0, config: 0, primary: replicaSets, secondary: replicaSets * 2, mongos: 0, master: 0, slave: 0 },
    id: p.id,
    lastActiveAgent: isoSeconds(now),
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${p.id}`)],
    name: p.name,
    orgId: p.orgId,
    publicApiEnabled: true,
    replicaSetCount: replicaSets,
    shardCount: shards,
    tags: [],
  };
}

function clusterJson(c: OpsManagerCluster, now: number, seed: string, origin: string): Record<string, unknown> {
  const json: Record<string, unknown> = {
    clusterName: c.clusterName,
    groupId: c.groupId,
    id: c.id,
    lastHeartbeat: isoSeconds(now - Math.floor(draws(seed, 'heartbeat', c.id)[0]! * 30_000)),
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${c.groupId}/clusters/${c.id}`)],
  };
  if (c.replicaSetName !== undefined) json.replicaSetName = c.replicaSetName;
  if (c.shardName !== undefined) json.shardName = c.shardName;
  json.typeName = c.typeName;
  return json;
}

/** GET /clusters: one entry per project, its top-level clusters nested in the "all clusters" summary shape. */
function allClustersEntry(world: World, p: OpsManagerProject): Record<string, unknown> {
  const clusters = world.clustersByGroup.get(p.id)!.filter((c) => c.parentId === undefined);
  return {
    clusters: clusters.map((c) => ({
      alertCount: 0,
      authEnabled: true,
      availability: 'available',
      backupEnabled: true,
      clusterId: c.id,
      dataSizeBytes: Math.floor(draws(world.seed, 'size', c.id)[0]! * 5e11),
      name: c.clusterName,
      nodeCount: c.typeName === 'SHARDED_REPLICA_SET' ? (world.members.get(c.id)!.length) * 3 + 2 : 3,
      sslEnabled: true,
      type: c.typeName === 'SHARDED_REPLICA_SET' ? 'sharded cluster' : 'replica set',
      versions: ['7.0.12'],
    })),
    groupId: p.id,
    groupName: p.name,
    orgId: p.orgId,
    orgName: 'Backup Exporter Simulated Org',
    planType: 'Ops Manager',
    tags: [],
  };
}

function apiRouter(world: World, s: Settings, forced: ForcedFailures): express.Router {
  const r = express.Router();
  r.get('/', handle((req, res) => reply(req, res, 200, rootJson(originOf(req)))));
  r.get('/groups', handle((req, res) => {
    const now = s.clock();
    const origin = originOf(req);
    reply(req, res, 200, listBody(req, world.projects.length, (i) => projectJson(world, world.projects[i]!, now, origin)), true);
  }));
  r.get('/groups/:groupId', handle((req, res) => {
    reply(req, res, 200, projectJson(world, groupOf(world, param(req, 'groupId')), s.clock(), originOf(req)));
  }));
  r.get('/groups/:groupId/clusters', handle((req, res) => {
    const clusters = world.clustersByGroup.get(groupOf(world, param(req, 'groupId')).id)!;
    const now = s.clock();
    const origin = originOf(req);
    reply(req, res, 200, listBody(req, clusters.length, (i) => clusterJson(clusters[i]!, now, s.seed, origin)), true);
  }));
  r.get('/groups/:groupId/clusters/:clusterId', handle((req, res) => {
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterId'));
    reply(req, res, 200, clusterJson(cluster, s.clock(), s.seed, originOf(req)));
  }));
  r.get('/clusters', handle((req, res) => {
    reply(req, res, 200, listBody(req, world.projects.length, (i) => allClustersEntry(world, world.projects[i]!)), true);
  }));
  r.get('/groups/:groupId/clusters/:clusterId/restoreJobs', handle((req, res) => {
    reply(req, res, 200, restoreJobList(req, world, s, forced), true);
  }));
  r.get('/groups/:groupId/clusters/:clusterId/restoreJobs/:jobId', handle((req, res) => {
    reply(req, res, 200, oneRestoreJob(req, world, s, forced));
  }));
  return r;
}

function notFound(req: express.Request): ApiError {
  const path = req.originalUrl.split('?')[0]!;
  return apiError(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]);
}

function param(req: express.Request, name: string): string {
  return String(req.params[name] ?? '');
}

function rootJson(origin: string): unknown {
  return {
    appName: 'MongoDB Ops Manager',
    build: '0000000000000000000000000000000000000000',
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}`), { href: `${origin}${OPS_MANAGER_API_BASE}/groups`, rel: 'http://mms.mongodb.com/groups' }],
    throttling: false,
  };
}

/** Shard entities have no restore history of their own: restores are requested on the sharded cluster. */
function scheduleForRequest(req: express.Request, world: World, s: Settings, now: number): Schedule | undefined {
  const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterId'));
  return cluster.parentId ? undefined : scheduleOf(world, s, cluster, now);
}

function restoreJobList(req: express.Request, world: World, s: Settings, forced: ForcedFailures): unknown {
  const now = s.clock();
  const sched = scheduleForRequest(req, world, s, now);
  const origin = originOf(req);
  if (!sched) return listBody(req, 0, () => undefined);
  const batchId = queryValue(req, 'batchId');
  if (batchId !== undefined) return batchList(req, world, s, forced, sched, batchId, now, origin);
  const perSlot = sched.members.length;
  return listBody(req, jobCount(sched, s), (i) => {
    // Newest first, as the product lists them; a batch's jobs sit together.
    const n = sched.newest - Math.floor(i / perSlot);
    const facts = jobFacts(world, sched, s, forced, n, i % perSlot, now);
    return restoreJobJson(world, sched, s, facts, n, now, origin);
  });
}

function batchList(
  req: express.Request,
  world: World,
  s: Settings,
  forced: ForcedFailures,
  sched: Schedule,
  batchId: string,
  now: number,
  origin: string,
): unknown {
  const n = findBatch(world, sched, s, batchId);
  if (n === undefined) return listBody(req, 0, () => undefined);
  return listBody(req, sched.members.length, (m) =>
    restoreJobJson(world, sched, s, jobFacts(world, sched, s, forced, n, m, now), n, now, origin),
  );
}

function oneRestoreJob(req: express.Request, world: World, s: Settings, forced: ForcedFailures): unknown {
  const now = s.clock();
  const sched = scheduleForRequest(req, world, s, now);
  const id = param(req, 'jobId');
  const found = sched && findJob(world, sched, s, id);
  if (!sched || !found) {
    throw apiError(404, 'RESTORE_JOB_NOT_FOUND', `No restore job with ID ${id} exists in group ${param(req, 'groupId')}.`, [id]);
  }
  return restoreJobJson(world, sched, s, jobFacts(world, sched, s, forced, found.n, found.m, now), found.n, now, originOf(req));
}

// ---------------------------------------------------------------------------------------------
// Backup: configurations, snapshots, schedules and alerts

const SNAPSHOT_INTERVAL_HOURS = 6;
const SNAPSHOT_INTERVAL_MS = SNAPSHOT_INTERVAL_HOURS * HOUR_MS;
/** How long taking a snapshot lasts: the newest is incomplete meanwhile. */
const SNAPSHOT_DURATION_MS = 10 * 60_000;

function backupOf(world: World, s: Settings, clusterId: string, now: number): ClusterBackup {
  const cluster = world.clustersById.get(clusterId);
  const index = cluster ? world.restorable.indexOf(cluster) : -1;
  if (index < 0) return {};
  switch (index % 6) {
    case 1:
      return { status: 'STOPPED', snapshotsUntil: now - DAY_MS };
    case 3:
      return {};
    case 4:
      return { status: 'STARTED', snapshotsUntil: now - 3 * DAY_MS };
    default:
      return { status: 'STARTED' };
  }
}

/** Snapshot slot n of a cluster is taken at phase + n * interval; the newest is the last one not after its end. */
function snapshotSlots(world: World, s: Settings, cluster: OpsManagerCluster, now: number): { newest: number; count: number; phase: number } {
  const backup = backupOf(world, s, cluster.id, now);
  if (!backup.status) return { newest: 0, count: 0, phase: 0 };
  const phase = Math.floor(draws(s.seed, 'snapshot-phase', cluster.id)[0]! * SNAPSHOT_INTERVAL_MS);
  const until = Math.min(now, backup.snapshotsUntil ?? now);
  const newest = Math.floor((until - phase) / SNAPSHOT_INTERVAL_MS);
  return { newest, count: Math.max(0, Math.min(s.snapshotsPerCluster, newest + 1)), phase };
}

function bsonTimestamp(ms: number, increment: number): { date: string; increment: number } {
  return { date: isoSeconds(ms), increment };
}

function snapshotJson(world: World, s: Settings, cluster: OpsManagerCluster, n: number, phase: number, now: number, origin: string): Record<string, unknown> {
  const taken = phase + n * SNAPSHOT_INTERVAL_MS;
  const id = objectId(s.seed, taken, 'snapshot', cluster.id, n);
  const members = world.members.get(cluster.id) ?? [cluster];
  const sharded = cluster.typeName === 'SHARDED_REPLICA_SET';
  const parts = members.map((member, k) => {
    const size = Math.floor(draws(s.seed, 'snapshot-size', member.id, n)[0]! * 2e10) + 1e9;
    return {
      clusterId: member.id,
      compressionSetting: 'GZIP',
      dataSizeBytes: size,
      encryptionEnabled: false,
      fileSizeBytes: Math.floor(size * 1.1),
      mongodVersion: '7.0.12',
      replicaSetName: member.replicaSetName ?? `${member.clusterName}-${k}`,
      storageSizeBytes: Math.floor(size * 0.6),
      typeName: member.typeName === 'CONFIG_SERVER_REPLICA_SET' ? 'CONFIG_SERVER_REPLICA_SET' : 'REPLICA_SET',
    };
  });
  const json: Record<string, unknown> = {
    clusterId: cluster.id,
    complete: now - taken >= SNAPSHOT_DURATION_MS,
    created: bsonTimestamp(taken, 1),
    doNotDelete: false,
    expires: isoSeconds(taken + 7 * DAY_MS),
    groupId: cluster.groupId,
    id,
    lastOplogAppliedTimestamp: bsonTimestamp(taken - 1000, 3),
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${cluster.groupId}/clusters/${cluster.id}/snapshots/${id}`)],
    parts,
  };
  if (sharded) json.isPossiblyInconsistent = false;
  return json;
}

function backupConfigJson(cluster: OpsManagerCluster, status: BackupStatus, origin: string): Record<string, unknown> {
  return {
    authMechanismName: 'NONE',
    clusterId: cluster.id,
    encryptionEnabled: false,
    excludedNamespaces: [],
    groupId: cluster.groupId,
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${cluster.groupId}/backupConfigs/${cluster.id}`)],
    sslEnabled: false,
    statusName: status,
    storageEngineName: 'WIRED_TIGER',
  };
}

function snapshotScheduleJson(cluster: OpsManagerCluster, origin: string): Record<string, unknown> {
  return {
    clusterCheckpointIntervalMin: 15,
    clusterId: cluster.id,
    dailySnapshotRetentionDays: 7,
    groupId: cluster.groupId,
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${cluster.groupId}/backupConfigs/${cluster.id}/snapshotSchedule`)],
    monthlySnapshotRetentionMonths: 13,
    pointInTimeWindowHours: 24,
    referenceHourOfDay: 0,
    referenceMinuteOfHour: 0,
    referenceTimeZoneOffset: '+0000',
    snapshotIntervalHours: SNAPSHOT_INTERVAL_HOURS,
    snapshotRetentionDays: 2,
    weeklySnapshotRetentionWeeks: 4,
  };
}

interface SimAlert {
  id: string;
  cluster: OpsManagerCluster;
  eventTypeName: string;
  created: number;
  resolved?: number;
}

/** The world's alerts: one RESYNC_REQUIRED on the first cluster of every six, open until closed. */
class AlertBook {
  private readonly alerts: SimAlert[] = [];

  constructor(
    world: World,
    private readonly s: Settings,
  ) {
    world.restorable.forEach((cluster, index) => {
      if (index % 6 !== 0) return;
      const created = s.clock() - 2 * HOUR_MS;
      this.alerts.push({ id: objectId(s.seed, created, 'alert', cluster.id), cluster, eventTypeName: 'RESYNC_REQUIRED', created });
    });
  }

  close(): void {
    const now = this.s.clock();
    for (const alert of this.alerts) alert.resolved ??= now;
  }

  reopen(): void {
    for (const alert of this.alerts) delete alert.resolved;
  }

  of(groupId: string, status: string | undefined): SimAlert[] {
    return this.alerts.filter((a) => a.cluster.groupId === groupId && (status === undefined || (status === 'OPEN') === (a.resolved === undefined)));
  }
}

function alertJson(alert: SimAlert, origin: string): Record<string, unknown> {
  const { cluster } = alert;
  const json: Record<string, unknown> = {
    alertConfigId: objectId('alert-config', alert.created, alert.eventTypeName),
    clusterId: cluster.id,
    clusterName: cluster.clusterName,
    created: isoSeconds(alert.created),
    eventTypeName: alert.eventTypeName,
    groupId: cluster.groupId,
    id: alert.id,
    links: [selfLink(`${origin}${OPS_MANAGER_API_BASE}/groups/${cluster.groupId}/alerts/${alert.id}`)],
    status: alert.resolved === undefined ? 'OPEN' : 'CLOSED',
    typeName: 'BACKUP',
    updated: isoSeconds(alert.resolved ?? alert.created),
  };
  if (cluster.replicaSetName !== undefined) json.replicaSetName = cluster.replicaSetName;
  if (alert.resolved !== undefined) json.resolved = isoSeconds(alert.resolved);
  return json;
}

function backupRoutes(r: express.Router, world: World, s: Settings, alerts: AlertBook): void {
  r.get('/groups/:groupId/backupConfigs', handle((req, res) => {
    const now = s.clock();
    const origin = originOf(req);
    const group = groupOf(world, param(req, 'groupId'));
    const configured = world.restorable.flatMap((c) => {
      const status = c.groupId === group.id ? backupOf(world, s, c.id, now).status : undefined;
      return status ? [{ cluster: c, status }] : [];
    });
    reply(req, res, 200, listBody(req, configured.length, (i) => backupConfigJson(configured[i]!.cluster, configured[i]!.status, origin)), true);
  }));
  r.get('/groups/:groupId/backupConfigs/:clusterId/snapshotSchedule', handle((req, res) => {
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterId'));
    if (!backupOf(world, s, cluster.id, s.clock()).status) {
      throw apiError(404, 'BACKUP_CONFIG_NOT_FOUND', `No backup configuration for cluster ${cluster.id} exists.`, [cluster.id]);
    }
    reply(req, res, 200, snapshotScheduleJson(cluster, originOf(req)));
  }));
  r.get('/groups/:groupId/clusters/:clusterId/snapshots', handle((req, res) => {
    const cluster = clusterOf(world, param(req, 'groupId'), param(req, 'clusterId'));
    const now = s.clock();
    const origin = originOf(req);
    const slots = snapshotSlots(world, s, cluster, now);
    // Newest first, as the product lists them.
    reply(req, res, 200, listBody(req, slots.count, (i) => snapshotJson(world, s, cluster, slots.newest - i, slots.phase, now, origin)), true);
  }));
  r.get('/groups/:groupId/alerts', handle((req, res) => {
    const group = groupOf(world, param(req, 'groupId'));
    const status = queryValue(req, 'status');
    if (status !== undefined && status !== 'OPEN' && status !== 'CLOSED' && status !== 'TRACKING') {
      throw apiError(400, 'INVALID_QUERY_PARAMETER', `Invalid value ${status} for query parameter status.`, ['status', status]);
    }
    const listed = alerts.of(group.id, status);
    const origin = originOf(req);
    reply(req, res, 200, listBody(req, listed.length, (i) => alertJson(listed[i]!, origin)), true);
  }));
}

export const DEMO_OPSMANAGER_PUBLIC_KEY = 'demo-public-key';
export const DEMO_OPSMANAGER_PRIVATE_KEY = 'demo-private-key';

/** The demo's Ops Manager: new restores every two minutes, each running about 45 s. */
export function startDemo(listen: { host: string; port: number }): Promise<RunningSimulator> {
  const sim = createOpsManagerSimulator({
    publicKey: DEMO_OPSMANAGER_PUBLIC_KEY,
    privateKey: DEMO_OPSMANAGER_PRIVATE_KEY,
    projects: 2,
    clustersPerProject: 3,
    shardedEvery: 3,
    jobsPerCluster: 20,
    jobIntervalMs: 2 * 60_000,
    jobDurationMs: 45_000,
  });
  return startSimulator(sim.app, listen);
}

/** This product in the demo: its name (the simulators' flag and product argument), title and default port. */
export const demo = { product: 'opsmanager', title: 'MongoDB Ops Manager', port: 19101, start: startDemo } as const satisfies DemoDefinition;

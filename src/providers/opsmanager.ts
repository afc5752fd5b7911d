/**
 * MongoDB Ops Manager: restore jobs of every cluster in the configured (or all) projects.
 *
 * API calls of one collection: GET /groups (paged; or GET /groups/{id} per configured project),
 * GET /groups/{id}/clusters (paged) per project, GET /groups/{id}/clusters/{id}/restoreJobs (paged,
 * itemsPerPage=500) per cluster. Digest authentication with the public key as user name.
 */
import { digestAuth } from '../http/auth';
import { CollectError } from '../http/errors';
import type { Job, JobState, StateTable } from '../model';
import { mapStatus } from '../model';
import type { CollectContext, ProviderDefinition } from './types';
import { isObject, parseIsoTimestamp, stringField } from './util';

const API = '/api/public/v1.0';
export const ITEMS_PER_PAGE = 500;
/** 1,000 pages of 500 = half a million items per list: far beyond any real cluster, small enough to bound a loop. */
const MAX_PAGES = 1000;

export const OPSMANAGER_STATES: StateTable = {
  IN_PROGRESS: 'running',
  FINISHED: 'succeeded',
  BROKEN: 'failed',
  KILLED: 'cancelled',
};

/** Delivery states in which the download link can still be used; only these get an expiry series. */
const USABLE_DELIVERY_STATES = new Set(['NOT_STARTED', 'IN_PROGRESS', 'READY']);

/** Which member of a sharded batch speaks for the whole batch: the worst state wins. */
const STATE_SEVERITY: Record<JobState, number> = {
  failed: 6,
  unknown: 5,
  cancelled: 4,
  running: 3,
  pending: 2,
  warning: 1,
  succeeded: 0,
};

export interface MappingSink {
  unknownStatus(status: string): void;
  problem(message: string): void;
}

interface RawProject {
  id: string;
  name: string;
}

interface RawCluster {
  id: string;
  name: string;
}

/** Maps one cluster's restore jobs; the jobs of a sharded restore (same batchId) become one job. */
export function mapRestoreJobs(raw: unknown[], resource: string, sink: MappingSink): Job[] {
  const single: Job[] = [];
  const batches = new Map<string, Job[]>();
  for (const item of raw) {
    const job = mapRestoreJob(item, resource, sink);
    if (!job) continue;
    const batchId = isObject(item) ? stringField(item, 'batchId') : undefined;
    if (batchId) {
      const members = batches.get(batchId) ?? [];
      members.push(job);
      batches.set(batchId, members);
    } else {
      single.push(job);
    }
  }
  for (const [batchId, members] of batches) single.push(mergeBatch(batchId, members));
  return single;
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
  if (created !== undefined && startedAt === undefined) sink.problem(`restore job ${id}: created ${JSON.stringify(created)} is not an ISO-8601 time`);
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
  const worst = members.reduce((a, b) => (STATE_SEVERITY[b.state] > STATE_SEVERITY[a.state] ? b : a));
  const starts = members.map((m) => m.startedAt).filter((t): t is number => t !== undefined);
  const expiries = members.map((m) => m.deliveryExpiresAt).filter((t): t is number => t !== undefined);
  const job: Job = { kind: 'restore', id: batchId, resource: worst.resource, state: worst.state, status: worst.status };
  if (starts.length) job.startedAt = Math.min(...starts);
  if (expiries.length) job.deliveryExpiresAt = Math.min(...expiries);
  return job;
}

/** Reads every page of an Ops Manager list: the first page gives totalCount, the rest are fetched at once. */
export async function readAllPages(ctx: CollectContext, path: string): Promise<unknown[]> {
  const first = await readPage(ctx, path, 1);
  const total = first.totalCount;
  if (total === undefined) return readPagesInOrder(ctx, path, first.results);
  const pageCount = Math.min(Math.ceil(total / ITEMS_PER_PAGE), MAX_PAGES);
  const rest = await Promise.all(
    Array.from({ length: Math.max(0, pageCount - 1) }, (_, i) => readPage(ctx, path, i + 2).then((p) => p.results)),
  );
  return first.results.concat(...rest);
}

/** For answers without totalCount: page on until a short page. */
async function readPagesInOrder(ctx: CollectContext, path: string, firstResults: unknown[]): Promise<unknown[]> {
  const all = [...firstResults];
  let last = firstResults;
  for (let pageNum = 2; last.length >= ITEMS_PER_PAGE && pageNum <= MAX_PAGES; pageNum++) {
    last = (await readPage(ctx, path, pageNum)).results;
    all.push(...last);
  }
  return all;
}

async function readPage(ctx: CollectContext, path: string, pageNum: number): Promise<{ results: unknown[]; totalCount?: number }> {
  const body = await ctx.http.json({ path, query: { pageNum, itemsPerPage: ITEMS_PER_PAGE } });
  if (!isObject(body) || !Array.isArray(body.results)) {
    throw new CollectError('invalid_response', `GET ${path} page ${pageNum}: answer has no "results" list`);
  }
  const total = body.totalCount;
  return { results: body.results, totalCount: typeof total === 'number' && total >= 0 ? total : undefined };
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
  return (await readAllPages(ctx, `${API}/groups`)).flatMap((item) => {
    const id = isObject(item) ? stringField(item, 'id') : undefined;
    if (!id || !isObject(item)) {
      ctx.log.warn({ item: typeof item }, 'Ops Manager project without an id skipped');
      return [];
    }
    return [{ id, name: stringField(item, 'name') ?? id }];
  });
}

async function listClusters(ctx: CollectContext, project: RawProject): Promise<RawCluster[]> {
  const items = await readAllPages(ctx, `${API}/groups/${encodeURIComponent(project.id)}/clusters`);
  return items.flatMap((item) => {
    const id = isObject(item) ? stringField(item, 'id') : undefined;
    if (!id || !isObject(item) || isPartOfShardedCluster(item)) return [];
    return [{ id, name: `${project.name}/${stringField(item, 'clusterName') ?? id}` }];
  });
}

/**
 * The cluster list also holds each shard of a sharded cluster (a REPLICA_SET with shardName) and its
 * config server replica set. Their restores are the sharded cluster's batch: reading them again
 * would count every shard restore twice.
 */
export function isPartOfShardedCluster(cluster: Record<string, unknown>): boolean {
  return stringField(cluster, 'shardName') !== undefined || cluster.typeName === 'CONFIG_SERVER_REPLICA_SET';
}

export const opsmanager: ProviderDefinition = {
  name: 'opsmanager',
  kinds: ['restore'],
  restorePoints: false,
  create(target) {
    const settings = target.opsmanager;
    if (!settings) throw new Error(`target ${target.name}: opsmanager block missing`);
    return {
      auth: digestAuth(settings.public_key, settings.private_key),
      async collect(ctx) {
        const sink: MappingSink = {
          unknownStatus: (status) => ctx.unknownStatus(status),
          problem: (message) => ctx.log.warn({ problem: message }, 'Ops Manager answer partly unusable'),
        };
        const projects = await listProjects(ctx, settings.projects);
        const clusters = await Promise.all(projects.map((project) => listClusters(ctx, project).then((list) => ({ project, list }))));
        const jobs = await Promise.all(
          clusters.flatMap(({ project, list }) =>
            list.map(async (cluster) => {
              const path = `${API}/groups/${encodeURIComponent(project.id)}/clusters/${encodeURIComponent(cluster.id)}/restoreJobs`;
              return mapRestoreJobs(await readAllPages(ctx, path), cluster.name, sink);
            }),
          ),
        );
        return { jobs: jobs.flat(), restorePoints: [] };
      },
    };
  },
};

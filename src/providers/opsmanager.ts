/**
 * MongoDB Ops Manager: restore jobs of every cluster in the configured (or all) projects.
 *
 * API calls of one collection: GET /groups (paged; or GET /groups/{id} per configured project),
 * GET /groups/{id}/clusters (paged) per project, GET /groups/{id}/clusters/{id}/restoreJobs (paged,
 * itemsPerPage=500) per cluster. Digest authentication with the public key as user name.
 */
import { digestAuth } from '../http/auth';
import { CollectError } from '../http/errors';
import type { Job, StateTable } from '../model';
import { mapStatus, worstOf } from '../model';
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
  const worst = worstOf(members);
  const starts = members.map((m) => m.startedAt).filter((t): t is number => t !== undefined);
  const expiries = members.map((m) => m.deliveryExpiresAt).filter((t): t is number => t !== undefined);
  const job: Job = { kind: 'restore', id: batchId, resource: worst.resource, state: worst.state, status: worst.status };
  if (starts.length) job.startedAt = Math.min(...starts);
  if (expiries.length) job.deliveryExpiresAt = Math.min(...expiries);
  return job;
}

/**
 * Reads every page of an Ops Manager list: the first page gives totalCount, the rest are requested
 * at once. Each page goes through `mapPage` as soon as it arrives, so the raw answers of a long
 * list are never all in memory together.
 */
export async function readAllPages<T>(ctx: CollectContext, path: string, mapPage: (items: unknown[]) => T[]): Promise<T[]> {
  const first = await readPage(ctx, path, 1);
  const mapped = mapPage(first.results);
  const total = first.totalCount;
  if (total === undefined) return readPagesInOrder(ctx, path, first.results.length, mapped, mapPage);
  const pageCount = Math.min(Math.ceil(total / ITEMS_PER_PAGE), MAX_PAGES);
  const rest = await Promise.all(
    Array.from({ length: Math.max(0, pageCount - 1) }, (_, i) => readPage(ctx, path, i + 2).then((p) => mapPage(p.results))),
  );
  return mapped.concat(...rest);
}

/** For answers without totalCount: page on until a short page. */
async function readPagesInOrder<T>(ctx: CollectContext, path: string, firstLength: number, mapped: T[], mapPage: (items: unknown[]) => T[]): Promise<T[]> {
  let lastLength = firstLength;
  for (let pageNum = 2; lastLength >= ITEMS_PER_PAGE && pageNum <= MAX_PAGES; pageNum++) {
    const page = (await readPage(ctx, path, pageNum)).results;
    lastLength = page.length;
    mapped.push(...mapPage(page));
  }
  return mapped;
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
  return readAllPages(ctx, `${API}/groups`, (items) =>
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

async function listClusters(ctx: CollectContext, project: RawProject): Promise<RawCluster[]> {
  return readAllPages(ctx, `${API}/groups/${encodeURIComponent(project.id)}/clusters`, (items) =>
    items.flatMap((item) => {
      const id = isObject(item) ? stringField(item, 'id') : undefined;
      if (!id || !isObject(item) || isPartOfShardedCluster(item)) return [];
      return [{ id, name: `${project.name}/${stringField(item, 'clusterName') ?? id}` }];
    }),
  );
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
        // Each cluster's jobs are reported as soon as its pages are in: 200 clusters of 500 jobs are
        // summarised as they arrive, never held all at once.
        await Promise.all(
          clusters.flatMap(({ project, list }) =>
            list.map(async (cluster) => {
              const path = `${API}/groups/${encodeURIComponent(project.id)}/clusters/${encodeURIComponent(cluster.id)}/restoreJobs`;
              ctx.report({ jobs: mergeBatches(await readAllPages(ctx, path, (items) => mapRestoreJobPage(items, cluster.name, sink))) });
            }),
          ),
        );
        return { jobs: [], restorePoints: [] };
      },
    };
  },
};

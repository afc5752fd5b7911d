/**
 * MongoDB Ops Manager: restore jobs of every cluster in the configured (or all) projects.
 *
 * API calls of one collection: GET /groups (paged; or GET /groups/{id} per configured project),
 * GET /groups/{id}/clusters (paged) per project, GET /groups/{id}/clusters/{id}/restoreJobs (paged,
 * itemsPerPage=500) per cluster. Digest authentication with the public key as user name.
 */
import { z } from 'zod';
import { defineProviderBlock } from '../config/blocks';
import { digestAuth } from '../http/auth';
import type { Job, StateTable } from '../model';
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

async function listClusters(ctx: CollectContext, project: RawProject): Promise<RawCluster[]> {
  return readAll(ctx, `${API}/groups/${encodeURIComponent(project.id)}/clusters`, (items) =>
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
  restorePoints: false,
  reports: { protection: false, storage: false, alerts: false },
  config: opsManagerBlock,
  create(_target, settings) {
    const problems = new ProblemLog('Ops Manager');
    return {
      auth: digestAuth(settings.public_key, settings.private_key),
      async collect(ctx) {
        const sink = problems.sink(ctx);
        const projects = await listProjects(ctx, settings.projects);
        const clusters = await Promise.all(projects.map((project) => listClusters(ctx, project).then((list) => ({ project, list }))));
        // Each page's jobs are reported as it arrives: 200 clusters of 500 jobs are summarised as
        // they come, never held all at once.
        await Promise.all(
          clusters.flatMap(({ project, list }) =>
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
        );
        sink.flush();
      },
    };
  },
});

/**
 * NetApp BlueXP backup and recovery: backup and restore jobs of one account, read through one
 * Connector (agent).
 *
 * API calls of one collection (under <url>/account/{accountId}/providers/cloudmanager_cbs/api/v1):
 * GET /job and GET /restore/status at once, then GET /job/{jobId} only for listed jobs that came
 * without their `data` (newest first, at most MAX_DETAIL_REQUESTS; finished ones are remembered).
 * A token from the BlueXP authentication service (refresh-token or client-credentials grant) is
 * requested on the first collection and again shortly before it expires or after a 401.
 */
import { LRUCache } from 'lru-cache';
import type { ResolvedBlock } from '../config/blocks';
import { defineProviderBlock, httpUrl, nonEmpty, oneOf } from '../config/blocks';
import { CollectError } from '../http/errors';
import { TokenCache, parseOAuthTokenAnswer, tokenAuth } from '../http/token';
import type { Token } from '../http/token';
import type { Job, JobKind, JobState, StateTable } from '../model';
import { mapStatus, worstOf } from '../model';
import { isObject, quoteForMessage } from '../text';
import type { MappingSink } from './kit';
import { ProblemLog, inSlices } from './kit';
import type { CollectContext } from './types';
import { defineProvider } from './types';
import { stringField } from './util';

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
  const number = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0) return undefined;
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

/** The Jobs one raw job stands for: one per volume of a backup, one per restore. */
export function mapJob(raw: unknown, sink: BlueXpSink, source: JobSource = 'job'): Job[] {
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
  return kind === 'restore' ? [mapRestore(raw, id, startedAt, sink)] : mapBackup(raw, id, startedAt, sink);
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

/** One Job per volume of a (multi-volume) backup; a job without volumes is one Job about its working environment. */
export function mapBackup(raw: Record<string, unknown>, id: string, startedAt: number | undefined, sink: BlueXpSink): Job[] {
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
    return [base(stringField(raw, 'working-environment-id') ?? 'unknown', own ?? withoutStatus(sink), error)];
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
    jobs.push(base(volumeId, status, message));
  }
  return jobs;
}

/**
 * One Job per restore. A file restore's batches are parts of it: without a job status the worst
 * batch speaks for it, and a restore reported COMPLETED while a batch FAILED is a `warning`.
 */
export function mapRestore(raw: Record<string, unknown>, id: string, startedAt: number | undefined, sink: BlueXpSink): Job {
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
  const job: Job = { kind: 'restore', id, resource: restoreResource(raw, details), state, status: status.status };
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
 */
export function restoreResource(raw: Record<string, unknown>, restore: Record<string, unknown>): string {
  for (const side of [restore.source, restore.target]) {
    if (!isObject(side)) continue;
    const volume = stringField(side, 'volume-name') ?? stringField(side, 'volume-id');
    if (!volume) continue;
    const environment = stringField(side, 'working-environment-name') ?? stringField(side, 'working-environment-id');
    return environment ? `${environment}/${volume}` : volume;
  }
  return stringField(raw, 'working-environment-id') ?? 'unknown';
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
    if ((block.client_secret !== undefined || block.client_secret_file !== undefined) && block.client_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'required with client_secret' });
    }
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

export const bluexp = defineProvider({
  name: 'bluexp',
  kinds: ['backup', 'restore'],
  restorePoints: false,
  reports: { protection: false, storage: false, alerts: false },
  config: blueXpBlock,
  create(_target, settings, env) {
    const tokenUrl = new URL(settings.token_url);
    const tokenClient = env.client(tokenUrl.origin);
    const body = JSON.stringify(tokenRequestBody(settings));
    const cache = new TokenCache(async (scope) => {
      const requestedAt = Date.now();
      const answer = await tokenClient.json(
        { method: 'POST', path: tokenUrl.pathname + tokenUrl.search, headers: { 'content-type': 'application/json' }, body },
        scope,
      );
      return parseTokenAnswer(answer, requestedAt);
    });
    const agentId = normalizeAgentId(settings.agent_id);
    const base = apiPrefix(settings.account_id);
    const details: DetailCache = new LRUCache({ max: DETAIL_CACHE_SIZE });
    const problems = new ProblemLog('BlueXP');
    const loggedTypes = new Set<string>();
    let restoreStatusFailing = false;
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
        const [listed, restores] = await Promise.all([
          ctx.http.json({ path: `${base}/job` }).then((answer) => jobsOf(answer, 'GET /job')),
          readRestoreStatus(ctx, base, (message) => {
            restoreStatusFailed = true;
            // Logged when it starts failing, not on every scrape of a Connector that lacks the endpoint.
            if (!restoreStatusFailing) ctx.log.warn({ err: message }, 'BlueXP GET /restore/status refused; restores are read from GET /job only');
          }),
        ]);
        restoreStatusFailing = restoreStatusFailed;
        const merged = mergeJobLists(listed, restores);
        await fillDetails(ctx, base, merged, details);
        await inSlices(ctx, merged, (slice) => ctx.report({ jobs: slice.flatMap(({ raw, source }) => mapJob(raw, sink, source)) }));
        sink.flush();
      },
    };
  },
});

/**
 * NetApp BlueXP backup and recovery simulator: the authentication service's token endpoint and the
 * job APIs of cloudmanager_cbs v1 as far as the exporter reads them, with jobs (multi-volume
 * backups, volume restores, file restores in batches) that are created and finish as the clock moves,
 * and the backup inventory: working environments (one with backup OFF) and their volumes (a failed
 * one, one whose newest backup is days old, the others backed up on their policy's schedule and never
 * older than their newest successful job), in the shapes of NetApp's cbs/cbs.json 2.0.6.
 *
 * Jobs are derived from a seed, a slot number and the clock. What does not depend on the clock (ids,
 * hashed draws, names, volumes, files) is remembered per job in a bounded memo, and so is each
 * answer until the job's status next changes, so a long list costs little more than its JSON. Job ids
 * are UUIDv7-shaped: their first 48 bits are the creation time, which is how GET /job/{jobId} finds
 * a job without a search.
 *
 * Faithful details (from the BlueXP API reference, the NetApp Terraform provider and Auth0):
 * - Token endpoint (Auth0): POST JSON or form body; grant_type refresh_token (client id of the
 *   BlueXP Console) or client_credentials (service account); answer {access_token, expires_in,
 *   token_type: "Bearer"}. Refusals: wrong client secret 401 {"error":"access_denied",
 *   "error_description":"Unauthorized"}; unknown refresh token 403 {"error":"invalid_grant",
 *   "error_description":"Unknown or invalid refresh token."}; unknown audience 403 access_denied
 *   "Service not found: <audience>"; missing grant_type 400 invalid_request.
 * - API: `authorization: Bearer` and `x-agent-id` (the Connector id, ending in "clients") are
 *   required; errors are JSON with a `message` (an account the token may not use: 403 "Action not
 *   allowed for user", as the Terraform provider's issues show).
 * - Hyphenated field names (working-environment-id, multi-volume-backup, volume-name, ...). A list
 *   of one element is answered as that element alone (`"job": {...}`, `"volume": {...}`), as the
 *   job/{jobId} page's example shows; `collapseSingletons: false` turns that off.
 * - `time` is a number of undocumented unit: milliseconds by default, seconds with timeUnit "s".
 * - A multi-volume backup is FAILED when one of its volumes failed, the others report SUCCESS; a
 *   file restore is FAILED when one of its batches failed.
 *
 * The exact text of the missing/unknown x-agent-id errors is not documented; the simulator answers
 * 400 "Missing x-agent-id header" and 403 "Agent <id> is not registered in this account".
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import { BLUEXP_DEFAULTS } from '../src/providers/bluexp';
import { createSimulator, replayAnswers, sendJson, startSimulator, type Faults, type RunningSimulator, type Simulator } from './framework';
import type { DemoDefinition } from './demo';
import { digest, draws, pick } from './seeded';

export const BLUEXP_API_PATH = '/providers/cloudmanager_cbs/api/v1';
/** Token endpoint paths: Auth0's (netapp-cloud-account.auth0.com) and the BlueXP API gateway's. */
export const BLUEXP_TOKEN_PATHS = ['/oauth/token', '/auth/oauth/token'] as const;

const DAY_SECONDS = 86_400;
const MAX_TOKENS = 10_000;
const MAX_FORCED_FAILURES = 10_000;

export interface BlueXpSimulatorOptions {
  /** BlueXP account id (account-xxxxxxxx). */
  accountId: string;
  /** Connector id; with or without its "clients" suffix (the API is sent it with). */
  agentId: string;
  /** Refresh token accepted by the refresh-token grant (with the BlueXP Console's client id). */
  refreshToken?: string;
  /** Service account accepted by the client-credentials grant. */
  serviceAccount?: { clientId: string; clientSecret: string };
  /** Audience tokens are issued for (default: the documented one). */
  audience?: string;
  /** expires_in of issued tokens, seconds (default 86400). */
  tokenLifetimeSeconds?: number;
  workingEnvironments?: number;
  volumesPerEnvironment?: number;
  /** Working environments whose backup is OFF, listed by the inventory with volumes but no jobs (default 1). */
  disabledEnvironments?: number;
  /** Jobs listed by GET /job: the newest N, one every jobIntervalMs. */
  jobs?: number;
  jobIntervalMs?: number;
  /** Typical run time of a job (each varies by ±40%); the first 15% of it the job is PENDING. */
  jobDurationMs?: number;
  /** Unit of `time` (default milliseconds). */
  timeUnit?: 'ms' | 's';
  /** Answer lists of one element as the element alone (default true). */
  collapseSingletons?: boolean;
  /** GET /job lists jobs without `data`; GET /job/{jobId} has it (default false). */
  summaryList?: boolean;
  /** GET /job lists restores too (default true); /restore/status always does. */
  restoresInJobList?: boolean;
  clock?: () => number;
  seed?: string;
  faults?: Partial<Faults>;
}

export interface BlueXpVolume {
  id: string;
  name: string;
}

export interface BlueXpWorkingEnvironment {
  id: string;
  name: string;
  svm: string;
  volumes: BlueXpVolume[];
}

export interface TokenStats {
  /** Tokens issued, per grant type. */
  grants: { refresh_token: number; client_credentials: number };
  /** Token requests refused. */
  refused: number;
  /** API requests refused because their token had expired or was revoked. */
  rejectedTokens: number;
}

export interface BlueXpSimulator extends Simulator {
  accountId: string;
  /** The x-agent-id value the API accepts (with the "clients" suffix). */
  agentId: string;
  /** The API prefix under the simulator's url: /account/<accountId>/providers/cloudmanager_cbs/api/v1. */
  apiBase: string;
  workingEnvironments: readonly BlueXpWorkingEnvironment[];
  /** Live counters of the token endpoint and token checks. */
  tokens: TokenStats;
  /** Every token issued so far stops working now (401 "Token expired"); returns how many. */
  expireTokens(): number;
  /** Forgets every token issued so far (401 "Invalid token"); returns how many. */
  revokeTokens(): number;
  /** Makes the next job to be created fail (a backup: its first volume); returns its id and creation time (ms). */
  failNext(): { jobId: string; created: number };
  /** Every listed job at `now` in full form (restores and data included, lists as lists): GET /job with the default knobs. */
  jobsAt(now?: number): Record<string, unknown>[];
  /** The inventory's working environments: the job environments first, then those whose backup is off. */
  inventory: readonly InventoryEnvironment[];
  /** GET /backup/working-environment at `now`, lists as lists. */
  environmentsAt(now?: number): Record<string, unknown>[];
  /** GET /backup/working-environment/{id}/volume at `now`, lists as lists; undefined for an unknown id. */
  volumesAt(environmentId: string, now?: number): Record<string, unknown>[] | undefined;
}

interface Settings {
  accountId: string;
  agentId: string;
  audience: string;
  tokenLifetimeSeconds: number;
  jobs: number;
  jobIntervalMs: number;
  jobDurationMs: number;
  timeUnit: 'ms' | 's';
  collapseSingletons: boolean;
  summaryList: boolean;
  restoresInJobList: boolean;
  clock: () => number;
  seed: string;
  phase: number;
}

export function createBlueXpSimulator(options: BlueXpSimulatorOptions): BlueXpSimulator {
  const s = settingsFrom(options);
  const world = buildWorld(options, s);
  const forced = new ForcedFailures();
  const memo = new JobMemo(world, s, forced);
  const inventory = buildInventory(world, s, Math.max(0, options.disabledEnvironments ?? 1));
  const volumesAt = (environmentId: string, now = s.clock()) => {
    const environment = inventory.find((e) => e.id === environmentId);
    if (!environment) return undefined;
    const fromJobs = environment.enabled ? newestJobBackups(memo, s, now) : new Map<string, number>();
    return environment.volumes.map((v) => volumeJson(s, environment, v, now, fromJobs));
  };
  const tokens = new TokenStore(s);
  const router = express.Router();
  router.post([...BLUEXP_TOKEN_PATHS], express.json({ limit: '64kb' }), express.urlencoded({ extended: false, limit: '64kb' }), tokenHandler(options, s, tokens));
  router.use(`/account/:accountId${BLUEXP_API_PATH}`, apiGuard(s, tokens), replayAnswers, apiRouter(s, memo, inventory, volumesAt));
  router.use((req, res) => sendJson(res, 404, { message: `Cannot ${req.method} ${req.path}` }));
  // Body parser failures (bad JSON on the token endpoint) answer in the token endpoint's shape.
  router.use(((err, _req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    sendJson(res, status, { error: 'invalid_request', error_description: 'Invalid request body' });
  }) as express.ErrorRequestHandler);
  const sim = createSimulator({
    name: 'bluexp',
    router,
    faults: options.faults,
    control: controlRouter(world, s, forced, tokens),
    errorBody: (status) => ({ message: http.STATUS_CODES[status] ?? 'Error' }),
    onReset: () => {
      forced.clear();
      tokens.resetStats();
    },
  });
  return {
    ...sim,
    accountId: s.accountId,
    agentId: s.agentId,
    apiBase: `/account/${s.accountId}${BLUEXP_API_PATH}`,
    workingEnvironments: world.environments,
    tokens: tokens.stats,
    expireTokens: () => tokens.expireAll(),
    revokeTokens: () => tokens.revokeAll(),
    failNext: () => failNext(world, s, forced),
    // Fresh objects, lists as lists: built from the remembered facts, never the shared answers.
    jobsAt: (now = s.clock()) => listedSlots(s, now).map((n) => structuredClone(answerJson(memo.job(n), 'full', now, false))),
    inventory,
    environmentsAt: () => inventory.map(environmentJson),
    volumesAt,
  };
}

function settingsFrom(o: BlueXpSimulatorOptions): Settings {
  const seed = o.seed ?? 'backup-exporter';
  const jobIntervalMs = Math.max(1000, o.jobIntervalMs ?? 10 * 60_000);
  return {
    accountId: o.accountId,
    agentId: o.agentId.endsWith('clients') ? o.agentId : `${o.agentId}clients`,
    audience: o.audience ?? BLUEXP_DEFAULTS.audience,
    tokenLifetimeSeconds: Math.max(1, o.tokenLifetimeSeconds ?? DAY_SECONDS),
    jobs: Math.max(0, o.jobs ?? 50),
    jobIntervalMs,
    jobDurationMs: Math.max(1000, o.jobDurationMs ?? 3 * 60_000),
    timeUnit: o.timeUnit ?? 'ms',
    collapseSingletons: o.collapseSingletons ?? true,
    summaryList: o.summaryList ?? false,
    restoresInJobList: o.restoresInJobList ?? true,
    clock: o.clock ?? Date.now,
    seed,
    phase: Math.floor(draws(seed, 'phase')[0]! * jobIntervalMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic identifiers and numbers




function uuidV4(seed: string, ...parts: (string | number)[]): string {
  const h = digest(seed, parts).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** UUIDv7: 48 bits of creation time (ms), then seeded bits; the time is how a job is found again. */
function uuidV7(seed: string, atMs: number, ...parts: (string | number)[]): string {
  const t = Math.max(0, Math.floor(atMs)).toString(16).padStart(12, '0').slice(-12);
  const h = digest(seed, parts).toString('hex');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${h.slice(0, 3)}-${'89ab'[parseInt(h[3]!, 16) % 4]}${h.slice(4, 7)}-${h.slice(7, 19)}`;
}

function uuidV7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function publicId(seed: string, length: number, ...parts: (string | number)[]): string {
  const bytes = digest(seed, parts);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[bytes[i % bytes.length]! % ALPHANUMERIC.length];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Working environments and volumes (small, built once)

const ENVIRONMENT_NAMES = ['cvo-prod', 'onprem-dc1', 'cvo-dr', 'onprem-dc2', 'fsx-analytics', 'cvo-dev'];
const VOLUME_NAMES = ['vol_finance', 'vol_hr', 'vol_erp', 'vol_home', 'vol_vmware', 'vol_sql', 'vol_logs', 'vol_projects'];

interface World {
  seed: string;
  environments: BlueXpWorkingEnvironment[];
}

function numbered(names: readonly string[], i: number): string {
  const round = Math.floor(i / names.length);
  return round === 0 ? names[i % names.length]! : `${names[i % names.length]}_${round + 1}`;
}

function buildWorld(o: BlueXpSimulatorOptions, s: Settings): World {
  const environments: BlueXpWorkingEnvironment[] = [];
  const count = Math.max(1, o.workingEnvironments ?? 2);
  const volumes = Math.max(1, o.volumesPerEnvironment ?? 4);
  for (let e = 0; e < count; e++) {
    const name = numbered(ENVIRONMENT_NAMES, e);
    const onPrem = name.startsWith('onprem');
    const id = `${onPrem ? 'OnPremWorkingEnvironment' : 'VsaWorkingEnvironment'}-${publicId(s.seed, 8, 'we', e)}`;
    environments.push({
      id,
      name,
      svm: `svm_${name.replace(/-/g, '_')}`,
      volumes: Array.from({ length: volumes }, (_, v) => ({ id: uuidV4(s.seed, 'volume', e, v), name: numbered(VOLUME_NAMES, v) })),
    });
  }
  return { seed: s.seed, environments };
}

// ---------------------------------------------------------------------------------------------
// Inventory: working environments and their volumes as GET /backup/working-environment and
// GET /backup/working-environment/{id}/volume show them (cbs/cbs.json of NetAppDocs/bluexp-automation,
// version 2.0.6: counts and sizes as strings, last-backup-creation-time a number).

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A backup policy as the API writes it, and the period of its shortest rule. */
interface SimPolicy {
  name: string;
  rule: Array<{ label: string; retention: string }>;
  intervalMs: number;
}

const HOURLY_POLICY: SimPolicy = {
  name: '1 Year Daily LTR',
  rule: [
    { label: 'hourly', retention: '24' },
    { label: 'daily', retention: '30' },
    { label: 'weekly', retention: '52' },
  ],
  intervalMs: HOUR_MS,
};
const DAILY_POLICY: SimPolicy = {
  name: 'Daily, weekly, monthly',
  rule: [
    { label: 'daily', retention: '30' },
    { label: 'weekly', retention: '52' },
    { label: 'monthly', retention: '12' },
  ],
  intervalMs: DAY_MS,
};
const ARCHIVE_POLICY: SimPolicy = { name: 'Archive daily', rule: [{ label: 'daily', retention: '7' }], intervalMs: DAY_MS };

/** What a volume's inventory entry says besides its name and id. */
type VolumeRole =
  /** Backed up on its working environment's schedule (and by the jobs). */
  | 'healthy'
  /** ACTIVE, but its newest backup is STALE_DAYS old: a schedule that stopped without a failure. */
  | 'stale'
  /** backup-status FAILED; its newest backup FAILED_DAYS old (its failed runs are older than the job list). */
  | 'failed'
  /** In a working environment whose backup is off: no backup-status, no backup. */
  | 'off';

export const STALE_DAYS = 3;
export const FAILED_DAYS = 2;

interface InventoryVolume extends BlueXpVolume {
  role: VolumeRole;
  policy?: SimPolicy;
}

export interface InventoryEnvironment {
  id: string;
  name: string;
  enabled: boolean;
  policy?: SimPolicy;
  /** Job environments: the same object jobs use; volumes listed by the inventory, in order. */
  volumes: InventoryVolume[];
  /** Volumes the working environment has that are not backed up (not in the volume list). */
  notBackedUp: number;
  usedGb: string;
}

function buildInventory(world: World, s: Settings, disabled: number): InventoryEnvironment[] {
  const out: InventoryEnvironment[] = world.environments.map((e, i) => {
    const policy = e.name.startsWith('cvo') ? HOURLY_POLICY : DAILY_POLICY;
    const volumes: InventoryVolume[] = e.volumes.map((v) => ({ ...v, role: 'healthy' }));
    // The first working environment also holds the volumes whose protection is in trouble.
    if (i === 0) {
      volumes.push({ id: uuidV4(s.seed, 'volume', i, 'archive'), name: 'vol_archive', role: 'stale', policy: ARCHIVE_POLICY });
      volumes.push({ id: uuidV4(s.seed, 'volume', i, 'legacy'), name: 'vol_legacy', role: 'failed' });
    }
    const usedGb = String(100 + Math.floor(draws(s.seed, 'used-gb', i)[0]! * 4000));
    return { id: e.id, name: e.name, enabled: true, policy, volumes, notBackedUp: 1, usedGb };
  });
  for (let d = 0; d < disabled; d++) {
    const name = d === 0 ? 'onprem-lab' : `onprem-lab_${d + 1}`;
    const id = `OnPremWorkingEnvironment-${publicId(s.seed, 8, 'we-off', d)}`;
    const volumes: InventoryVolume[] = ['vol_scratch', 'vol_test'].map((volume, v) => ({ id: uuidV4(s.seed, 'volume-off', d, v), name: volume, role: 'off' }));
    out.push({ id, name, enabled: false, volumes, notBackedUp: volumes.length, usedGb: '0' });
  }
  return out;
}

/**
 * The newest successful backup of each job volume among the listed jobs (ms, the end of its step),
 * scanning at most `limit` jobs from the newest.
 */
function newestJobBackups(memo: JobMemo, s: Settings, now: number, limit = 1000): Map<string, number> {
  const newest = new Map<string, number>();
  for (const n of listedSlots(s, now).slice(0, limit)) {
    const f = memo.job(n).facts;
    if (f.kind !== 'backup') continue;
    f.steps.forEach((st, i) => {
      const id = f.volumes[i]!.id;
      if (st.outcome === 'SUCCESS' && st.ends <= now && st.ends > (newest.get(id) ?? -Infinity)) newest.set(id, st.ends);
    });
  }
  return newest;
}

/** The newest scheduled backup of a policy at `now`: its period's start, a seeded few minutes late. */
function lastScheduled(s: Settings, policy: SimPolicy, now: number, salt: string): number {
  const offset = Math.floor(draws(s.seed, 'schedule', salt)[0]! * Math.min(policy.intervalMs, HOUR_MS) * 0.5);
  const slot = Math.floor((now - offset) / policy.intervalMs) * policy.intervalMs + offset;
  return slot;
}

function policyJson(policy: SimPolicy): Record<string, unknown> {
  return { name: policy.name, rule: policy.rule.map((r) => ({ ...r })), 'archive-after-days': '30' };
}

function retained(policy: SimPolicy): number {
  return policy.rule.reduce((sum, r) => sum + Number(r.retention), 0);
}

/** One volume as the volume list shows it at `now`. */
function volumeJson(s: Settings, e: InventoryEnvironment, v: InventoryVolume, now: number, fromJobs: Map<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'file-system-id': v.id,
    name: v.name,
    type: 'RW',
    style: 'flexvol',
    protocol: v.name === 'vol_home' || v.name === 'vol_hr' ? 'cifs' : 'nfs',
    svm: `svm_${e.name.replace(/-/g, '_')}`,
    status: 'online',
  };
  if (v.role === 'off') return out;
  const policy = v.policy ?? e.policy ?? DAILY_POLICY;
  const r = draws(s.seed, 'volume-inventory', v.id);
  let last: number;
  let count: number;
  if (v.role === 'stale') {
    last = lastScheduled(s, policy, now - STALE_DAYS * DAY_MS, v.id);
    count = 7;
  } else if (v.role === 'failed') {
    last = lastScheduled(s, policy, now - FAILED_DAYS * DAY_MS, v.id);
    count = 12;
  } else {
    // Scheduled backups may be missing from the job list; a job's backup is never newer than this.
    last = Math.max(lastScheduled(s, policy, now, v.id), fromJobs.get(v.id) ?? -Infinity);
    count = Math.max(1, Math.floor(retained(policy) * (0.5 + 0.5 * r[0]!)));
  }
  out['backup-status'] = v.role === 'failed' ? 'FAILED' : 'ACTIVE';
  out['last-backup-creation-time'] = timeValue(last, s);
  out['snapshot-count'] = String(count);
  if (v.policy) out['backup-policy'] = policyJson(v.policy);
  out['object-lock'] = 'NONE';
  return out;
}

function environmentJson(e: InventoryEnvironment): Record<string, unknown> {
  const backedUp = e.volumes.filter((v) => v.role !== 'off').length;
  const failed = e.volumes.filter((v) => v.role === 'failed').length;
  const onPrem = e.id.startsWith('OnPrem');
  const out: Record<string, unknown> = {
    name: e.name,
    id: e.id,
    status: 'ON',
    'ontap-version': onPrem ? '9.13.1' : '9.14.1',
    'backup-enablement-status': e.enabled ? 'ON' : 'OFF',
    type: onPrem ? 'ON_PREM' : 'VSA',
    provider: onPrem ? 'SGWS' : 'AWS',
    'used-capacity-gb': e.usedGb,
    'backed-up-volume-count': String(backedUp),
    'total-volumes-count': String(backedUp + e.notBackedUp),
    'failed-backup-volume-count': String(failed),
    'catalog-enabled': false,
    'auto-backup-enabled': e.enabled,
  };
  if (e.policy) out['backup-policy'] = policyJson(e.policy);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Jobs (derived on demand from slot number and clock)

type JobKind = 'backup' | 'restore-volume' | 'restore-file';
type Outcome = 'SUCCESS' | 'FAILED';

interface Step {
  starts: number;
  ends: number;
  outcome: Outcome;
  error?: string;
}

interface JobFacts {
  n: number;
  id: string;
  kind: JobKind;
  created: number;
  /** PENDING until then. */
  running: number;
  environment: BlueXpWorkingEnvironment;
  /** Backups: one step per volume; file restores: one per batch; volume restores: one. */
  steps: Step[];
  volumes: BlueXpVolume[];
  /** Restores: the restored volume. */
  source?: BlueXpVolume;
  /** File restores: paths per batch. */
  files: string[][];
  r: number[];
}

const VOLUME_ERRORS = [
  'SnapMirror transfer failed: Destination volume is out of space',
  'Failed to create Snapshot copy: volume is offline',
  'Transfer aborted: connection to the object store timed out',
];
const RESTORE_ERRORS = [
  'Restore failed: target volume already exists',
  'Restore failed: unable to read backup file from the object store',
  'Restore failed: aggregate has insufficient space',
];
const FILE_ERRORS = ['Failed to restore file: permission denied', 'Failed to restore file: path not found in the backup'];
const FILE_NAMES = ['budget.xlsx', 'contracts/2024-q3.pdf', 'home/alice/notes.txt', 'scripts/deploy.sh', 'db/dump.sql', 'reports/summary.docx'];

function kindOf(r: number): JobKind {
  if (r < 0.65) return 'backup';
  return r < 0.82 ? 'restore-volume' : 'restore-file';
}

function slotTime(s: Settings, n: number): number {
  return s.phase + n * s.jobIntervalMs;
}

function newestSlot(s: Settings, now: number): number {
  return Math.floor((now - s.phase) / s.jobIntervalMs);
}

/** Listed slots, newest first. */
function listedSlots(s: Settings, now: number): number[] {
  const newest = newestSlot(s, now);
  return Array.from({ length: s.jobs }, (_, i) => newest - i);
}

function inWindow(s: Settings, now: number, n: number): boolean {
  const newest = newestSlot(s, now);
  return n <= newest && n > newest - s.jobs;
}

function jobId(world: World, s: Settings, n: number): string {
  return uuidV7(world.seed, slotTime(s, n), 'job', n);
}

function slotOfId(memo: JobMemo, s: Settings, id: string): number | undefined {
  const ms = uuidV7Time(id);
  if (ms === undefined || (ms - s.phase) % s.jobIntervalMs !== 0) return undefined;
  const n = (ms - s.phase) / s.jobIntervalMs;
  return memo.id(n) === id ? n : undefined;
}

function jobFacts(world: World, s: Settings, forced: ForcedFailures, n: number): JobFacts {
  const r = draws(world.seed, 'job', n);
  const created = slotTime(s, n);
  const kind = kindOf(r[0]!);
  const environment = pick(world.environments, r[1]!);
  const duration = s.jobDurationMs * (0.6 + 0.8 * r[2]!);
  const running = created + Math.round(duration * 0.15);
  const work = created + duration - running;
  const doomed = forced.has(n);
  const facts: JobFacts = { n, id: jobId(world, s, n), kind, created, running, environment, steps: [], volumes: [], files: [], r };
  const all = environment.volumes;
  if (kind === 'backup') {
    const count = 1 + Math.floor(r[3]! * all.length);
    const first = Math.floor(r[4]! * all.length);
    for (let i = 0; i < count; i++) {
      const vr = draws(world.seed, 'volume-step', n, i);
      facts.volumes.push(all[(first + i) % all.length]!);
      facts.steps.push(step(running + (i / count) * work * 0.5, work * 0.5 * (0.5 + 0.5 * vr[0]!), doomed && i === 0 ? 0 : vr[1]!, 0.1, VOLUME_ERRORS, vr[2]!));
    }
  } else if (kind === 'restore-volume') {
    facts.source = pick(all, r[3]!);
    facts.steps.push(step(running, work, doomed ? 0 : r[4]!, 0.1, RESTORE_ERRORS, r[5]!));
  } else {
    facts.source = pick(all, r[3]!);
    const batches = 1 + Math.floor(r[4]! * 3);
    for (let b = 0; b < batches; b++) {
      const br = draws(world.seed, 'batch', n, b);
      facts.steps.push(step(running + (b / batches) * work, work / batches, doomed && b === 0 ? 0 : br[0]!, 0.1, FILE_ERRORS, br[1]!));
      const files = 1 + Math.floor(br[2]! * 3);
      facts.files.push(Array.from({ length: files }, (_, f) => `/${pick(FILE_NAMES, draws(world.seed, 'file', n, b, f)[0]!)}`));
    }
  }
  return facts;
}

function step(starts: number, length: number, outcomeDraw: number, failRate: number, errors: readonly string[], errorDraw: number): Step {
  const failed = outcomeDraw < failRate;
  const out: Step = { starts: Math.round(starts), ends: Math.round(starts + length), outcome: failed ? 'FAILED' : 'SUCCESS' };
  if (failed) out.error = pick(errors, errorDraw);
  return out;
}

type JobStatus = 'PENDING' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
type StepStatus = 'PENDING' | 'IN_PROGRESS' | Outcome;

function stepStatus(st: Step, now: number): StepStatus {
  if (now < st.starts) return 'PENDING';
  return now < st.ends ? 'IN_PROGRESS' : st.outcome;
}

function jobError(f: JobFacts): string | undefined {
  const failed = f.steps.filter((st) => st.outcome === 'FAILED');
  if (failed.length === 0) return undefined;
  if (f.kind === 'backup') return `Backup failed for ${failed.length} of ${f.steps.length} volume(s)`;
  if (f.kind === 'restore-file') return `File restore failed for ${failed.length} of ${f.steps.length} batch(es)`;
  return failed[0]?.error;
}

function timeValue(ms: number, s: Settings): number {
  return s.timeUnit === 's' ? Math.floor(ms / 1000) : ms;
}

function sourceJson(f: JobFacts): Record<string, unknown> {
  const volume = f.source!;
  const snapshotAt = new Date(f.created - (1 + Math.floor(f.r[6]! * 6)) * DAY_SECONDS * 1000);
  return {
    'working-environment-id': f.environment.id,
    'working-environment-name': f.environment.name,
    bucket: `netapp-backup-${f.environment.id.split('-').pop()!.toLowerCase()}`,
    'volume-id': volume.id,
    'volume-name': volume.name,
    snapshot: `daily.${snapshotAt.toISOString().slice(0, 10)}_0010`,
  };
}

function targetJson(f: JobFacts): Record<string, unknown> {
  const volume = f.source!;
  const target: Record<string, unknown> = {
    'working-environment-id': f.environment.id,
    'working-environment-name': f.environment.name,
    svm: f.environment.svm,
  };
  if (f.kind === 'restore-volume') {
    target['volume-name'] = `${volume.name}_restore`;
    target['volume-size'] = 100 * (1 + Math.floor(f.r[7]! * 10));
  } else {
    target['volume-name'] = volume.name;
    target.path = '/restored_files';
  }
  return target;
}

function filesJson(f: JobFacts, batch: number): Record<string, unknown>[] {
  return f.files[batch]!.map((path, i) => ({
    inode: 1000 + Math.floor(draws(f.id, 'inode', batch, i)[0]! * 9e6),
    path,
    type: 'file',
    size: Math.floor(draws(f.id, 'size', batch, i)[0]! * 5e8),
    mtime: Math.floor(f.created / 1000) - (1 + batch) * DAY_SECONDS,
  }));
}

/**
 * What never changes about one job: its facts and the clock-independent parts of its answers
 * (ids, hashed draws, source, target, batches, files), built once. Answers are assembled from it and
 * kept while the clock stays between two of the job's change times, so a finished job (most of a
 * long list) costs a lookup per request.
 */
interface KnownJob {
  facts: JobFacts;
  /** Whether the job was forced to fail when this was built (fail-next and reset change it). */
  doomed: boolean;
  /** Times at which the job's or a step's status changes, ascending. */
  changes: number[];
  /** The end of the last step: IN_PROGRESS until then. */
  lastEnd: number;
  /** Whether a step fails, and so the job. */
  failed: boolean;
  /** `error` of the job once it is FAILED. */
  error: string | undefined;
  /** `time` of the job. */
  time: number;
  restoreType: 'file' | 'volume';
  source?: Record<string, unknown>;
  target?: Record<string, unknown>;
  /** File restores, per batch: id, time and files. */
  batchIds: string[];
  batchTimes: number[];
  batchFiles: Record<string, unknown>[][];
  /** File restores: every batch's files, as /restore/status lists them. */
  allFiles: Record<string, unknown>[];
  /** Answers built at some clock, valid while from <= now < until. */
  full?: KnownAnswer;
  summary?: KnownAnswer;
  restore?: KnownAnswer;
}

interface KnownAnswer {
  from: number;
  until: number;
  value: Record<string, unknown>;
}

type AnswerKind = 'full' | 'summary' | 'restore';

/**
 * Jobs remembered per simulator: twice the listed window (so a window sliding with the clock never
 * evicts a listed job), at least 10,000, at most 250,000 (about 3 kB each).
 */
const MIN_REMEMBERED_JOBS = 10_000;
const MAX_REMEMBERED_JOBS = 250_000;

/** Each job's clock-independent facts and latest answers, per simulator, oldest evicted first. */
class JobMemo {
  private readonly known = new Map<number, KnownJob>();
  private readonly limit: number;

  constructor(
    private readonly world: World,
    private readonly s: Settings,
    private readonly forced: ForcedFailures,
  ) {
    this.limit = Math.min(MAX_REMEMBERED_JOBS, Math.max(MIN_REMEMBERED_JOBS, 2 * s.jobs));
  }

  job(n: number): KnownJob {
    const doomed = this.forced.has(n);
    const known = this.known.get(n);
    if (known && known.doomed === doomed) return known;
    const built = knownJob(jobFacts(this.world, this.s, this.forced, n), doomed, this.s);
    if (known) this.known.delete(n);
    else if (this.known.size >= this.limit) this.known.delete(this.known.keys().next().value!);
    this.known.set(n, built);
    return built;
  }

  /** The id of slot n, without hashing when the job is known. */
  id(n: number): string {
    return this.known.get(n)?.facts.id ?? jobId(this.world, this.s, n);
  }

  /** A job's answer at `now` in the simulator's shape (singletons collapsed or not); shared, not to be changed. */
  answer(k: KnownJob, kind: AnswerKind, now: number): Record<string, unknown> {
    const kept = k[kind];
    if (kept && now >= kept.from && now < kept.until) return kept.value;
    let i = 0;
    while (i < k.changes.length && k.changes[i]! <= now) i++;
    const value = answerJson(k, kind, now, this.s.collapseSingletons);
    k[kind] = { from: i > 0 ? k.changes[i - 1]! : -Infinity, until: i < k.changes.length ? k.changes[i]! : Infinity, value };
    return value;
  }
}

function knownJob(f: JobFacts, doomed: boolean, s: Settings): KnownJob {
  const changes = [...new Set([f.running, ...f.steps.flatMap((st) => [st.starts, st.ends])])].sort((a, b) => a - b);
  const k: KnownJob = {
    facts: f,
    doomed,
    changes,
    lastEnd: Math.max(...f.steps.map((st) => st.ends)),
    failed: f.steps.some((st) => st.outcome === 'FAILED'),
    error: jobError(f),
    time: timeValue(f.created, s),
    restoreType: f.kind === 'restore-file' ? 'file' : 'volume',
    batchIds: [],
    batchTimes: [],
    batchFiles: [],
    allFiles: [],
  };
  if (f.kind !== 'backup') {
    k.source = sourceJson(f);
    k.target = targetJson(f);
  }
  if (f.kind === 'restore-file') {
    f.steps.forEach((st, b) => {
      k.batchIds.push(uuidV4(f.id, 'batch', b));
      k.batchTimes.push(timeValue(st.starts, s));
      k.batchFiles.push(filesJson(f, b));
    });
    k.allFiles = k.batchFiles.flat();
  }
  return k;
}

function statusOf(k: KnownJob, now: number): JobStatus {
  if (now < k.facts.running) return 'PENDING';
  if (now < k.lastEnd) return 'IN_PROGRESS';
  return k.failed ? 'FAILED' : 'COMPLETED';
}

/** A one-element list answered as its element, when the simulator collapses singletons. */
function listOf<T>(items: T[], collapse: boolean): T | T[] {
  return collapse && items.length === 1 ? items[0]! : items;
}

function stepJson(id: string, st: Step, now: number): Record<string, unknown> {
  const status = stepStatus(st, now);
  return status === 'FAILED' ? { id, status, error: st.error } : { id, status };
}

/**
 * A job as GET /job ('full' or 'summary', which leaves `data` out) and GET /job/{jobId} ('full')
 * answer it, or a restore as GET /restore/status does ('restore': no type or working environment,
 * files directly under restore).
 */
function answerJson(k: KnownJob, kind: AnswerKind, now: number, collapse: boolean): Record<string, unknown> {
  const f = k.facts;
  const status = statusOf(k, now);
  const job: Record<string, unknown> = kind === 'restore' ? { id: f.id, status } : { id: f.id, 'working-environment-id': f.environment.id, type: f.kind, status };
  if (status === 'FAILED' && k.error !== undefined) job.error = k.error;
  job.time = k.time;
  if (kind === 'summary') return job;
  if (f.kind === 'backup') {
    job.data = { 'multi-volume-backup': { volume: listOf(f.volumes.map((v, i) => stepJson(v.id, f.steps[i]!, now)), collapse) } };
    return job;
  }
  const restore: Record<string, unknown> = { type: k.restoreType, source: k.source, target: k.target };
  if (f.kind === 'restore-file') {
    if (kind === 'restore') {
      restore.file = listOf(k.allFiles, collapse);
    } else {
      const batches = f.steps.map((st, b) => {
        const batch = stepJson(k.batchIds[b]!, st, now);
        batch.time = k.batchTimes[b];
        batch.file = listOf(k.batchFiles[b]!, collapse);
        return batch;
      });
      restore.batch = listOf(batches, collapse);
    }
  }
  job.data = { restore };
  return job;
}

const COLLAPSIBLE = new Set(['job', 'volume', 'batch', 'file']);

/** Answers one-element lists of the product's list keys as the element alone, at any depth. */
export function collapseSingletons(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(collapseSingletons);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const shaped = collapseSingletons(inner);
    out[key] = COLLAPSIBLE.has(key) && Array.isArray(shaped) && shaped.length === 1 ? shaped[0] : shaped;
  }
  return out;
}

/** Slots forced to fail (fail-next), bounded so a long demo cannot grow it without limit. */
class ForcedFailures {
  private readonly slots = new Set<number>();
  has(n: number): boolean {
    return this.slots.has(n);
  }
  add(n: number): void {
    if (this.slots.size >= MAX_FORCED_FAILURES) this.slots.delete(this.slots.values().next().value!);
    this.slots.add(n);
  }
  clear(): void {
    this.slots.clear();
  }
}

function failNext(world: World, s: Settings, forced: ForcedFailures): { jobId: string; created: number } {
  let n = newestSlot(s, s.clock()) + 1;
  while (forced.has(n)) n++;
  forced.add(n);
  return { jobId: jobId(world, s, n), created: slotTime(s, n) };
}

// ---------------------------------------------------------------------------------------------
// Tokens

class TokenStore {
  readonly stats: TokenStats = { grants: { refresh_token: 0, client_credentials: 0 }, refused: 0, rejectedTokens: 0 };
  /** Token -> epoch ms (simulator clock) at which it expires; oldest first. */
  private readonly tokens = new Map<string, number>();
  private issued = 0;

  constructor(private readonly s: Settings) {}

  issue(grant: 'refresh_token' | 'client_credentials', subject: string): { token: string; expiresIn: number } {
    const now = this.s.clock();
    const expiresIn = this.s.tokenLifetimeSeconds;
    const token = jwtShaped(this.s, subject, now, expiresIn, this.issued++);
    this.tokens.set(token, now + expiresIn * 1000);
    if (this.tokens.size > MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    this.stats.grants[grant]++;
    return { token, expiresIn };
  }

  check(token: string): 'valid' | 'expired' | 'unknown' {
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined) return 'unknown';
    return this.s.clock() < expiresAt ? 'valid' : 'expired';
  }

  expireAll(): number {
    for (const token of this.tokens.keys()) this.tokens.set(token, -Infinity);
    return this.tokens.size;
  }

  revokeAll(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }

  resetStats(): void {
    this.stats.grants.refresh_token = 0;
    this.stats.grants.client_credentials = 0;
    this.stats.refused = 0;
    this.stats.rejectedTokens = 0;
  }
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An access token shaped like Auth0's (a signed JWT); the API only checks that it was issued and is unexpired. */
function jwtShaped(s: Settings, subject: string, nowMs: number, expiresIn: number, serial: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({ iss: 'https://netapp-cloud-account.auth0.com/', sub: subject, aud: s.audience, iat, exp: iat + expiresIn, jti: serial }),
  );
  const signature = base64url(createHmac('sha256', `${s.seed}:signing`).update(`${header}.${payload}`).digest());
  return `${header}.${payload}.${signature}`;
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function tokenHandler(o: BlueXpSimulatorOptions, s: Settings, tokens: TokenStore): express.RequestHandler {
  return (req, res) => {
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
    const refuse = (status: number, error: string, description: string) => {
      tokens.stats.refused++;
      sendJson(res, status, { error, error_description: description });
    };
    const grant = field('grant_type');
    if (!grant) return refuse(400, 'invalid_request', 'Missing required parameter: grant_type');
    const audience = field('audience');
    if (audience !== undefined && audience !== s.audience) return refuse(403, 'access_denied', `Service not found: ${audience}`);
    const clientId = field('client_id');
    if (grant === 'refresh_token') {
      if (clientId !== BLUEXP_DEFAULTS.refresh_client_id) return refuse(401, 'access_denied', 'Unauthorized');
      const presented = field('refresh_token');
      if (!presented) return refuse(400, 'invalid_request', 'Missing required parameter: refresh_token');
      if (!o.refreshToken || !sameSecret(presented, o.refreshToken)) return refuse(403, 'invalid_grant', 'Unknown or invalid refresh token.');
      const { token, expiresIn } = tokens.issue('refresh_token', 'auth0|bluexp-simulator-user');
      return sendJson(res, 200, { access_token: token, expires_in: expiresIn, token_type: 'Bearer' });
    }
    if (grant === 'client_credentials') {
      const account = o.serviceAccount;
      const secret = field('client_secret') ?? '';
      if (!account || clientId !== account.clientId || !sameSecret(secret, account.clientSecret)) {
        return refuse(401, 'access_denied', 'Unauthorized');
      }
      if (audience === undefined) {
        return refuse(403, 'access_denied', 'No audience parameter was provided, and no default audience has been configured');
      }
      const { token, expiresIn } = tokens.issue('client_credentials', `${account.clientId}@clients`);
      return sendJson(res, 200, { access_token: token, expires_in: expiresIn, token_type: 'Bearer' });
    }
    refuse(403, 'unauthorized_client', `Grant type '${grant}' not allowed for the client.`);
  };
}

// ---------------------------------------------------------------------------------------------
// API

function apiGuard(s: Settings, tokens: TokenStore): express.RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      return sendJson(res, 401, { message: 'Missing or malformed authorization header' }, { 'WWW-Authenticate': 'Bearer' });
    }
    const state = tokens.check(match[1]!);
    if (state !== 'valid') {
      tokens.stats.rejectedTokens++;
      const expired = state === 'expired';
      return sendJson(res, 401, { message: expired ? 'Token expired' : 'Invalid token' }, {
        'WWW-Authenticate': `Bearer error="invalid_token", error_description="${expired ? 'The access token expired' : 'The access token is invalid'}"`,
      });
    }
    const agent = req.headers['x-agent-id'];
    if (typeof agent !== 'string' || agent.trim() === '') return sendJson(res, 400, { message: 'Missing x-agent-id header' });
    if (agent !== s.agentId) return sendJson(res, 403, { message: `Agent ${agent} is not registered in this account` });
    if (String(req.params.accountId ?? '') !== s.accountId) return sendJson(res, 403, { message: 'Action not allowed for user' });
    next();
  };
}

function queryValue(req: express.Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

/** Job answers come already in the simulator's shape (collapsed or not); only the list is left to shape. */
function answer(res: express.Response, s: Settings, jobs: Record<string, unknown>[]): void {
  sendJson(res, 200, { job: listOf(jobs, s.collapseSingletons) });
}

function apiRouter(
  s: Settings,
  memo: JobMemo,
  inventory: readonly InventoryEnvironment[],
  volumesAt: (environmentId: string) => Record<string, unknown>[] | undefined,
): express.Router {
  const r = express.Router();
  r.get('/backup/working-environment', (_req, res) => {
    sendJson(res, 200, { 'working-environment': listOf(inventory.map(environmentJson), s.collapseSingletons) });
  });
  r.get('/backup/working-environment/:workingEnvironmentId/volume', (req, res) => {
    const id = String(req.params.workingEnvironmentId ?? '');
    const volumes = volumesAt(id);
    if (!volumes) return sendJson(res, 404, { message: `Working environment ${id} not found` });
    sendJson(res, 200, { volume: listOf(volumes, s.collapseSingletons) });
  });
  r.get('/job', (req, res) => {
    const now = s.clock();
    const type = queryValue(req, 'type');
    const status = queryValue(req, 'status');
    const kind = s.summaryList ? 'summary' : 'full';
    const jobs: Record<string, unknown>[] = [];
    for (const n of listedSlots(s, now)) {
      const k = memo.job(n);
      if (!s.restoresInJobList && k.facts.kind !== 'backup') continue;
      const j = memo.answer(k, kind, now);
      if ((type === undefined || j.type === type) && (status === undefined || j.status === status)) jobs.push(j);
    }
    answer(res, s, jobs);
  });
  r.get('/job/:jobId', (req, res) => {
    const now = s.clock();
    const id = String(req.params.jobId ?? '');
    const n = slotOfId(memo, s, id);
    if (n === undefined || !inWindow(s, now, n)) return sendJson(res, 404, { message: `Job ${id} not found` });
    answer(res, s, [memo.answer(memo.job(n), 'full', now)]);
  });
  r.get('/restore/status', (_req, res) => {
    const now = s.clock();
    const jobs: Record<string, unknown>[] = [];
    for (const n of listedSlots(s, now)) {
      const k = memo.job(n);
      if (k.facts.kind !== 'backup') jobs.push(memo.answer(k, 'restore', now));
    }
    answer(res, s, jobs);
  });
  r.use((req, res) => sendJson(res, 404, { message: `Cannot ${req.method} ${req.originalUrl.split('?')[0]}` }));
  return r;
}

function controlRouter(world: World, s: Settings, forced: ForcedFailures, tokens: TokenStore): express.Router {
  const router = express.Router();
  router.get('/tokens', (_req, res) => sendJson(res, 200, tokens.stats));
  router.post('/expire-tokens', (_req, res) => sendJson(res, 200, { expired: tokens.expireAll() }));
  router.post('/revoke-tokens', (_req, res) => sendJson(res, 200, { revoked: tokens.revokeAll() }));
  router.post('/fail-next', (_req, res) => sendJson(res, 200, failNext(world, s, forced)));
  router.get('/info', (_req, res) =>
    sendJson(res, 200, { accountId: s.accountId, agentId: s.agentId, workingEnvironments: world.environments }),
  );
  return router;
}

// ---------------------------------------------------------------------------------------------
// Demo

export const DEMO_BLUEXP_ACCOUNT_ID = 'account-Dem0XbXp';
/** Written without the "clients" suffix in the demo config, to show that both forms work. */
export const DEMO_BLUEXP_AGENT_ID = 'DemoConnectorBxp0000000000000001';
export const DEMO_BLUEXP_REFRESH_TOKEN = 'demo-bluexp-refresh-token';
export const DEMO_BLUEXP_CLIENT_ID = 'DemoServiceAccount00000000000001';
export const DEMO_BLUEXP_CLIENT_SECRET = 'demo-bluexp-client-secret';

/** The demo's BlueXP: a job every two minutes (mostly backups), each running about 90 s; tokens live an hour. */
export function startDemo(listen: { host: string; port: number }): Promise<RunningSimulator> {
  const sim = createBlueXpSimulator({
    accountId: DEMO_BLUEXP_ACCOUNT_ID,
    agentId: DEMO_BLUEXP_AGENT_ID,
    refreshToken: DEMO_BLUEXP_REFRESH_TOKEN,
    serviceAccount: { clientId: DEMO_BLUEXP_CLIENT_ID, clientSecret: DEMO_BLUEXP_CLIENT_SECRET },
    tokenLifetimeSeconds: 3600,
    workingEnvironments: 2,
    volumesPerEnvironment: 4,
    jobs: 60,
    jobIntervalMs: 2 * 60_000,
    jobDurationMs: 90_000,
  });
  return startSimulator(sim.app, listen);
}

/** This product in the demo: its name (the simulators' flag and product argument), title and default port. */
export const demo = { product: 'bluexp', title: 'NetApp BlueXP', port: 19102, start: startDemo } as const satisfies DemoDefinition;

/**
 * Huawei Cloud Backup and Recovery (CBR) simulator: the part of the CBR v3 API the exporter reads,
 * the IAM token endpoint, and API Gateway's two ways of authenticating (IAM tokens and AK/SK
 * signatures), with vault backup policies whose tasks and backups move through their states as the
 * clock moves.
 *
 * Everything is derived from a seed and the clock, never stored per task: ids encode the entity
 * and slot they stand for, so a benchmark-sized project costs only the page being asked for.
 *
 * Faithful details (API reference, API Gateway error pages, the SDKs' models):
 * - POST /v3/auth/tokens (password method, user in a domain, project scope by name) answers 201
 *   with the token in the X-Subject-Token header and `token.expires_at` (`...T06:52:13.855000Z`);
 *   a wrong user or password is 401 with IAM's `{"error": {code, message, title}}`.
 * - API Gateway refuses requests with 401 and `{"error_msg", "error_code": "APIGW.0301",
 *   "request_id"}`: "x-auth-token not found", "decrypt token fail", "token expires, expires_at: ..",
 *   "verify aksk signature fail", "Get secretKey failed,ak:..,err:ak not exist", an X-Sdk-Date more
 *   than 15 minutes off ("signature expired, signature time:..,server time:.."), and after five
 *   failed signatures in a row the access key is locked for five minutes ("AK access failed to
 *   reach the limit,forbidden."). Signatures are checked by huawei-gateway.ts with the
 *   canonicalisation the exporter signs with (src/http/huawei-signer.ts).
 * - CBR errors are `{"error_code", "error_msg"}`; lists are paged with limit (1..1000) and offset.
 * - Times: operation logs write `2019-05-23T14:35:23.584+00:00`; backups and checkpoints write
 *   `2019-05-10T07:59:12.036982` (microseconds, no zone, UTC). `resource_size` (GB) is a string
 *   for some resources and a number for others.
 * - GET /v3/{project_id}/vaults: `billing.size` in GB, `billing.used` and `allocated` in MB,
 *   `billing.status`, and `resources[]` with `protect_status`. GET /v3/{project_id}/policies
 *   (filtered by operation_type and vault_id): `enabled`, `trigger.properties.pattern[]` (RRULEs),
 *   `associated_vaults[].vault_id`. Vaults take roles by index, so that every case shows with five:
 *   0 (and 5 on) plain, 1 nearly full (over 95 %) with its last resource in `error`, 2 frozen, 3
 *   bound to no backup policy (only a replication policy), 4 bound to a disabled policy. The roles
 *   are inventory only: the timeline below runs every vault's backups alike.
 * - A backup policy run makes one checkpoint per vault holding every resource of the vault, and
 *   one backup task per resource; a skipped resource has a task but no backup, and is listed in
 *   the checkpoint's skipped_resources (its task sometimes carries no error code of its own).
 *
 * Error codes other than APIGW.* are the simulator's own, in the product's shape.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import { formatSdkDate } from '../src/http/huawei-signer';
import { createSimulator, ApiError, handleApiErrors as handle, queryValue, replayAnswers, sendJson, startSimulator, type Faults, type RunningSimulator, type Simulator } from './framework';
import type { DemoDefinition } from './demo';
import { MAX_DATE_SKEW_MS, verifyRequest } from './huawei-gateway';
import { digest, draws } from './seeded';

const MAX_LIMIT = 1000;
const MAX_TOKENS = 10_000;
const MAX_FORCED_FAILURES = 10_000;
const AK_FAILURES_BEFORE_LOCK = 5;
const AK_LOCK_MS = 5 * 60_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Provider ids the product uses to tell server backups from disk backups. */
const PROVIDER_SERVER = '0daac4c5-6707-4851-97ba-169e36266b66';
const PROVIDER_DISK = 'd1603440-187d-4516-af25-121250c7cc97';

const CODE_INVALID_PARAM = 'BackupService.0006';
const CODE_NOT_FOUND = 'BackupService.6301';
const CODE_PROJECT_MISMATCH = 'BackupService.0007';
const CODE_INTERNAL = 'BackupService.6500';

export interface CbrIamUser {
  domain: string;
  user: string;
  password: string;
  /** Project name tokens are scoped to (e.g. ap-southeast-1). */
  project: string;
}

export interface CbrSimulatorOptions {
  projectId: string;
  /** IAM users that may get tokens. */
  iamUsers?: CbrIamUser[];
  /** Access key -> secret key. */
  accessKeys?: Record<string, string>;
  /** How long a token lives (default 24 h, as IAM's). */
  tokenLifetimeMs?: number;
  /** Lock an access key for five minutes after five failed signatures in a row (default true, as API Gateway). */
  akLockout?: boolean;
  vaults?: number;
  resourcesPerVault?: number;
  /** Backup tasks listed per resource: the newest N policy runs (the size knob for benchmarks). */
  backupsPerResource?: number;
  backupIntervalMs?: number;
  /** Typical run time of a backup task (each varies by ±30 %). */
  backupDurationMs?: number;
  /** Restore tasks listed: the newest N, one every restoreIntervalMs. */
  restores?: number;
  restoreIntervalMs?: number;
  restoreDurationMs?: number;
  /** The clock tasks and backups follow. */
  clock?: () => number;
  /** The clock tokens and X-Sdk-Date are checked against (default the real one, which clients sign with). */
  authClock?: () => number;
  seed?: string;
  faults?: Partial<Faults>;
}

export type CbrVaultStatus = 'available' | 'lock' | 'frozen' | 'deleting' | 'error';

export interface CbrVault {
  id: string;
  name: string;
  resources: CbrResource[];
  /** billing.status. */
  status: CbrVaultStatus;
  /** billing.size (GB) and billing.used (MB), as the vault list gives them. */
  sizeGb: number;
  usedMb: number;
  /** The vault's backup policy: enabled, disabled, or none bound. */
  policy: 'enabled' | 'disabled' | 'none';
}

export interface CbrResource {
  index: number;
  id: string;
  name: string;
  type: 'OS::Nova::Server' | 'OS::Cinder::Volume';
  sizeGb: number;
  /** Whether backups of it write resource_size as a number rather than a string. */
  numericSize: boolean;
  vault: number;
  /** protect_status in the vault list. */
  protectStatus: 'available' | 'error';
  /** backup_size (MB) in the vault list: a full backup and the increments of the listed runs. */
  backupMb: number;
}

export type TaskStatus = 'waiting' | 'running' | 'success' | 'failed' | 'timeout' | 'skipped';

export interface CbrSimulator extends Simulator {
  projectId: string;
  vaults: readonly CbrVault[];
  /** Tokens issued so far that are still accepted. */
  tokenCount(): number;
  /** Token requests answered with a token. */
  tokensIssued(): number;
  /** Every issued token expires now (its users get "token expires"). */
  expireTokens(): void;
  /** Every issued token is forgotten (as after a password change). */
  revokeTokens(): void;
  /** The next backup (of one resource) or restore to start will fail. */
  failNext(kind: 'backup' | 'restore'): { kind: string; startsAt: string };
  /** Every task the list would show now, newest first (for tests). */
  tasks(kind: 'backup' | 'restore'): Array<{ id: string; status: TaskStatus; resource: string; startedAt: number }>;
}

interface Settings {
  projectId: string;
  tokenLifetimeMs: number;
  akLockout: boolean;
  backupsPerResource: number;
  backupIntervalMs: number;
  backupDurationMs: number;
  restores: number;
  restoreIntervalMs: number;
  restoreDurationMs: number;
  clock: () => number;
  authClock: () => number;
  seed: string;
}

function settingsFrom(o: CbrSimulatorOptions): Settings {
  return {
    projectId: o.projectId,
    tokenLifetimeMs: Math.max(1000, o.tokenLifetimeMs ?? 24 * HOUR),
    akLockout: o.akLockout ?? true,
    backupsPerResource: Math.max(0, o.backupsPerResource ?? 24),
    // At least a second: ids carry the slot number in 8 hex digits.
    backupIntervalMs: Math.max(1000, o.backupIntervalMs ?? HOUR),
    backupDurationMs: Math.max(1, o.backupDurationMs ?? 3 * MINUTE),
    restores: Math.max(0, o.restores ?? 20),
    restoreIntervalMs: Math.max(1000, o.restoreIntervalMs ?? 2 * HOUR),
    restoreDurationMs: Math.max(1, o.restoreDurationMs ?? 5 * MINUTE),
    clock: o.clock ?? Date.now,
    authClock: o.authClock ?? Date.now,
    seed: o.seed ?? 'backup-exporter',
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic ids and numbers



function uuidFromHex(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function uuid(seed: string, ...parts: (string | number)[]): string {
  return uuidFromHex(digest(seed, parts).toString('hex'));
}

/** A UUID whose last group is the entity index (4 hex) and slot (8 hex), so it can be looked up. */
function slotUuid(seed: string, kind: string, index: number, slot: number): string {
  const hash = digest(seed, [kind, index, slot]).toString('hex');
  return uuidFromHex(hash.slice(0, 20) + index.toString(16).padStart(4, '0') + slot.toString(16).padStart(8, '0'));
}

function parseSlotUuid(id: string): { index: number; slot: number } | undefined {
  const m = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-([0-9a-f]{4})([0-9a-f]{8})$/.exec(id);
  return m ? { index: parseInt(m[1]!, 16), slot: parseInt(m[2]!, 16) } : undefined;
}

/** `2019-05-23T14:35:23.584+00:00`, as the operation logs write times. */
function isoOffset(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

/** `2019-05-10T07:59:12.036982`, as backups and checkpoints write times: microseconds, no zone. */
function isoMicros(ms: number, micros: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(Math.floor(micros) % 1000).padStart(3, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// The project

const SERVER_NAMES = ['ecs-web', 'ecs-db', 'ecs-app', 'ecs-cache', 'ecs-mq', 'ecs-search'];
const DISK_NAMES = ['evs-data', 'evs-logs', 'evs-archive'];

/** Share of a resource's size its first (full) backup takes, and each later incremental one. */
const FULL_BACKUP_SHARE = 0.6;
const INCREMENT_SHARE = 0.02;

function buildVaults(o: CbrSimulatorOptions, s: Settings): CbrVault[] {
  const vaults: CbrVault[] = [];
  const perVault = Math.max(1, o.resourcesPerVault ?? 3);
  for (let v = 0; v < Math.max(0, o.vaults ?? 2); v++) {
    const id = uuid(s.seed, 'vault', v);
    const disks = v % 2 === 1;
    const vault: CbrVault = { id, name: `vault-${id.slice(0, 4)}`, resources: [], status: v === 2 ? 'frozen' : 'available', sizeGb: 0, usedMb: 0, policy: v === 3 ? 'none' : v === 4 ? 'disabled' : 'enabled' };
    for (let r = 0; r < perVault; r++) {
      const index = v * perVault + r;
      const names = disks ? DISK_NAMES : SERVER_NAMES;
      const d = draws(s.seed, 'resource', index);
      const sizeGb = [40, 100, 200, 500][Math.floor(d[0]! * 4)]!;
      const runs = s.backupsPerResource;
      vault.resources.push({
        index,
        id: uuid(s.seed, 'resource', index),
        name: `${names[r % names.length]}-${String(index + 1).padStart(4, '0')}`,
        type: disks ? 'OS::Cinder::Volume' : 'OS::Nova::Server',
        sizeGb,
        numericSize: index % 2 === 1,
        vault: v,
        protectStatus: v === 1 && r === perVault - 1 && perVault > 1 ? 'error' : 'available',
        backupMb: runs === 0 ? 0 : Math.round(sizeGb * 1024 * (FULL_BACKUP_SHARE + (runs - 1) * INCREMENT_SHARE)),
      });
    }
    vault.usedMb = vault.resources.reduce((sum, res) => sum + res.backupMb, 0);
    const usedGb = vault.usedMb / 1024;
    // Vault 1 is nearly full (used over 95 % of its size); the others have room, in 100 GB steps.
    vault.sizeGb = v === 1 ? Math.max(1, Math.ceil(usedGb / 0.97)) : Math.max(100, Math.ceil((usedGb * 2) / 100) * 100);
    vaults.push(vault);
  }
  return vaults;
}

// ---------------------------------------------------------------------------------------------
// The timeline: policy runs per vault, restores per project

interface World {
  s: Settings;
  o: CbrSimulatorOptions;
  vaults: CbrVault[];
  resources: CbrResource[];
  forced: Set<string>;
  /** Per vault: when its policy runs, as an offset into the interval. */
  phases: number[];
  restorePhase: number;
  /** What never changes about each task slot (draws, ids, formatted times, names), made once: a benchmark lists the same tens of thousands on every page. */
  slotMemo: Map<number, SlotMemo>;
  /** Per vault: its backup policy's id (a hash), made on first use. */
  policyIds: string[];
  /** Per resource: the `resource` object of task JSON (never changes). */
  resourceJsons: Record<string, unknown>[];
  /** The sorted task list of the last request, reused while no new task has appeared. */
  refCache: Map<string, { key: string; refs: TaskRef[] }>;
  /** Every listed backup with its status, reused by the pages of one scrape (same second, same forced failures). */
  backupCache?: { key: string; listed: ListedBackup[] };
}

/**
 * The clock-independent facts of one task slot: its draws, and, made on first use, its ids,
 * formatted times and the parts of its JSON that never change. Only status, progress and the
 * times that follow the clock (or a forced failure) are worked out per request.
 */
interface SlotMemo {
  /** Resource index of a backup slot, -1 for a restore slot. */
  index: number;
  slot: number;
  r: number[];
  id?: string;
  createdIso?: string;
  /** isoOffset(endsIsoAt): the end time of the outcome it was last formatted for. */
  endsIso?: string;
  endsIsoAt?: number;
  backup?: BackupStatics;
  backupJson?: BackupJsonStatics;
  restore?: RestoreStatics;
}

/** Of a backup slot: what its task JSON and its backup JSON share. */
interface BackupStatics {
  backupId: string;
  checkpointId: string;
  backupName: string;
  /** The task's extra_info.backup. */
  extraBackup: Record<string, unknown>;
}

/** Of a backup slot: the rest of its backup JSON. */
interface BackupJsonStatics {
  createdMicros: string;
  protectedMicros: string;
  /** The last three digits of every time the backup writes. */
  microsSuffix: string;
  extendInfo: Record<string, unknown>;
  /** updated_at as last written, for the time `updatedAt` (a finished backup's end stays the same). */
  updatedMicros?: string;
  updatedAt?: number;
}

/** Of a restore slot: where it restores from and to. */
interface RestoreStatics {
  source: CbrResource;
  target: CbrResource;
  backupRun: number;
  checkpointId?: string;
  /** The task's extra_info.restore. */
  extraRestore?: Record<string, unknown>;
}

/** Enough for the largest benchmark (10 vaults x 100 resources x 48 runs, plus restores) several times over. */
const MAX_MEMO_SLOTS = 250_000;

/** Backup slot (index, n), or restore slot n with index -1. */
function slotMemo(w: World, index: number, slot: number): SlotMemo {
  const key = (index + 1) * 2 ** 32 + slot;
  const known = w.slotMemo.get(key);
  if (known) return known;
  const r = index < 0 ? draws(w.s.seed, 'restore', slot) : draws(w.s.seed, 'backup', index, slot);
  const fresh: SlotMemo = { index, slot, r };
  if (w.slotMemo.size >= MAX_MEMO_SLOTS) w.slotMemo.delete(w.slotMemo.keys().next().value!);
  w.slotMemo.set(key, fresh);
  return fresh;
}

function taskId(w: World, m: SlotMemo): string {
  return (m.id ??= m.index < 0 ? slotUuid(w.s.seed, 'restore-task', 0, m.slot) : slotUuid(w.s.seed, 'task', m.index, m.slot));
}

function createdIso(m: SlotMemo, created: number): string {
  return (m.createdIso ??= isoOffset(created));
}

function endsIso(m: SlotMemo, ends: number): string {
  if (m.endsIsoAt !== ends || m.endsIso === undefined) {
    m.endsIso = isoOffset(ends);
    m.endsIsoAt = ends;
  }
  return m.endsIso;
}

function policyId(w: World, v: number): string {
  return (w.policyIds[v] ??= uuid(w.s.seed, 'policy', w.vaults[v]!.id));
}

function vaultPhase(w: World, v: number): number {
  return w.phases[v]!;
}

function runTime(w: World, v: number, n: number): number {
  return vaultPhase(w, v) + n * w.s.backupIntervalMs;
}

/** The newest policy run of a vault at `now` (-1 before the first). */
function newestRun(w: World, v: number, now: number): number {
  return Math.floor((now - vaultPhase(w, v)) / w.s.backupIntervalMs);
}

function oldestListedRun(w: World, v: number, now: number): number {
  return Math.max(0, newestRun(w, v, now) - w.s.backupsPerResource + 1);
}

interface TaskFacts {
  /** The slot's clock-independent facts; its id is taskId(w, memo). */
  memo: SlotMemo;
  status: TaskStatus;
  outcome: Exclude<TaskStatus, 'waiting' | 'running'>;
  created: number;
  startsRunning: number;
  ends: number;
  progress: number;
  r: number[];
}

function lifecycle(memo: SlotMemo, created: number, duration: number, outcome: TaskFacts['outcome'], now: number): TaskFacts {
  const r = memo.r;
  const startsRunning = created + Math.round(r[0]! * 0.1 * duration);
  // A skipped task never runs; a timed-out one runs past its time budget.
  const ends = outcome === 'skipped' ? startsRunning : startsRunning + Math.round(duration * (0.7 + 0.6 * r[1]!) * (outcome === 'timeout' ? 1.5 : 1));
  let status: TaskStatus = outcome;
  if (now < startsRunning) status = 'waiting';
  else if (now < ends) status = 'running';
  const progress = status === 'waiting' ? 0 : status === 'running' ? Math.min(99, Math.floor(((now - startsRunning) / Math.max(1, ends - startsRunning)) * 100)) : 100;
  return { memo, status, outcome, created, startsRunning, ends, progress, r };
}

function isFinished(status: TaskStatus): boolean {
  return status !== 'waiting' && status !== 'running';
}

function backupOutcome(d: number): TaskFacts['outcome'] {
  if (d < 0.85) return 'success';
  if (d < 0.92) return 'failed';
  if (d < 0.95) return 'timeout';
  return 'skipped';
}

function restoreOutcome(d: number): TaskFacts['outcome'] {
  if (d < 0.8) return 'success';
  return d < 0.93 ? 'failed' : 'timeout';
}

function backupTask(w: World, res: CbrResource, n: number, now: number): TaskFacts {
  const memo = slotMemo(w, res.index, n);
  const outcome = w.forced.size > 0 && w.forced.has(`backup:${res.index}:${n}`) ? 'failed' : backupOutcome(memo.r[2]!);
  return lifecycle(memo, runTime(w, res.vault, n), w.s.backupDurationMs, outcome, now);
}

function restorePhase(w: World): number {
  return w.restorePhase;
}

function newestRestore(w: World, now: number): number {
  return Math.floor((now - restorePhase(w)) / w.s.restoreIntervalMs);
}

interface RestoreFacts extends TaskFacts {
  source: CbrResource;
  target: CbrResource;
  backupRun: number;
}

function restoreStatics(w: World, memo: SlotMemo, created: number): RestoreStatics {
  if (memo.restore) return memo.restore;
  const r = memo.r;
  const source = w.resources[Math.floor(r[3]! * w.resources.length)]!;
  const siblings = w.vaults[source.vault]!.resources;
  // Mostly back onto the resource itself; sometimes onto another one of the vault.
  const target = r[4]! < 0.2 && siblings.length > 1 ? siblings[(siblings.indexOf(source) + 1) % siblings.length]! : source;
  const backupRun = Math.max(0, newestRun(w, source.vault, created) - 1);
  return (memo.restore = { source, target, backupRun });
}

function restoreTask(w: World, m: number, now: number): RestoreFacts | undefined {
  if (w.resources.length === 0) return undefined;
  const memo = slotMemo(w, -1, m);
  const created = restorePhase(w) + m * w.s.restoreIntervalMs;
  const { source, target, backupRun } = restoreStatics(w, memo, created);
  const outcome = w.forced.has(`restore:${m}`) ? 'failed' : restoreOutcome(memo.r[2]!);
  return { ...lifecycle(memo, created, w.s.restoreDurationMs, outcome, now), source, target, backupRun };
}

const BACKUP_ERRORS: Record<string, { code: string; message: string }> = {
  failed: { code: 'BackupService.6502', message: 'Failed to create the snapshot of the disk.' },
  timeout: { code: 'BackupService.6503', message: 'The backup task timed out.' },
  skipped: { code: 'BackupService.6009', message: 'The resource is being backed up.' },
};

const RESTORE_ERRORS: Record<string, { code: string; message: string }> = {
  failed: { code: 'BackupService.6601', message: 'Failed to restore the disk from the backup.' },
  timeout: { code: 'BackupService.6603', message: 'The restore task timed out.' },
};

/** Half of the skipped tasks name no reason: the checkpoint's skipped_resources then has it. */
function skippedWithoutError(f: TaskFacts): boolean {
  return f.r[5]! < 0.5;
}

const NO_ERROR: { code: string; message: string } = { code: '', message: '' };

function errorInfo(f: TaskFacts, table: Record<string, { code: string; message: string }>): { code: string; message: string } {
  const error = isFinished(f.status) ? table[f.status] : undefined;
  if (!error || (f.status === 'skipped' && skippedWithoutError(f))) return NO_ERROR;
  return error;
}

// ---------------------------------------------------------------------------------------------
// JSON of tasks, backups and checkpoints
//
// The answers are built from the slots' memos (see SlotMemo): objects that never change (a task's
// extra_info.backup or .restore, a resource, a backup's extend_info) are shared between answers,
// which only ever serialise them.

function resourceJson(res: CbrResource): Record<string, unknown> {
  return { id: res.id, name: res.name, type: res.type };
}

function providerOf(res: CbrResource): string {
  return res.type === 'OS::Nova::Server' ? PROVIDER_SERVER : PROVIDER_DISK;
}

/** The fields every task has, in the product's order, after `checkpoint_id`. */
function addTaskBase(json: Record<string, unknown>, w: World, f: TaskFacts, v: number, operationType: string, now: number): void {
  const vault = w.vaults[v]!;
  const created = createdIso(f.memo, f.created);
  json.created_at = created;
  const finished = isFinished(f.status);
  if (finished) json.ended_at = endsIso(f.memo, f.ends);
  json.id = taskId(w, f.memo);
  json.operation_type = operationType;
  json.policy_id = policyId(w, v);
  json.project_id = w.s.projectId;
  json.started_at = created;
  json.status = f.status;
  // Waiting: when it was created (or now, if the clock is before that); running: now; finished: when it ended.
  if (finished) json.updated_at = now >= f.ends ? endsIso(f.memo, f.ends) : isoOffset(now);
  else json.updated_at = f.status === 'running' || now < f.created ? isoOffset(now) : created;
  json.vault_id = vault.id;
  json.vault_name = vault.name;
}

function backupStatics(w: World, res: CbrResource, n: number, memo: SlotMemo, created: number): BackupStatics {
  if (memo.backup) return memo.backup;
  const backupId = slotUuid(w.s.seed, 'backup', res.index, n);
  const name = backupName(created, backupId);
  return (memo.backup = {
    backupId,
    checkpointId: slotUuid(w.s.seed, 'checkpoint', res.vault, n),
    backupName: name,
    extraBackup: {
      app_consistency_error_code: '',
      app_consistency_error_message: '',
      app_consistency_status: '0',
      backup_id: backupId,
      backup_name: name,
      incremental: n > 0 ? 'true' : 'false',
    },
  });
}

function backupTaskJson(w: World, res: CbrResource, n: number, f: TaskFacts, now: number): Record<string, unknown> {
  const memo = f.memo;
  const statics = backupStatics(w, res, n, memo, f.created);
  const json: Record<string, unknown> = { checkpoint_id: statics.checkpointId };
  addTaskBase(json, w, f, res.vault, 'backup', now);
  json.error_info = errorInfo(f, BACKUP_ERRORS);
  json.extra_info = {
    backup: statics.extraBackup,
    common: { progress: f.progress, request_id: `req-${taskId(w, memo).slice(0, 8)}` },
    resource: w.resourceJsons[res.index],
  };
  json.provider_id = providerOf(res);
  return json;
}

function restoreTaskJson(w: World, f: RestoreFacts, now: number): Record<string, unknown> {
  const memo = f.memo;
  const statics = memo.restore!;
  if (statics.extraRestore === undefined) {
    const backupId = slotUuid(w.s.seed, 'backup', f.source.index, f.backupRun);
    statics.checkpointId = slotUuid(w.s.seed, 'checkpoint', f.source.vault, f.backupRun);
    statics.extraRestore = {
      backup_id: backupId,
      backup_name: backupName(runTime(w, f.source.vault, f.backupRun), backupId),
      target_resource_id: f.target.id,
      target_resource_name: f.target.name,
    };
  }
  const json: Record<string, unknown> = { checkpoint_id: statics.checkpointId };
  addTaskBase(json, w, f, f.source.vault, 'restore', now);
  json.error_info = errorInfo(f, RESTORE_ERRORS);
  json.extra_info = {
    common: { progress: f.progress, request_id: `req-${taskId(w, memo).slice(0, 8)}` },
    resource: w.resourceJsons[f.source.index],
    restore: statics.extraRestore,
  };
  json.provider_id = providerOf(f.source);
  return json;
}

function backupName(created: number, id: string): string {
  return `autobk_${id.slice(0, 4)}_${formatSdkDate(created).slice(0, 8)}`;
}

type BackupStatus = 'available' | 'protecting' | 'deleting' | 'error' | 'waiting_protect';

/** The backup a task makes; a skipped resource has none. */
function backupStatus(w: World, res: CbrResource, n: number, f: TaskFacts, now: number): BackupStatus | undefined {
  if (f.outcome === 'skipped') return undefined;
  if (f.status === 'waiting') return 'waiting_protect';
  if (f.status === 'running') return 'protecting';
  if (f.status !== 'success') return 'error';
  // The oldest listed run is the one retention is deleting.
  return n === oldestListedRun(w, res.vault, now) && newestRun(w, res.vault, now) >= w.s.backupsPerResource ? 'deleting' : 'available';
}

/** isoMicros(ms, micros) of a slot whose micros give `suffix`. */
function withMicros(ms: number, suffix: string): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${suffix}`;
}

function updatedMicros(extra: BackupJsonStatics, at: number): string {
  if (extra.updatedAt !== at || extra.updatedMicros === undefined) {
    extra.updatedMicros = withMicros(at, extra.microsSuffix);
    extra.updatedAt = at;
  }
  return extra.updatedMicros;
}

function backupJson(w: World, res: CbrResource, n: number, f: TaskFacts, status: BackupStatus, now: number): Record<string, unknown> {
  const memo = f.memo;
  const statics = backupStatics(w, res, n, memo, f.created);
  let extra = memo.backupJson;
  if (!extra) {
    const suffix = isoMicros(0, f.r[6]! * 1000).slice(23);
    extra = memo.backupJson = {
      createdMicros: withMicros(f.created, suffix),
      protectedMicros: withMicros(f.startsRunning, suffix),
      microsSuffix: suffix,
      extendInfo: {
        auto_trigger: true,
        bootable: res.type === 'OS::Nova::Server',
        incremental: n > 0,
        snapshot_id: uuid(w.s.seed, 'snapshot', statics.backupId),
      },
    };
  }
  return {
    checkpoint_id: statics.checkpointId,
    created_at: extra.createdMicros,
    description: '',
    enterprise_project_id: '0',
    expired_at: null,
    extend_info: extra.extendInfo,
    id: statics.backupId,
    image_type: 'backup',
    name: statics.backupName,
    parent_id: null,
    project_id: w.s.projectId,
    protected_at: extra.protectedMicros,
    replication_records: [],
    resource_az: 'az1',
    resource_id: res.id,
    resource_name: res.name,
    resource_size: res.numericSize ? res.sizeGb : String(res.sizeGb),
    resource_type: res.type,
    status,
    updated_at: updatedMicros(extra, Math.min(now, f.ends)),
    vault_id: w.vaults[res.vault]!.id,
  };
}

function checkpointJson(w: World, v: number, n: number, now: number): Record<string, unknown> {
  const vault = w.vaults[v]!;
  const facts = vault.resources.map((res) => ({ res, f: backupTask(w, res, n, now) }));
  const kept = facts.filter(({ f }) => f.outcome !== 'skipped');
  const skipped = facts.filter(({ f }) => f.outcome === 'skipped' && f.status === 'skipped');
  const busy = facts.some(({ f }) => f.status === 'waiting' || f.status === 'running');
  let status = 'available';
  if (busy) status = 'protecting';
  else if (kept.length > 0 && kept.every(({ f }) => f.status !== 'success')) status = 'error';
  else if (n === oldestListedRun(w, v, now) && newestRun(w, v, now) >= w.s.backupsPerResource) status = 'deleting';
  const created = runTime(w, v, n);
  return {
    checkpoint: {
      created_at: isoMicros(created, draws(w.s.seed, 'checkpoint-micros', v, n)[0]! * 1000),
      extra_info: { name: `autobk_${formatSdkDate(created).slice(0, 8)}`, description: '', retention_duration: -1 },
      id: slotUuid(w.s.seed, 'checkpoint', v, n),
      project_id: w.s.projectId,
      status,
      vault: {
        id: vault.id,
        name: vault.name,
        provider_id: vault.resources[0] ? providerOf(vault.resources[0]) : PROVIDER_SERVER,
        resources: kept.map(({ res }) => ({
          extra_info: '{}',
          id: res.id,
          name: res.name,
          protect_status: busy ? 'protecting' : 'available',
          resource_size: String(res.sizeGb),
          type: res.type,
        })),
        skipped_resources: skipped.map(({ res }) => ({ code: BACKUP_ERRORS.skipped!.code, id: res.id, name: res.name, reason: BACKUP_ERRORS.skipped!.message, type: res.type })),
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Listing

interface TaskRef {
  kind: 'backup' | 'restore';
  /** Resource index for backups. */
  index: number;
  slot: number;
  created: number;
}

function taskRefs(w: World, kind: 'backup' | 'restore', now: number): TaskRef[] {
  // The list changes only when a new task appears (and the oldest leaves): the newest slots say when.
  const key = kind === 'backup' ? w.vaults.map((_, v) => newestRun(w, v, now)).join(',') : String(newestRestore(w, now));
  const cached = w.refCache.get(kind);
  if (cached?.key === key) return cached.refs;
  const refs = buildTaskRefs(w, kind, now);
  w.refCache.set(kind, { key, refs });
  return refs;
}

function buildTaskRefs(w: World, kind: 'backup' | 'restore', now: number): TaskRef[] {
  const refs: TaskRef[] = [];
  if (kind === 'backup') {
    for (const [v, vault] of w.vaults.entries()) {
      const newest = newestRun(w, v, now);
      for (let n = oldestListedRun(w, v, now); n <= newest; n++) {
        const created = runTime(w, v, n);
        for (const res of vault.resources) refs.push({ kind, index: res.index, slot: n, created });
      }
    }
  } else if (w.resources.length > 0) {
    const newest = newestRestore(w, now);
    for (let m = Math.max(0, newest - w.s.restores + 1); m <= newest; m++) {
      refs.push({ kind, index: 0, slot: m, created: restorePhase(w) + m * w.s.restoreIntervalMs });
    }
  }
  // Newest first, as the product lists; ties in a policy run by resource.
  return refs.sort((a, b) => b.created - a.created || a.index - b.index);
}

function taskFacts(w: World, ref: TaskRef, now: number): TaskFacts | RestoreFacts | undefined {
  return ref.kind === 'backup' ? backupTask(w, w.resources[ref.index]!, ref.slot, now) : restoreTask(w, ref.slot, now);
}

function taskJson(w: World, ref: TaskRef, f: TaskFacts | RestoreFacts, now: number): Record<string, unknown> {
  return ref.kind === 'backup' ? backupTaskJson(w, w.resources[ref.index]!, ref.slot, f, now) : restoreTaskJson(w, f as RestoreFacts, now);
}

// ---------------------------------------------------------------------------------------------
// Errors

function cbrError(status: number, code: string, message: string): ApiError {
  return new ApiError(status, { error_code: code, error_msg: message });
}

function requestId(): string {
  return randomBytes(16).toString('hex');
}

function gatewayError(status: number, code: string, message: string): ApiError {
  return new ApiError(status, { error_msg: message, error_code: code, request_id: requestId() });
}

function iamError(status: number, message: string, title: string): ApiError {
  return new ApiError(status, { error: { code: status, message, title } });
}

function intParam(req: express.Request, name: string, fallback: number, min: number, max: number): number {
  const raw = queryValue(req, name);
  if (raw === undefined) return fallback;
  const value = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw cbrError(400, CODE_INVALID_PARAM, `Invalid parameter: ${name} must be an integer from ${min} to ${max}.`);
  return value;
}

/** start_time / end_time: `%YYYY-%mm-%ddT%HH:%MM:%SSZ`. */
function timeParam(req: express.Request, name: string): number | undefined {
  const raw = queryValue(req, name);
  if (raw === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms)) throw cbrError(400, CODE_INVALID_PARAM, `Invalid parameter: ${name} must be in the format YYYY-mm-ddTHH:MM:SSZ.`);
  return ms;
}

function page<T>(req: express.Request, items: T[]): { slice: T[]; total: number; limit: number; offset: number } {
  const limit = intParam(req, 'limit', MAX_LIMIT, 1, MAX_LIMIT);
  const offset = intParam(req, 'offset', 0, 0, 2 ** 31 - 1);
  return { slice: items.slice(offset, offset + limit), total: items.length, limit, offset };
}

// ---------------------------------------------------------------------------------------------
// Authentication: IAM tokens and AK/SK signatures

interface IssuedToken {
  expiresAt: number;
  projectId: string;
}

class Auth {
  readonly tokens = new Map<string, IssuedToken>();
  issued = 0;
  private readonly akFailures = new Map<string, { count: number; lockedUntil: number }>();

  constructor(
    private readonly o: CbrSimulatorOptions,
    private readonly s: Settings,
  ) {}

  issue(): { value: string; expiresAt: number } {
    const value = `MIIsim${randomBytes(48).toString('base64url')}`;
    const expiresAt = this.s.authClock() + this.s.tokenLifetimeMs;
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(value, { expiresAt, projectId: this.s.projectId });
    this.issued++;
    return { value, expiresAt };
  }

  expireAll(): void {
    const now = this.s.authClock();
    for (const token of this.tokens.values()) token.expiresAt = Math.min(token.expiresAt, now - 1);
  }

  /** Checks X-Auth-Token or the AK/SK signature; throws API Gateway's refusal. */
  check(req: express.Request): void {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return this.checkToken(token);
    const authorization = req.headers.authorization;
    if (typeof authorization === 'string' && authorization.startsWith('SDK-HMAC-SHA256')) return this.checkSignature(req);
    throw gatewayError(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-auth-token not found');
  }

  private checkToken(value: string): void {
    const token = this.tokens.get(value);
    if (!token) throw gatewayError(401, 'APIGW.0301', 'Incorrect IAM authentication information: decrypt token fail');
    if (this.s.authClock() >= token.expiresAt) {
      throw gatewayError(401, 'APIGW.0301', `Incorrect IAM authentication information: token expires, expires_at: ${new Date(token.expiresAt).toISOString()}`);
    }
  }

  private checkSignature(req: express.Request): void {
    const now = this.s.authClock();
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifyRequest(
      { method: req.method, path: req.originalUrl, headers: req.headers, body },
      (ak) => this.o.accessKeys?.[ak],
      now,
      MAX_DATE_SKEW_MS,
    );
    const ak = verdict.accessKey;
    const lock = ak ? this.akFailures.get(ak) : undefined;
    if (this.s.akLockout && lock && now < lock.lockedUntil) {
      throw gatewayError(401, 'APIGW.0301', 'Incorrect IAM authentication information: AK access failed to reach the limit,forbidden.');
    }
    if (verdict.ok) {
      this.akFailures.delete(verdict.accessKey);
      return;
    }
    if (ak) this.recordFailure(ak, now);
    const masked = ak ? `${ak.slice(0, 4)}******` : '******';
    switch (verdict.reason) {
      case 'unknown_access_key':
        throw gatewayError(401, 'APIGW.0301', `Incorrect IAM authentication information: Get secretKey failed,ak:${masked},err:ak not exist`);
      case 'expired':
        throw gatewayError(
          401,
          'APIGW.0301',
          `Incorrect IAM authentication information: signature expired, signature time:${verdict.sdkDate},server time:${formatSdkDate(now)}`,
        );
      default:
        throw gatewayError(401, 'APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail');
    }
  }

  private recordFailure(ak: string, now: number): void {
    const entry = this.akFailures.get(ak) ?? { count: 0, lockedUntil: 0 };
    entry.count++;
    if (entry.count >= AK_FAILURES_BEFORE_LOCK) {
      entry.lockedUntil = now + AK_LOCK_MS;
      entry.count = 0;
    }
    if (this.akFailures.size >= MAX_TOKENS) this.akFailures.delete(this.akFailures.keys().next().value!);
    this.akFailures.set(ak, entry);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function tokenRoute(w: World, auth: Auth): express.RequestHandler {
  return handle((req, res) => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    } catch {
      throw iamError(400, 'The request body is not valid JSON.', 'Bad Request');
    }
    const methods = field(body, 'auth', 'identity', 'methods');
    const user = field(body, 'auth', 'identity', 'password', 'user');
    const name = field(user, 'name');
    const password = field(user, 'password');
    const domain = field(user, 'domain', 'name');
    const project = field(body, 'auth', 'scope', 'project', 'name');
    if (!Array.isArray(methods) || !methods.includes('password') || typeof name !== 'string' || typeof password !== 'string' || typeof domain !== 'string') {
      throw iamError(400, 'Mandatory parameters are not specified.', 'Bad Request');
    }
    const known = (w.o.iamUsers ?? []).find((u) => u.user === name && u.domain === domain);
    if (!known || known.password !== password) throw iamError(401, 'The username or password is wrong.', 'Unauthorized');
    if (project !== known.project) throw iamError(401, 'The request you have made requires authentication.', 'Unauthorized');
    const token = auth.issue();
    const issuedAt = token.expiresAt - w.s.tokenLifetimeMs;
    const answer = {
      token: {
        expires_at: `${new Date(token.expiresAt).toISOString().slice(0, 23)}000Z`,
        issued_at: `${new Date(issuedAt).toISOString().slice(0, 23)}000Z`,
        methods: ['password'],
        project: { domain: { id: uuid('iam', domain).replace(/-/g, ''), name: domain }, id: w.s.projectId, name: known.project },
        user: { domain: { id: uuid('iam', domain).replace(/-/g, ''), name: domain }, id: uuid('iam', domain, name).replace(/-/g, ''), name },
        roles: [{ id: '0', name: 'op_service' }],
        catalog: [],
      },
    };
    sendJson(res, 201, answer, { 'X-Subject-Token': token.value });
  });
}

// ---------------------------------------------------------------------------------------------
// Routes

function apiRouter(w: World, auth: Auth): express.Router {
  const r = express.Router();
  const raw = express.raw({ type: () => true, limit: '1mb' });
  r.post('/v3/auth/tokens', raw, tokenRoute(w, auth));
  // API Gateway authenticates before the service routes; the signature covers the body, so it is read first.
  r.use('/v3', raw, (req, res, next) => {
    try {
      auth.check(req);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return sendJson(res, err.status, err.body, err.headers);
    }
    next();
  });
  r.use('/v3/:projectId', (req, res, next) => {
    if (String(req.params.projectId) !== w.s.projectId) {
      const err = cbrError(403, CODE_PROJECT_MISMATCH, 'The project ID in the URL does not match the project of the credentials.');
      return sendJson(res, err.status, err.body);
    }
    next();
  });
  r.use('/v3/:projectId', replayAnswers);
  r.get('/v3/:projectId/operation-logs', handle((req, res) => sendJson(res, 200, operationLogs(req, w))));
  r.get('/v3/:projectId/backups', handle((req, res) => sendJson(res, 200, backupList(req, w))));
  r.get('/v3/:projectId/vaults', handle((req, res) => sendJson(res, 200, vaultList(req, w))));
  r.get('/v3/:projectId/policies', handle((req, res) => sendJson(res, 200, policyList(req, w))));
  r.get('/v3/:projectId/checkpoints/:checkpointId', handle((req, res) => sendJson(res, 200, checkpoint(req, w))));
  r.use(handle(() => {
    throw gatewayError(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment');
  }));
  return r;
}

const OPERATION_TYPES = new Set(['backup', 'copy', 'replication', 'restore', 'delete', 'sync', 'vault_delete', 'remove_resource']);
const TASK_STATUSES = new Set(['success', 'skipped', 'failed', 'running', 'timeout', 'waiting']);

function operationLogs(req: express.Request, w: World): unknown {
  const now = w.s.clock();
  const type = queryValue(req, 'operation_type');
  if (type !== undefined && !OPERATION_TYPES.has(type)) throw cbrError(400, CODE_INVALID_PARAM, `Invalid parameter: operation_type ${type}.`);
  const status = queryValue(req, 'status');
  if (status !== undefined && !TASK_STATUSES.has(status)) throw cbrError(400, CODE_INVALID_PARAM, `Invalid parameter: status ${status}.`);
  const start = timeParam(req, 'start_time');
  const end = timeParam(req, 'end_time');
  const vaultId = queryValue(req, 'vault_id');
  const kinds: Array<'backup' | 'restore'> = type === undefined ? ['backup', 'restore'] : type === 'backup' || type === 'restore' ? [type] : [];
  let refs = kinds.length === 1 ? taskRefs(w, kinds[0]!, now) : kinds.flatMap((k) => taskRefs(w, k, now)).sort((a, b) => b.created - a.created);
  if (start !== undefined || end !== undefined) refs = refs.filter((ref) => (start === undefined || ref.created >= start) && (end === undefined || ref.created <= end));
  if (vaultId !== undefined) refs = refs.filter((ref) => vaultOfRef(w, ref, now) === vaultId);
  if (status !== undefined) refs = refs.filter((ref) => taskFacts(w, ref, now)?.status === status);
  const { slice, total } = page(req, refs);
  const logs: Record<string, unknown>[] = [];
  for (const ref of slice) {
    const facts = taskFacts(w, ref, now);
    if (facts) logs.push(taskJson(w, ref, facts, now));
  }
  return { count: total, operation_logs: logs };
}

function vaultOfRef(w: World, ref: TaskRef, now: number): string | undefined {
  if (ref.kind === 'backup') return w.vaults[w.resources[ref.index]!.vault]!.id;
  const f = restoreTask(w, ref.slot, now);
  return f && w.vaults[f.source.vault]!.id;
}

interface ListedBackup {
  res: CbrResource;
  n: number;
  f: TaskFacts;
  status: BackupStatus;
}

function listedBackups(w: World, now: number): ListedBackup[] {
  const refs = taskRefs(w, 'backup', now);
  const key = `${w.refCache.get('backup')?.key}|${Math.floor(now / 1000)}|${w.forced.size}`;
  if (w.backupCache?.key === key) return w.backupCache.listed;
  const listed: ListedBackup[] = [];
  for (const ref of refs) {
    const res = w.resources[ref.index]!;
    const f = backupTask(w, res, ref.slot, now);
    const status = backupStatus(w, res, ref.slot, f, now);
    if (status !== undefined) listed.push({ res, n: ref.slot, f, status });
  }
  w.backupCache = { key, listed };
  return listed;
}

function backupList(req: express.Request, w: World): unknown {
  const now = w.s.clock();
  const vaultId = queryValue(req, 'vault_id');
  const status = queryValue(req, 'status');
  const resourceId = queryValue(req, 'resource_id');
  const listed = listedBackups(w, now).filter(
    (b) =>
      (vaultId === undefined || w.vaults[b.res.vault]!.id === vaultId) &&
      (resourceId === undefined || b.res.id === resourceId) &&
      (status === undefined || b.status === status),
  );
  const { slice, total, limit, offset } = page(req, listed);
  return { backups: slice.map((b) => backupJson(w, b.res, b.n, b.f, b.status, now)), count: total, limit, offset };
}

function checkpoint(req: express.Request, w: World): unknown {
  const id = String(req.params.checkpointId ?? '');
  const now = w.s.clock();
  const parsed = parseSlotUuid(id);
  const notFound = cbrError(404, CODE_NOT_FOUND, `The checkpoint ${id} does not exist.`);
  if (!parsed || parsed.index >= w.vaults.length) throw notFound;
  const { index: v, slot: n } = parsed;
  if (slotUuid(w.s.seed, 'checkpoint', v, n) !== id || n > newestRun(w, v, now) || n < oldestListedRun(w, v, now)) throw notFound;
  return checkpointJson(w, v, n, now);
}

function vaultJson(w: World, vault: CbrVault): Record<string, unknown> {
  const disks = vault.resources[0]?.type === 'OS::Cinder::Volume';
  return {
    id: vault.id,
    name: vault.name,
    description: '',
    project_id: w.s.projectId,
    provider_id: disks ? PROVIDER_DISK : PROVIDER_SERVER,
    created_at: '2020-02-05T10:38:34.209782',
    enterprise_project_id: '0',
    auto_bind: false,
    bind_rules: {},
    auto_expand: false,
    threshold: 80,
    tags: [],
    billing: {
      allocated: vault.resources.reduce((sum, res) => sum + res.sizeGb * 1024, 0),
      charging_mode: 'post_paid',
      cloud_type: 'public',
      consistent_level: 'crash_consistent',
      object_type: disks ? 'disk' : 'server',
      protect_type: 'backup',
      size: vault.sizeGb,
      spec_code: disks ? 'vault.backup.volume.normal' : 'vault.backup.server.normal',
      status: vault.status,
      used: vault.usedMb,
      frozen_scene: vault.status === 'frozen' ? 'ARREAR' : null,
    },
    resources: vault.resources.map((res) => ({
      id: res.id,
      name: res.name,
      type: res.type,
      protect_status: res.protectStatus,
      size: res.sizeGb,
      backup_count: res.protectStatus === 'available' ? w.s.backupsPerResource : 0,
      backup_size: res.backupMb,
      extra_info: null,
    })),
  };
}

function vaultList(req: express.Request, w: World): unknown {
  const { slice, total, limit, offset } = page(req, w.vaults);
  return { vaults: slice.map((v) => vaultJson(w, v)), count: total, limit, offset };
}

/** CBR schedules run at most hourly: a faster simulator clock (the demo's) still shows an hourly policy. */
function schedulePatterns(intervalMs: number): string[] {
  const hours = intervalMs / HOUR;
  if (Number.isInteger(hours) && hours % 24 === 0) return [`FREQ=DAILY;INTERVAL=${hours / 24};BYHOUR=00;BYMINUTE=00`];
  if (Number.isInteger(hours)) return [`FREQ=HOURLY;INTERVAL=${hours}`];
  return ['FREQ=HOURLY;INTERVAL=1'];
}

function policyJson(w: World, id: string, name: string, type: 'backup' | 'replication', enabled: boolean, vaultIds: string[], pattern: string[]): Record<string, unknown> {
  return {
    id,
    name,
    enabled,
    operation_type: type,
    operation_definition: { day_backups: 0, max_backups: w.s.backupsPerResource, month_backups: 0, retention_duration_days: -1, timezone: 'UTC+00:00', week_backups: 0, year_backups: 0 },
    trigger: { id: uuid(w.s.seed, 'trigger', id), name: 'default', type: 'time', properties: { pattern, start_time: '2020-02-05 09:00:00' } },
    associated_vaults: vaultIds.map((vault_id) => ({ vault_id, destination_vault_id: null })),
  };
}

/** One backup policy per vault that has one (vault 4's disabled), and a replication policy on vault 3. */
function policies(w: World): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [v, vault] of w.vaults.entries()) {
    if (vault.policy !== 'none') out.push(policyJson(w, policyId(w, v), `policy-${vault.name}`, 'backup', vault.policy === 'enabled', [vault.id], schedulePatterns(w.s.backupIntervalMs)));
    else out.push(policyJson(w, uuid(w.s.seed, 'replication', vault.id), `replicate-${vault.name}`, 'replication', true, [vault.id], ['FREQ=DAILY;INTERVAL=1;BYHOUR=20;BYMINUTE=00']));
  }
  return out;
}

function policyList(req: express.Request, w: World): unknown {
  const type = queryValue(req, 'operation_type');
  if (type !== undefined && type !== 'backup' && type !== 'replication') throw cbrError(400, CODE_INVALID_PARAM, `Invalid parameter: operation_type ${type}.`);
  const vaultId = queryValue(req, 'vault_id');
  const listed = policies(w).filter(
    (p) => (type === undefined || p.operation_type === type) && (vaultId === undefined || (p.associated_vaults as { vault_id: string }[]).some((a) => a.vault_id === vaultId)),
  );
  const { slice, total } = page(req, listed);
  return { policies: slice, count: total };
}

// ---------------------------------------------------------------------------------------------
// fail-next and control routes

function failNext(w: World, kind: 'backup' | 'restore'): { kind: string; startsAt: string } {
  const now = w.s.clock();
  if (kind === 'restore') {
    let m = newestRestore(w, now) + 1;
    while (w.forced.has(`restore:${m}`)) m++;
    force(w, `restore:${m}`);
    return { kind, startsAt: isoOffset(restorePhase(w) + m * w.s.restoreIntervalMs) };
  }
  let best: { key: string; at: number } | undefined;
  for (const res of w.resources) {
    let n = newestRun(w, res.vault, now) + 1;
    while (w.forced.has(`backup:${res.index}:${n}`)) n++;
    const at = runTime(w, res.vault, n);
    if (!best || at < best.at) best = { key: `backup:${res.index}:${n}`, at };
  }
  if (!best) throw new Error('the simulator has no resources to fail a backup of');
  force(w, best.key);
  return { kind, startsAt: isoOffset(best.at) };
}

function force(w: World, key: string): void {
  if (w.forced.size >= MAX_FORCED_FAILURES) w.forced.delete(w.forced.values().next().value!);
  w.forced.add(key);
}

function controlRouter(w: World, auth: Auth): express.Router {
  const router = express.Router();
  router.post('/fail-next', (req, res) => {
    const kind = (req.body as { kind?: unknown } | undefined)?.kind ?? 'backup';
    if (kind !== 'backup' && kind !== 'restore') return sendJson(res, 400, { error: 'kind must be "backup" or "restore"' });
    sendJson(res, 200, failNext(w, kind));
  });
  router.post('/expire-tokens', (_req, res) => {
    auth.expireAll();
    sendJson(res, 200, { expired: auth.tokens.size });
  });
  router.post('/revoke-tokens', (_req, res) => {
    const revoked = auth.tokens.size;
    auth.tokens.clear();
    sendJson(res, 200, { revoked });
  });
  router.get('/info', (_req, res) => sendJson(res, 200, { projectId: w.s.projectId, vaults: w.vaults, tokensIssued: auth.issued }));
  return router;
}

// ---------------------------------------------------------------------------------------------

export function createCbrSimulator(options: CbrSimulatorOptions): CbrSimulator {
  const s = settingsFrom(options);
  const vaults = buildVaults(options, s);
  const world: World = {
    s,
    o: options,
    vaults,
    resources: vaults.flatMap((v) => v.resources),
    forced: new Set(),
    phases: vaults.map((_, v) => Math.floor(draws(s.seed, 'phase', v)[0]! * s.backupIntervalMs)),
    restorePhase: Math.floor(draws(s.seed, 'restore-phase')[0]! * s.restoreIntervalMs),
    slotMemo: new Map(),
    policyIds: [],
    resourceJsons: vaults.flatMap((v) => v.resources.map(resourceJson)),
    refCache: new Map(),
  };
  const auth = new Auth(options, s);
  const sim = createSimulator({
    name: 'cbr',
    router: apiRouter(world, auth),
    faults: options.faults,
    control: controlRouter(world, auth),
    errorBody: (status) =>
      status === 429
        ? { error_msg: 'The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute', error_code: 'APIGW.0308', request_id: requestId() }
        : { error_code: CODE_INTERNAL, error_msg: 'Internal server error.' },
    onReset: () => world.forced.clear(),
  });
  return {
    ...sim,
    projectId: s.projectId,
    vaults,
    tokenCount: () => auth.tokens.size,
    tokensIssued: () => auth.issued,
    expireTokens: () => auth.expireAll(),
    revokeTokens: () => auth.tokens.clear(),
    failNext: (kind) => failNext(world, kind),
    tasks: (kind) => {
      const now = s.clock();
      return taskRefs(world, kind, now).flatMap((ref) => {
        const f = taskFacts(world, ref, now);
        if (!f) return [];
        const resource = ref.kind === 'backup' ? world.resources[ref.index]!.name : (f as RestoreFacts).target.name;
        return [{ id: taskId(world, f.memo), status: f.status, resource, startedAt: f.created }];
      });
    },
  };
}

export const DEMO_CBR_PROJECT_ID = '0605767ea0800fe02f2ac0129dd5d9a6';
export const DEMO_CBR_ACCESS_KEY = 'DEMOCBRACCESSKEY0001';
export const DEMO_CBR_SECRET_KEY = 'demo-cbr-secret-key-do-not-use-in-production';
export const DEMO_CBR_IAM_USER: CbrIamUser = { domain: 'demo-domain', user: 'demo-user', password: 'demo-password', project: 'ap-southeast-1' };

/**
 * The demo's CBR: two vaults of three resources, a policy run every minute (so that any minute of
 * a dashboard sees backups finish, and duration panels fill at once), a restore every three.
 */
export function startDemo(listen: { host: string; port: number }): Promise<RunningSimulator> {
  const sim = createCbrSimulator({
    projectId: DEMO_CBR_PROJECT_ID,
    accessKeys: { [DEMO_CBR_ACCESS_KEY]: DEMO_CBR_SECRET_KEY },
    iamUsers: [DEMO_CBR_IAM_USER],
    vaults: 2,
    resourcesPerVault: 3,
    backupsPerResource: 60,
    backupIntervalMs: MINUTE,
    backupDurationMs: 25_000,
    restores: 20,
    restoreIntervalMs: 3 * MINUTE,
    restoreDurationMs: 60_000,
  });
  return startSimulator(sim.app, listen);
}

/** This product in the demo: its name (the simulators' flag and product argument), title and default port. */
export const demo = { product: 'cbr', title: 'Huawei Cloud CBR', port: 19104, start: startDemo } as const satisfies DemoDefinition;

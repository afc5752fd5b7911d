/**
 * The metric contract, in one place: the exporter's own metrics (prom-client, /metrics only) and the
 * per-target metrics rendered from collection snapshots (fresh on every scrape, never stale series).
 *
 * Target metrics are written by a small text-format renderer rather than prom-client registries:
 * they are rebuilt from a snapshot on every scrape, and the counters and histogram that must survive
 * between scrapes live in each target's JobHistory.
 */
import client from 'prom-client';
import { nextTurn } from './event-loop';
import { ERROR_REASONS } from './http/errors';
import { boundedText } from './text';
import { JOB_KINDS, JOB_STATES, RESTORE_POINT_STATES, TERMINAL_JOB_STATES } from './model';
import type { Job, JobKind, JobState, ProductAlert, ResourceProtection, RestorePoint, StorageUsage } from './model';
import type { ProviderName } from './providers';
import type { Findings, Reports } from './providers/types';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Buckets of backup_job_duration_seconds: one minute to one day. */
export const JOB_DURATION_BUCKETS = [60, 300, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400];
const UPSTREAM_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Longest label value written; product names are bounded, but a product's error text is not. */
const MAX_LABEL_VALUE_LENGTH = 256;

type MetricType = 'gauge' | 'counter' | 'histogram';
interface Family {
  name: string;
  type: MetricType;
  help: string;
}

function family(name: string, type: MetricType, help: string): Family {
  return { name, type, help };
}

/** Every per-target metric; docs/metrics.md documents each (a test keeps the two in step). */
export const TARGET_METRICS = {
  up: family('backup_up', 'gauge', '1 if the last collection of this target succeeded, else 0.'),
  collectDuration: family('backup_collect_duration_seconds', 'gauge', 'How long the last collection of this target took.'),
  collectTimestamp: family('backup_collect_timestamp_seconds', 'gauge', 'When the data served was fetched from the product (shows the age of a cached result).'),
  upstreamRequests: family('backup_collect_upstream_requests', 'gauge', 'API requests the last collection made to the product.'),
  jobs: family('backup_jobs', 'gauge', 'Jobs inside the lookback window, per kind and state; every state is present, 0 included.'),
  jobState: family('backup_job_state', 'gauge', 'One series per job (the newest max_jobs per target), value 1; state is normalised, status is the product\'s own word.'),
  jobStart: family('backup_job_start_timestamp_seconds', 'gauge', 'When a job started (newest max_jobs per target).'),
  jobEnd: family('backup_job_end_timestamp_seconds', 'gauge', 'When a finished job ended, where the product says (newest max_jobs per target).'),
  jobSize: family('backup_job_size_bytes', 'gauge', 'Bytes a job moved, where the product says (newest max_jobs per target).'),
  lastSuccess: family('backup_last_success_timestamp_seconds', 'gauge', 'End (or, where the product reports no end, start) of the newest succeeded job per resource in the lookback window.'),
  lastFailure: family('backup_last_failure_timestamp_seconds', 'gauge', 'End (or, where the product reports no end, start) of the newest failed job per resource in the lookback window.'),
  finished: family('backup_jobs_finished_total', 'counter', 'Jobs first seen in a terminal state since the exporter started (each job counted once).'),
  duration: family('backup_job_duration_seconds', 'histogram', 'Duration of finished jobs whose product reports start and end, each job observed once.'),
  restorePoints: family('backup_restore_points', 'gauge', 'Restore points per vault and state.'),
  lastRestorePoint: family('backup_last_restore_point_timestamp_seconds', 'gauge', 'Creation time of the newest available restore point per resource.'),
  omitted: family('backup_resource_series_omitted', 'gauge', 'Per-resource series of a metric left out by max_resources (the worst are kept); 0 when none were.'),
  resourceProtected: family('backup_resource_protected', 'gauge', '1 if the product backs the resource up on a schedule now, 0 if its backup is off, stopped or broken; status is the product\'s own word.'),
  scheduleInterval: family('backup_resource_schedule_interval_seconds', 'gauge', 'Seconds between two scheduled backups of the resource, where the product\'s schedule says it.'),
  storageUsed: family('backup_storage_used_bytes', 'gauge', 'Bytes the backups occupy in the vault, store or quota, where the product says.'),
  storageCapacity: family('backup_storage_capacity_bytes', 'gauge', 'Size of the vault, store or quota, where the product has one.'),
  productAlerts: family('backup_product_alerts', 'gauge', 'Open backup alerts the product itself raised, per resource and type.'),
  deliveryExpiry: family('backup_restore_delivery_expiry_timestamp_seconds', 'gauge', 'When the download link of a restore stops working (Ops Manager HTTP delivery), for links still usable.'),
} as const;

// ---------------------------------------------------------------------------------------------
// The exporter's own metrics (/metrics only).

export interface ExporterMetrics {
  /** process_* and nodejs_*: the process' own state, which no collection changes. */
  processRegistry: client.Registry;
  /** backup_exporter_*: the exporter's counters and gauges, which collections update. */
  registry: client.Registry;
  reloadSuccessful: client.Gauge;
  reloadTimestamp: client.Gauge;
  upstreamDuration: client.Histogram<'target' | 'provider' | 'code'>;
  collectErrors: client.Counter<'target' | 'provider' | 'reason'>;
  /** Observes one upstream request of a target (its HTTP status, or the error reason when none came). */
  observeUpstream(target: string, provider: string, code: string, seconds: number): void;
  /** Creates the zero-valued error series of a target so that increase() sees its first failure. */
  initTarget(target: string, provider: ProviderName): void;
  /** Drops the series of targets no longer configured. */
  retainTargets(targets: ReadonlyArray<{ name: string; provider: ProviderName }>): void;
  /**
   * A scrape's exposition: the process' metrics, the exporter's, then what `collectTargets` renders.
   * Both registries are read after the collection, which updates the exporter's metrics.
   */
  exposition(collectTargets: () => Promise<string>): Promise<string>;
}

export function createExporterMetrics(version: string): ExporterMetrics {
  const processRegistry = new client.Registry();
  client.collectDefaultMetrics({ register: processRegistry });
  // prom-client names these gauges *_total, which promtool (rightly) rejects; the per-type gauges stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    processRegistry.removeSingleMetric(name);
  }
  const registry = new client.Registry();
  const buildInfo = new client.Gauge({
    name: 'backup_exporter_build_info',
    help: 'Build of the running exporter; value 1.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  });
  buildInfo.set({ version, nodejs: process.version }, 1);
  const reloadSuccessful = new client.Gauge({
    name: 'backup_exporter_config_last_reload_successful',
    help: '1 if the last configuration load succeeded, else 0.',
    registers: [registry],
  });
  const reloadTimestamp = new client.Gauge({
    name: 'backup_exporter_config_last_reload_success_timestamp_seconds',
    help: 'When the configuration was last loaded successfully.',
    registers: [registry],
  });
  const upstreamDuration = new client.Histogram({
    name: 'backup_exporter_upstream_request_duration_seconds',
    help: 'Duration of requests to the products, per target and HTTP status (or error reason when no answer came).',
    labelNames: ['target', 'provider', 'code'] as const,
    buckets: UPSTREAM_DURATION_BUCKETS,
    registers: [registry],
  });
  const collectErrors = new client.Counter({
    name: 'backup_exporter_collect_errors_total',
    help: 'Failed collections per target and reason.',
    labelNames: ['target', 'provider', 'reason'] as const,
    registers: [registry],
  });
  /** target -> its provider and the codes its upstream histogram has series for. */
  const known = new Map<string, { provider: string; codes: Set<string> }>();
  return {
    processRegistry,
    registry,
    reloadSuccessful,
    reloadTimestamp,
    upstreamDuration,
    collectErrors,
    initTarget(target, provider) {
      if (!known.has(target)) known.set(target, { provider, codes: new Set() });
      for (const reason of ERROR_REASONS) collectErrors.inc({ target, provider, reason }, 0);
    },
    observeUpstream(target, provider, code, seconds) {
      known.get(target)?.codes.add(code);
      upstreamDuration.observe({ target, provider, code }, seconds);
    },
    retainTargets(targets) {
      const keep = new Set(targets.map((t) => `${t.name}\u0000${t.provider}`));
      for (const [target, { provider, codes }] of known) {
        if (keep.has(`${target}\u0000${provider}`)) continue;
        known.delete(target);
        for (const reason of ERROR_REASONS) collectErrors.remove({ target, provider, reason });
        for (const code of codes) upstreamDuration.remove({ target, provider, code });
      }
    },
    async exposition(collectTargets) {
      const targetsText = await collectTargets();
      return (await processRegistry.metrics()) + (await registry.metrics()) + targetsText;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Per-target state that must outlive one scrape: the finished-jobs counter and duration histogram.

interface DurationHistogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** The ids of one kind and resource that JobHistory has seen in a terminal state. */
interface SeenIds {
  kind: JobKind;
  resource: string;
  ids: Set<string>;
}

/**
 * Counts each job once when first seen in a terminal state; remembers at most `capacity` job ids.
 * A collection's jobs go through a HistoryBatch and count only when it is committed.
 */
export class JobHistory {
  /**
   * kind -> resource -> ids. Nested rather than one set of joined keys: every job is looked up on
   * every scrape, and joining three strings per job would be a third of the summaries' CPU time.
   */
  private readonly seen = new Map<JobKind, Map<string, SeenIds>>();
  /** The remembered ids in the order they came, a ring of `capacity` slots: the oldest is forgotten first. */
  private readonly ringOwners: SeenIds[] = [];
  private readonly ringIds: string[] = [];
  /** When each remembered job started (NaN where the product does not say). */
  private readonly ringStarts: number[] = [];
  private ringNext = 0;
  /**
   * Once ids had to be forgotten: the latest start of a forgotten job. A finished job that started
   * before it is taken as counted, so that a window holding more finished jobs than the history
   * remembers does not count the forgotten ones again on every collection.
   */
  private forgottenUpTo = -Infinity;
  readonly finished = new Map<string, number>();
  readonly durations = new Map<string, DurationHistogram>();

  constructor(
    readonly kinds: readonly JobKind[],
    private readonly capacity = 100_000,
  ) {
    for (const kind of kinds) {
      for (const state of TERMINAL_JOB_STATES) {
        this.finished.set(seriesKey(kind, state), 0);
        this.durations.set(seriesKey(kind, state), emptyHistogram());
      }
    }
  }

  /** A batch for one collection's jobs: nothing in it counts until it is committed. */
  begin(): HistoryBatch {
    return new HistoryBatch(this, this.capacity);
  }

  /** Whether the finished job was already counted (or is older than what the history had to forget). */
  has(job: FinishedJob): boolean {
    if (job.startedAt !== undefined && job.startedAt < this.countedUpTo()) return true;
    return this.seen.get(job.kind)?.get(job.resource)?.ids.has(job.id) ?? false;
  }

  /** Counts `job` if it is the first sighting of it in a terminal state. */
  record(job: Job): void {
    const finished = finishedJob(job);
    if (finished) this.count(finished);
  }

  /** Counts a finished job unless it was already counted. */
  count(job: FinishedJob): void {
    if (this.capacity > 0) {
      if (this.has(job)) return;
      this.remember(this.seenOf(job.kind, job.resource), job.id, job.startedAt ?? NaN);
    }
    const key = seriesKey(job.kind, job.state);
    this.finished.set(key, (this.finished.get(key) ?? 0) + 1);
    if (job.seconds !== undefined) {
      const histogram = this.durations.get(key) ?? emptyHistogram();
      observe(histogram, job.seconds);
      this.durations.set(key, histogram);
    }
  }

  /** How many job ids are remembered (at most `capacity`), and for how many kind and resource pairs. */
  remembered(): { ids: number; resources: number } {
    let ids = 0;
    let resources = 0;
    for (const owners of this.seen.values()) {
      resources += owners.size;
      for (const owner of owners.values()) ids += owner.ids.size;
    }
    return { ids, resources };
  }

  private seenOf(kind: JobKind, resource: string): SeenIds {
    let resources = this.seen.get(kind);
    if (!resources) this.seen.set(kind, (resources = new Map()));
    let owner = resources.get(resource);
    if (!owner) resources.set(resource, (owner = { kind, resource, ids: new Set() }));
    return owner;
  }

  /**
   * Jobs that started before this are taken as counted: the latest start forgotten, and once the
   * history is full, the start of the job it forgets next (a job older than that would push out
   * a newer one, to be forgotten itself at once).
   */
  private countedUpTo(): number {
    const next = this.ringOwners.length === this.capacity ? this.ringStarts[this.ringNext]! : NaN;
    return Number.isNaN(next) ? this.forgottenUpTo : Math.max(this.forgottenUpTo, next);
  }

  private remember(owner: SeenIds, id: string, startedAt: number): void {
    // Added before the oldest is forgotten: when that is this resource's only other id, its entry
    // must not be emptied (and dropped) with the new id still to come.
    owner.ids.add(id);
    const slot = this.ringNext;
    this.ringNext = (slot + 1) % this.capacity;
    const oldest = this.ringOwners[slot];
    if (oldest) {
      this.forget(oldest, this.ringIds[slot]!);
      const forgottenStart = this.ringStarts[slot]!;
      if (forgottenStart > this.forgottenUpTo) this.forgottenUpTo = forgottenStart;
    }
    this.ringOwners[slot] = owner;
    this.ringIds[slot] = id;
    this.ringStarts[slot] = startedAt;
  }

  private forget(owner: SeenIds, id: string): void {
    owner.ids.delete(id);
    if (owner.ids.size > 0) return;
    // A resource whose ids are all forgotten (a deleted volume, a departed user) leaves no entry behind.
    const resources = this.seen.get(owner.kind);
    if (resources?.get(owner.resource) === owner) resources.delete(owner.resource);
  }
}

/** Finished jobs counted into the history per turn of the event loop (see HistoryBatch.commit). */
const COMMIT_SLICE = 5000;

/** Longest job id or resource the history keeps (see boundedText): an upstream controls their size. */
const HISTORY_KEY_LENGTH = 128;

/** What the history keeps of a job in a terminal state: bounded keys, the state and the duration. */
export interface FinishedJob {
  kind: JobKind;
  resource: string;
  id: string;
  state: JobState;
  /** Unix seconds, where the product says. */
  startedAt?: number;
  /** Where the product says when the job started and ended. */
  seconds?: number;
}

/** The history's view of `job`; undefined unless it is in a terminal state. */
export function finishedJob(job: Job): FinishedJob | undefined {
  if (!TERMINAL_JOB_STATES.has(job.state)) return undefined;
  const finished: FinishedJob = {
    kind: job.kind,
    resource: boundedText(job.resource, HISTORY_KEY_LENGTH),
    id: boundedText(job.id, HISTORY_KEY_LENGTH),
    state: job.state,
  };
  if (job.startedAt !== undefined) finished.startedAt = job.startedAt;
  if (job.startedAt !== undefined && job.endedAt !== undefined && job.endedAt >= job.startedAt) finished.seconds = job.endedAt - job.startedAt;
  return finished;
}

/**
 * The finished jobs one collection saw that the history has not counted yet, held until the
 * collection is known to have succeeded. Bounded by the history's capacity: of more, the newest by
 * start are kept (the others are older than anything the history will remember).
 */
export class HistoryBatch {
  /**
   * The pending jobs, the newest `capacity` by start: more than the history can remember would
   * only push each other out. A heap with the oldest at its root, so that keeping the newest costs
   * no sort however many jobs a collection lists, and commit takes them oldest first.
   */
  private readonly pending: NewestJobs<FinishedJob>;
  /** kind -> resource -> ids pending, so a job listed twice in one collection counts once. */
  private readonly pendingIds = new Map<JobKind, Map<string, Set<string>>>();
  private committing?: Promise<void>;

  constructor(
    private readonly history: JobHistory,
    private readonly capacity: number,
  ) {
    this.pending = new NewestJobs<FinishedJob>(capacity, (dropped) => this.pendingIds.get(dropped.kind)?.get(dropped.resource)?.delete(dropped.id));
  }

  add(job: Job): void {
    if (!TERMINAL_JOB_STATES.has(job.state) || this.capacity === 0) return;
    const finished = finishedJob(job)!;
    if (this.history.has(finished)) return;
    let resources = this.pendingIds.get(finished.kind);
    if (!resources) this.pendingIds.set(finished.kind, (resources = new Map()));
    let ids = resources.get(finished.resource);
    if (!ids) resources.set(finished.resource, (ids = new Set()));
    if (ids.has(finished.id)) return;
    ids.add(finished.id);
    this.pending.add(finished);
  }

  /**
   * Counts the batch's jobs into the history, oldest first (what the history forgets first is then
   * the oldest, and its start bounds what counts as already counted), only on the first call; a
   * slice per turn of the event loop: a batch may hold the history's whole capacity (100,000 jobs,
   * tens of milliseconds to count), which must not hold the loop at once. A second call waits for
   * the first to end.
   */
  commit(slice = COMMIT_SLICE): Promise<void> {
    this.committing ??= this.countAll(slice);
    return this.committing;
  }

  private async countAll(slice: number): Promise<void> {
    while (this.pending.size > 0) {
      await nextTurn();
      for (let n = 0; n < slice && this.pending.size > 0; n++) this.history.count(this.pending.takeOldest()!);
    }
  }
}

/** Every kind\0state key, made once: summaries look one up per job. */
const SERIES_KEYS = new Map(JOB_KINDS.map((kind) => [kind, new Map(JOB_STATES.map((state) => [state, `${kind}\u0000${state}`]))]));

/** Jobs of every kind in `state` in a collection's summary. */
export function jobsInState(summary: Summary, state: JobState): number {
  let total = 0;
  for (const kind of JOB_KINDS) total += summary.counts.get(seriesKey(kind, state)) ?? 0;
  return total;
}

function seriesKey(kind: JobKind, state: JobState): string {
  return SERIES_KEYS.get(kind)?.get(state) ?? `${kind}\u0000${state}`;
}

function emptyHistogram(): DurationHistogram {
  return { buckets: JOB_DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
}

function observe(histogram: DurationHistogram, seconds: number): void {
  histogram.sum += seconds;
  histogram.count++;
  for (let i = JOB_DURATION_BUCKETS.length - 1; i >= 0 && seconds <= JOB_DURATION_BUCKETS[i]!; i--) histogram.buckets[i]!++;
}

// ---------------------------------------------------------------------------------------------
// Summaries: what the metrics need of one collection, built as the provider reports its findings,
// so that rendering costs the series served, not the jobs seen, and a cached or shared result is
// rendered cheaply for every scrape.

export interface Summary {
  /** Jobs inside the lookback window. */
  jobCount: number;
  /** kind\0state -> jobs. */
  counts: Map<string, number>;
  /** The newest max_jobs jobs, newest first. */
  newest: Job[];
  /** kind -> resource -> end (or start) of the newest succeeded / failed job. */
  lastSuccess: Map<JobKind, Map<string, number>>;
  lastFailure: Map<JobKind, Map<string, number>>;
  /** vault -> state -> restore points. */
  restorePoints: Map<string, Map<string, number>>;
  /** vault -> resource -> creation of the newest available restore point. */
  lastRestorePoint: Map<string, Map<string, number>>;
  /** resource -> its protection (the last reported). */
  protection: Map<string, ResourceProtection>;
  /** vault -> its usage (the last reported). */
  storage: Map<string, StorageUsage>;
  /** resource -> alert type -> open alerts. */
  alerts: Map<string, Map<string, number>>;
}

export class SummaryBuilder {
  private readonly summary: Summary = {
    jobCount: 0,
    counts: new Map(),
    newest: [],
    lastSuccess: new Map(),
    lastFailure: new Map(),
    restorePoints: new Map(),
    lastRestorePoint: new Map(),
    protection: new Map(),
    storage: new Map(),
    alerts: new Map(),
  };
  private readonly newest: NewestJobs;

  constructor(
    maxJobs: number,
    /** Unix seconds; jobs that started earlier are left out. */
    private readonly lookbackStart = -Infinity,
    /** Where finished jobs go to be counted once the collection succeeds. */
    private readonly history?: HistoryBatch,
  ) {
    this.newest = new NewestJobs(maxJobs);
  }

  addJob(job: Job): void {
    if (job.startedAt !== undefined && job.startedAt < this.lookbackStart) return;
    const s = this.summary;
    s.jobCount++;
    const key = seriesKey(job.kind, job.state);
    s.counts.set(key, (s.counts.get(key) ?? 0) + 1);
    this.newest.add(job);
    const newestOf = job.state === 'succeeded' ? s.lastSuccess : job.state === 'failed' ? s.lastFailure : undefined;
    const time = job.endedAt ?? job.startedAt;
    if (newestOf && time !== undefined) keepNewest(newestOf, job.kind, job.resource, time);
    this.history?.add(job);
  }

  addRestorePoint(point: RestorePoint): void {
    const s = this.summary;
    let states = s.restorePoints.get(point.vault);
    if (!states) s.restorePoints.set(point.vault, (states = new Map()));
    const count = point.count ?? 1;
    states.set(point.state, (states.get(point.state) ?? 0) + count);
    if (point.state !== 'available' || count === 0) return;
    keepNewest(s.lastRestorePoint, point.vault, point.resource, point.createdAt);
  }

  addResource(resource: ResourceProtection): void {
    this.summary.protection.set(resource.resource, resource);
  }

  addStorage(usage: StorageUsage): void {
    this.summary.storage.set(usage.vault, usage);
  }

  addAlert(alert: ProductAlert): void {
    let types = this.summary.alerts.get(alert.resource);
    if (!types) this.summary.alerts.set(alert.resource, (types = new Map()));
    types.set(alert.type, (types.get(alert.type) ?? 0) + (alert.count ?? 1));
  }

  result(): Summary {
    return { ...this.summary, newest: this.newest.result() };
  }
}

/**
 * Keeps the newest time per group and resource. Nested maps, not one map of joined keys: this runs
 * for most jobs of every scrape, and a joined key is a new string to build and hash each time.
 */
function keepNewest<G>(newest: Map<G, Map<string, number>>, group: G, resource: string, time: number): void {
  let times = newest.get(group);
  if (!times) newest.set(group, (times = new Map()));
  if (time > (times.get(resource) ?? -Infinity)) times.set(resource, time);
}

/** The summary of a whole collection at once (tests, small inputs). */
export function summarizeNow(found: Findings, maxJobs: number, lookbackStart = -Infinity): Summary {
  const builder = new SummaryBuilder(maxJobs, lookbackStart);
  for (const job of found.jobs ?? []) builder.addJob(job);
  for (const point of found.restorePoints ?? []) builder.addRestorePoint(point);
  for (const resource of found.resources ?? []) builder.addResource(resource);
  for (const usage of found.storage ?? []) builder.addStorage(usage);
  for (const alert of found.alerts ?? []) builder.addAlert(alert);
  return builder.result();
}

/** What the age of a job is read from: its start, and its id to break ties. */
interface Aged {
  id: string;
  startedAt?: number;
}

const startOf = (job: Aged) => job.startedAt ?? -Infinity;

/**
 * Negative when `a` is older than `b`: by start time, then by id, so that which jobs are served
 * does not depend on the order in which a product's answers arrived.
 */
function compareAge(a: Aged, b: Aged): number {
  const byStart = startOf(a) - startOf(b);
  if (byStart !== 0 && !Number.isNaN(byStart)) return byStart;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The newest `limit` jobs by start time; jobs without a start time count as the oldest. A min-heap
 * of `limit` entries: one pass over 100,000 jobs instead of sorting them all. `onDrop` hears of
 * every job that was added and is no longer kept.
 */
export class NewestJobs<T extends Aged = Job> {
  private readonly heap: T[] = [];

  constructor(
    private readonly limit: number,
    private readonly onDrop?: (dropped: T) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(job: T): void {
    const heap = this.heap;
    if (heap.length < this.limit) {
      heap.push(job);
      this.up(heap.length - 1);
    } else if (this.limit > 0 && compareAge(job, heap[0]!) > 0) {
      const dropped = heap[0]!;
      heap[0] = job;
      this.down(0);
      this.onDrop?.(dropped);
    } else {
      this.onDrop?.(job);
    }
  }

  /** Removes and returns the oldest job kept. */
  takeOldest(): T | undefined {
    const heap = this.heap;
    const oldest = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      this.down(0);
    }
    return oldest;
  }

  /** Newest first. */
  result(): T[] {
    return [...this.heap].sort((a, b) => compareAge(b, a));
  }

  private up(i: number): void {
    const heap = this.heap;
    for (; i > 0 && compareAge(heap[(i - 1) >> 1]!, heap[i]!) > 0; i = (i - 1) >> 1) this.swap(i, (i - 1) >> 1);
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && compareAge(heap[left]!, heap[smallest]!) < 0) smallest = left;
      if (right < heap.length && compareAge(heap[right]!, heap[smallest]!) < 0) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(i: number, j: number): void {
    [this.heap[i], this.heap[j]] = [this.heap[j]!, this.heap[i]!];
  }
}

export function newestJobs(jobs: readonly Job[], limit: number): Job[] {
  const newest = new NewestJobs(limit);
  for (const job of jobs) newest.add(job);
  return newest.result();
}

// ---------------------------------------------------------------------------------------------
// Rendering snapshots into the text exposition format.

export interface TargetSnapshot {
  target: string;
  provider: string;
  kinds: readonly JobKind[];
  restorePointsSupported: boolean;
  /** Which inventory families the provider reports; none when absent. */
  reports?: Reports;
  ok: boolean;
  /** Unix seconds at which the data was fetched. */
  timestamp: number;
  durationSeconds: number;
  upstreamRequests: number;
  /** Series per per-resource metric at most (max_resources); unbounded when absent. */
  maxResources?: number;
  /** What the metrics need of the collected jobs and restore points; absent when the collection failed. */
  summary?: Summary;
}

type Labels = ReadonlyArray<readonly [string, string]>;

/**
 * One target's samples, grouped by family in the order they were first added, each family's lines
 * already joined: a scrape only strings the targets together.
 */
export type RenderedTarget = ReadonlyMap<Family, string>;

/**
 * Lines rendered between two turns of the event loop (renderTargetInSlices): a few milliseconds.
 * Ordering a list cut at max_resources and joining a family's lines take a turn each, uncut.
 */
export const RENDER_SLICE_LINES = 2000;

/** Collects one target's samples per family. */
class Exposition {
  readonly samples = new Map<Family, string[]>();
  private sinceSlice = 0;

  add(metric: Family, labels: Labels, value: number, suffix = ''): void {
    if (!Number.isFinite(value)) return;
    let lines = this.samples.get(metric);
    if (!lines) {
      lines = [];
      this.samples.set(metric, lines);
    }
    lines.push(`${metric.name}${suffix}${formatLabels(labels)} ${value}`);
    this.sinceSlice++;
  }

  /** Whether a slice of lines was added since it last said so: the renderers yield then. */
  sliceDone(): boolean {
    if (this.sinceSlice < RENDER_SLICE_LINES) return false;
    this.sinceSlice = 0;
    return true;
  }

  joined(): RenderedTarget {
    const rendered = new Map<Family, string>();
    for (const [family, lines] of this.samples) rendered.set(family, lines.join('\n'));
    return rendered;
  }
}

/** A renderer: yields after each slice of lines (RENDER_SLICE_LINES), so a caller may let the event loop turn. */
type Rendering = Generator<void, void, void>;

/**
 * The samples of one target, rendered once when its collection ends: a cached or shared result is
 * then served to every scrape without rendering it again, and a scrape's last step only joins
 * what its targets rendered.
 */
export function renderTarget(s: TargetSnapshot, history?: JobHistory): RenderedTarget {
  const exposition = new Exposition();
  for (const _slice of renderSamples(exposition, s, history));
  return exposition.joined();
}

/**
 * renderTarget, a slice of lines per turn of the event loop: a target with tens of thousands of
 * series (thousands of resources) would otherwise hold the loop for as long as it renders.
 */
export async function renderTargetInSlices(s: TargetSnapshot, history?: JobHistory): Promise<RenderedTarget> {
  const exposition = new Exposition();
  for (const _slice of renderSamples(exposition, s, history)) await nextTurn();
  return exposition.joined();
}

function* renderSamples(exposition: Exposition, s: TargetSnapshot, history?: JobHistory): Rendering {
  const m = TARGET_METRICS;
  const base: Labels = [
    ['target', s.target],
    ['provider', s.provider],
  ];
  exposition.add(m.up, base, s.ok ? 1 : 0);
  exposition.add(m.collectDuration, base, s.durationSeconds);
  exposition.add(m.collectTimestamp, base, s.timestamp);
  exposition.add(m.upstreamRequests, base, s.upstreamRequests);
  const maxResources = s.maxResources ?? Infinity;
  if (s.ok && s.summary) yield* renderJobs(exposition, base, s.kinds, s.summary, maxResources);
  if (s.ok && s.summary && s.restorePointsSupported) yield* renderRestorePoints(exposition, base, s.summary, maxResources);
  if (s.ok && s.summary && s.reports) yield* renderInventory(exposition, base, s.reports, s.summary, maxResources);
  if (history) renderHistory(exposition, base, history);
}

/** The exposition text of several targets: each family's HELP and TYPE once, then its samples of every target. */
export function joinRendered(targets: readonly RenderedTarget[]): string {
  const families = new Map<Family, string[]>();
  for (const target of targets) {
    for (const [family, lines] of target) {
      const parts = families.get(family);
      if (parts) parts.push(lines);
      else families.set(family, [lines]);
    }
  }
  const out: string[] = [];
  for (const [family, parts] of families) {
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...parts);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export function renderTargets(entries: ReadonlyArray<{ snapshot: TargetSnapshot; history?: JobHistory }>): string {
  return joinRendered(entries.map(({ snapshot, history }) => renderTarget(snapshot, history)));
}

function* renderJobs(exposition: Exposition, base: Labels, kinds: readonly JobKind[], summary: Summary, maxResources: number): Rendering {
  const m = TARGET_METRICS;
  for (const kind of kinds) {
    for (const state of JOB_STATES) {
      exposition.add(m.jobs, [...base, ['kind', kind], ['state', state]], summary.counts.get(seriesKey(kind, state)) ?? 0);
    }
  }
  for (const job of summary.newest) {
    const jobLabels: Labels = [...base, ['kind', job.kind], ['job_id', job.id], ['resource', job.resource]];
    exposition.add(m.jobState, [...jobLabels, ['state', job.state], ['status', job.status]], 1);
    if (job.startedAt !== undefined) exposition.add(m.jobStart, jobLabels, job.startedAt);
    if (job.endedAt !== undefined) exposition.add(m.jobEnd, jobLabels, job.endedAt);
    if (job.bytes !== undefined) exposition.add(m.jobSize, jobLabels, job.bytes);
    if (job.deliveryExpiresAt !== undefined) {
      exposition.add(m.deliveryExpiry, [...base, ['job_id', job.id], ['resource', job.resource]], job.deliveryExpiresAt);
    }
    if (exposition.sliceDone()) yield;
  }
  // The stalest successes and the newest failures are the ones an administrator must see.
  yield* renderPerResource(exposition, base, m.lastSuccess, 'kind', summary.lastSuccess, maxResources, (a, b) => a - b);
  yield* renderPerResource(exposition, base, m.lastFailure, 'kind', summary.lastFailure, maxResources, (a, b) => b - a);
}

/**
 * One series per resource of `times` (group -> resource -> time), at most `limit` of them, the worst
 * first by `worse` on the time; a backup_resource_series_omitted series says how many were left out.
 */
function* renderPerResource<G extends string>(
  exposition: Exposition,
  base: Labels,
  metric: Family,
  groupLabel: string,
  times: ReadonlyMap<G, ReadonlyMap<string, number>>,
  limit: number,
  worse: (a: number, b: number) => number,
  /** Whether the outer key of `times` is the resource and the inner one the group (alerts: resource -> type). */
  resourceOuter = false,
): Rendering {
  const all: Array<[G, string, number]> = [];
  for (const [outer, inner] of times) {
    for (const [key, value] of inner) all.push(resourceOuter ? [key as G, outer, value] : [outer, key, value]);
  }
  const total = all.length;
  const entries = worstFirst(all, limit, ([group, resource]) => `${resource}\u0000${group}`, (a, b) => worse(a[2], b[2]));
  for (const [group, resource, value] of entries) {
    const labels: Labels = resourceOuter ? [...base, ['resource', resource], [groupLabel, group]] : [...base, [groupLabel, group], ['resource', resource]];
    exposition.add(metric, labels, value);
    if (exposition.sliceDone()) yield;
  }
  exposition.add(TARGET_METRICS.omitted, [...base, ['metric', metric.name]], total - entries.length);
}

function* renderRestorePoints(exposition: Exposition, base: Labels, summary: Summary, maxResources: number): Rendering {
  const m = TARGET_METRICS;
  // A vault is a user on some products: as many vaults as resources at most, those with restore
  // points in error first.
  const vaults = worstFirst([...summary.restorePoints], maxResources, ([vault]) => vault, ([, a], [, b]) => (b.get('error') ?? 0) - (a.get('error') ?? 0));
  for (const [vault, states] of vaults) {
    for (const state of RESTORE_POINT_STATES) exposition.add(m.restorePoints, [...base, ['vault', vault], ['state', state]], states.get(state) ?? 0);
    if (exposition.sliceDone()) yield;
  }
  exposition.add(m.omitted, [...base, ['metric', m.restorePoints.name]], summary.restorePoints.size - vaults.length);
  // The stalest restore points first: those are the resources at risk.
  yield* renderPerResource(exposition, base, m.lastRestorePoint, 'vault', summary.lastRestorePoint, maxResources, (a, b) => a - b);
}

/**
 * Protection, storage and product alerts, each family only for a provider that reports it. A value
 * the product did not give has no series: absent, never zero.
 */
function* renderInventory(exposition: Exposition, base: Labels, reports: Reports, summary: Summary, maxResources: number): Rendering {
  const m = TARGET_METRICS;
  if (reports.protection) {
    // Unprotected resources first (then by name): they are what an administrator must see when the list is cut.
    const ordered = [...summary.protection.values()];
    const kept = worstFirst(ordered, maxResources, (r) => r.resource, (a, b) => Number(a.protected) - Number(b.protected));
    for (const r of kept) {
      exposition.add(m.resourceProtected, [...base, ['resource', r.resource], ['status', r.status]], r.protected ? 1 : 0);
      if (exposition.sliceDone()) yield;
    }
    exposition.add(m.omitted, [...base, ['metric', m.resourceProtected.name]], ordered.length - kept.length);
    // The intervals of the resources whose protection is served: a cut list still joins on resource.
    let intervals = 0;
    for (const r of kept) {
      if (r.scheduleIntervalSeconds === undefined) continue;
      intervals++;
      exposition.add(m.scheduleInterval, [...base, ['resource', r.resource]], r.scheduleIntervalSeconds);
      if (exposition.sliceDone()) yield;
    }
    let known = 0;
    for (const r of summary.protection.values()) if (r.scheduleIntervalSeconds !== undefined) known++;
    exposition.add(m.omitted, [...base, ['metric', m.scheduleInterval.name]], known - intervals);
  }
  if (reports.storage) {
    // The fullest first, by share of capacity where there is one, else by bytes used.
    const fullness = (u: StorageUsage) => (u.capacityBytes ? (u.usedBytes ?? 0) / u.capacityBytes : 0);
    const kept = worstFirst([...summary.storage.values()], maxResources, (u) => u.vault, (a, b) => fullness(b) - fullness(a) || (b.usedBytes ?? 0) - (a.usedBytes ?? 0));
    for (const usage of kept) {
      const labels: Labels = [...base, ['vault', usage.vault]];
      if (usage.usedBytes !== undefined) exposition.add(m.storageUsed, labels, usage.usedBytes);
      if (usage.capacityBytes !== undefined) exposition.add(m.storageCapacity, labels, usage.capacityBytes);
      if (exposition.sliceDone()) yield;
    }
    exposition.add(m.omitted, [...base, ['metric', m.storageUsed.name]], summary.storage.size - kept.length);
  }
  // The most alerts first.
  if (reports.alerts) yield* renderPerResource(exposition, base, m.productAlerts, 'type', summary.alerts, maxResources, (a, b) => b - a, true);
}

/** `items` if at most `limit`, else the `limit` worst by `worse`, ties by `nameOf` (a cut list does not depend on answer order). */
function worstFirst<T>(items: T[], limit: number, nameOf: (item: T) => string, worse: (a: T, b: T) => number): T[] {
  if (items.length <= limit) return items;
  return items.sort((a, b) => worse(a, b) || (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0)).slice(0, limit);
}

function renderHistory(exposition: Exposition, base: Labels, history: JobHistory): void {
  const m = TARGET_METRICS;
  for (const [key, count] of history.finished) {
    const [kind, state] = key.split('\u0000');
    exposition.add(m.finished, [...base, ['kind', kind], ['state', state]], count);
  }
  for (const [key, histogram] of history.durations) {
    const [kind, state] = key.split('\u0000');
    const labels: Labels = [...base, ['kind', kind], ['state', state]];
    JOB_DURATION_BUCKETS.forEach((bound, i) => exposition.add(m.duration, [...labels, ['le', String(bound)]], histogram.buckets[i], '_bucket'));
    exposition.add(m.duration, [...labels, ['le', '+Inf']], histogram.count, '_bucket');
    exposition.add(m.duration, labels, histogram.sum, '_sum');
    exposition.add(m.duration, labels, histogram.count, '_count');
  }
}

function formatLabels(labels: Labels): string {
  if (!labels.length) return '';
  let text = '{';
  for (let i = 0; i < labels.length; i++) text += `${i ? ',' : ''}${labels[i]![0]}="${escapeLabelValue(labels[i]![1])}"`;
  return `${text}}`;
}

/** Characters a label value must not carry as they are: the format's escapes and control characters. */
const NEEDS_CLEANING = /[\\"\n\u0000-\u001f\u007f-\u009f]/;
/** Control characters other than the newline, which the format escapes. */
const CONTROL_CHARACTERS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/**
 * A label value as written in the exposition: bounded (a cut value keeps a short hash of the whole,
 * so distinct values stay distinct series), control characters replaced by U+FFFD, and escaped.
 */
export function escapeLabelValue(value: string): string {
  const bounded = boundedText(value, MAX_LABEL_VALUE_LENGTH);
  if (!NEEDS_CLEANING.test(bounded)) return bounded;
  return bounded.replace(CONTROL_CHARACTERS, '\ufffd').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Collection of one target: the deadline, singleflight (concurrent scrapes share one collection),
 * the min_interval cache, the lookback window, error classification and logging of failures.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { TargetConfig } from './config/schema';
import { HttpClient, pathForLog } from './http/client';
import type { RequestAuth, RequestScope } from './http/client';
import { maskFields, secretMasker, secretsOf } from './config/redact';
import { providerBlockOf } from './config/schema';
import { CollectError } from './http/errors';
import { TokenCache } from './http/token';
import type { ExporterMetrics, RenderedTarget, TargetSnapshot } from './metrics';
import { JobHistory, SummaryBuilder, renderTargetInSlices } from './metrics';
import { UnknownStatusLog } from './model';
import { providerFor } from './providers';
import { truncate } from './text';
import { MAX_LOGGED_PROBLEMS, inSlices } from './providers/kit';
import type { CollectContext, Findings, ProviderDefinition, ProviderInstance, ScopedHttp } from './providers/types';

/** Time kept back from Prometheus' scrape timeout for rendering and the network. */
export const SCRAPE_TIMEOUT_MARGIN_MS = 500;
const MIN_DEADLINE_MS = 100;
const DECIMAL_SECONDS = /^\s*\d{1,9}(\.\d{1,9})?\s*$/;
/** Longest status word written to the log. */
const MAX_LOGGED_STATUS_LENGTH = 200;
/** Tokens of a target masked at once: the current one and a few it replaced, which may still be echoed. */
const MAX_OBTAINED_SECRETS = 4;
/** Longest value in a target's log line. */
const MAX_LOGGED_VALUE_LENGTH = 500;

export interface CollectResult {
  snapshot: TargetSnapshot;
  /** The snapshot's samples, rendered once (see renderTarget). */
  rendered: RenderedTarget;
  error?: CollectError;
  /** True when served from the min_interval cache. */
  cached: boolean;
}

/**
 * Milliseconds a collection may take: Prometheus' scrape timeout header minus a margin, capped by
 * the target's own timeout. A missing or malformed header leaves the target's timeout.
 */
export function collectionBudgetMs(scrapeTimeoutHeader: string | undefined, targetTimeoutMs: number): number {
  // Prometheus writes decimal seconds (e.g. "9.5"); "0x2" or "1e3" are numbers to Number(), not to it.
  if (scrapeTimeoutHeader === undefined || !DECIMAL_SECONDS.test(scrapeTimeoutHeader)) return targetTimeoutMs;
  const seconds = Number(scrapeTimeoutHeader);
  if (!Number.isFinite(seconds) || seconds <= 0) return targetTimeoutMs;
  return Math.max(MIN_DEADLINE_MS, Math.min(targetTimeoutMs, seconds * 1000 - SCRAPE_TIMEOUT_MARGIN_MS));
}

/** Everything that lives as long as one target's configuration: its pool, provider state and history. */
export class TargetRuntime {
  readonly definition: ProviderDefinition;
  readonly history: JobHistory;
  private readonly provider: ProviderInstance;
  private readonly http: HttpClient;
  /** Every HTTP client of this target (its own and a provider's extra ones), closed together. */
  private readonly clients: HttpClient[] = [];
  private readonly log: Logger;
  /** Masks the configured secrets, then those obtained at run time (tokens). */
  private readonly mask: (text: string) => string;
  private obtainedSecrets: string[] = [];
  private maskObtained: (text: string) => string = (text) => text;
  private inflight?: Promise<CollectResult>;
  private last?: CollectResult;
  private lastLoggedFailure?: string;

  constructor(
    readonly config: TargetConfig,
    private readonly metrics: ExporterMetrics,
    log: Logger,
    private readonly unknownStatuses: UnknownStatusLog,
    version: string,
    /** Epoch milliseconds now; tests fix it to make an exposition exact. */
    private readonly clock: () => number = Date.now,
  ) {
    this.definition = providerFor(config.provider);
    // A product may echo a secret it was sent (a token endpoint repeating the request body): every
    // text that came from it is masked before it is logged or shown.
    const maskConfigured = secretMasker(secretsOf(config));
    this.mask = (text) => this.maskObtained(maskConfigured(text));
    // Every value of a target's log line is also cut: an upstream controls its size.
    const forLog = (text: string) => truncate(this.mask(text), MAX_LOGGED_VALUE_LENGTH);
    this.log = log.child({ target: config.name, provider: config.provider }, { formatters: { log: (fields) => maskFields(fields, forLog) } });
    const client = (baseUrl: string, auth?: RequestAuth) => {
      const created = new HttpClient({
        baseUrl,
        maxConcurrency: config.max_concurrency,
        tls: config.tls,
        auth,
        userAgent: `backup-exporter/${version}`,
        observe: (exchange) => {
          metrics.observeUpstream(config.name, config.provider, exchange.code, exchange.seconds);
          if (this.log.isLevelEnabled('debug')) {
            const { method, code, seconds, bytes } = exchange;
            this.log.debug({ method, path: pathForLog(exchange.path), status: code, ms: Math.round(seconds * 1000), bytes }, 'upstream request');
          }
        },
      });
      this.clients.push(created);
      return created;
    };
    this.provider = this.definition.create(config, providerBlockOf(config) as never, {
      log: this.log,
      client: (baseUrl) => client(baseUrl),
      tokenCache: (fetchToken) =>
        new TokenCache(async (scope) => {
          const token = await fetchToken(scope);
          this.keepSecret(token.value);
          return token;
        }),
    });
    this.history = new JobHistory(this.definition.kinds);
    this.http = client(config.url, this.provider.auth);
    metrics.initTarget(config.name, config.provider);
  }

  /** A secret the target obtained (a token): masked like the configured ones from now on; the newest few are kept. */
  private keepSecret(value: string): void {
    if (this.obtainedSecrets.includes(value)) return;
    this.obtainedSecrets = [...this.obtainedSecrets.slice(1 - MAX_OBTAINED_SECRETS), value];
    this.maskObtained = secretMasker(this.obtainedSecrets);
  }

  /** The last result, for the landing page. */
  get lastResult(): CollectResult | undefined {
    return this.last;
  }

  /**
   * A result for a scrape with `budgetMs` to spare: the cached one if younger than min_interval,
   * else the in-flight collection (shared), else a new one. Never rejects.
   */
  async collect(budgetMs: number): Promise<CollectResult> {
    const cached = this.last;
    if (cached && this.config.min_interval > 0 && this.clock() - cached.snapshot.timestamp * 1000 < this.config.min_interval) {
      return { ...cached, cached: true };
    }
    if (!this.inflight) {
      this.inflight = this.run(budgetMs).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.waitAtMost(this.inflight, budgetMs);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }

  /** A scrape that joined a collection started with a longer deadline still answers within its own. */
  private async waitAtMost(shared: Promise<CollectResult>, budgetMs: number): Promise<CollectResult> {
    let timer: NodeJS.Timeout | undefined;
    const startedAt = this.clock();
    const timeout = new Promise<CollectResult>((resolve) => {
      timer = setTimeout(() => {
        const error = new CollectError('timeout', 'deadline exceeded while waiting for a shared collection');
        resolve(this.result(this.failedSnapshot(startedAt, 0), error));
      }, budgetMs + 50);
    });
    try {
      return await Promise.race([shared, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(budgetMs: number): Promise<CollectResult> {
    const startedAt = this.clock();
    const controller = new AbortController();
    // Every request in flight listens on this signal; hundreds at once are expected, not a leak.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(() => controller.abort(new CollectError('timeout', 'deadline exceeded')), budgetMs);
    const scope: RequestScope = { signal: controller.signal, deadline: startedAt + budgetMs, requests: 0 };
    let result: CollectResult;
    const lookbackStart = (startedAt - this.config.lookback) / 1000;
    // Finished jobs enter the history only if the whole collection succeeds (see commit below).
    const history = this.history.begin();
    const builder = new SummaryBuilder(this.config.max_jobs, lookbackStart, history);
    let open = true;
    let unknownLogged = 0;
    const collectCtx: CollectContext = {
      http: this.scoped(scope),
      now: startedAt / 1000,
      lookbackStart,
      log: this.log,
      signal: controller.signal,
      unknownStatus: (status) => {
        if (!this.unknownStatuses.firstTime(this.config.provider, status)) return;
        if (++unknownLogged <= MAX_LOGGED_PROBLEMS) {
          this.log.warn({ status: truncate(status, MAX_LOGGED_STATUS_LENGTH) }, 'unknown product status mapped to state "unknown"');
        }
      },
      report: (found) => {
        // A provider's straggling promise may report after the collection ended: too late to count.
        if (open) summaries.push(found);
      },
    };
    const summaries = new SummaryQueue(builder, collectCtx);
    try {
      await this.provider.collect(collectCtx).finally(() => {
        open = false;
      });
      await summaries.drained();
      await history.commit();
      const summary = builder.result();
      result = await this.result({ ...this.baseSnapshot(startedAt, scope.requests), ok: true, summary });
      this.log.debug({ requests: scope.requests, jobs: summary.jobCount, duration_seconds: result.snapshot.durationSeconds }, 'collection finished');
      if (this.lastLoggedFailure) this.log.info({ requests: scope.requests }, 'target recovered');
      this.lastLoggedFailure = undefined;
    } catch (err) {
      const deadlinePassed = controller.signal.aborted;
      // At the deadline every request in flight fails at once; which one is reported first is chance
      // (often one still queued for a connection), so say what happened to the collection instead.
      const found = deadlinePassed
        ? new CollectError('timeout', `no complete answer within the ${(budgetMs / 1000).toFixed(1)} s deadline (${scope.requests} requests made)`)
        : asCollectError(err, false);
      const error = new CollectError(found.reason, this.mask(found.message));
      result = await this.result(this.failedSnapshot(startedAt, scope.requests), error);
      this.metrics.collectErrors.inc({ target: this.config.name, provider: this.config.provider, reason: error.reason });
      this.logFailure(error, startedAt);
    } finally {
      clearTimeout(timer);
      if (unknownLogged > MAX_LOGGED_PROBLEMS) {
        this.log.warn({ statuses: unknownLogged, logged: MAX_LOGGED_PROBLEMS }, 'more new unknown status words than were logged');
      }
      // Nothing of this collection may outlive it: pending requests end with the deadline's signal.
      if (!controller.signal.aborted) controller.abort(new CollectError('timeout', 'collection finished'));
    }
    this.last = result;
    return result;
  }

  /**
   * One warn line per change of failure reason, so a target that stays down does not flood the log;
   * the same reason with another message (a 500 after a 503, a parse error elsewhere) is debug.
   */
  private logFailure(error: CollectError, startedAt: number): void {
    const fields = { reason: error.reason, err: error.message, duration_seconds: (this.clock() - startedAt) / 1000 };
    if (this.lastLoggedFailure === error.reason) this.log.debug(fields, 'collection failed');
    else this.log.warn(fields, 'collection failed');
    this.lastLoggedFailure = error.reason;
  }

  private scoped(scope: RequestScope): ScopedHttp {
    return {
      request: (options) => this.http.request(options, scope),
      json: (options) => this.http.json(options, scope),
    };
  }

  private async result(snapshot: TargetSnapshot, error?: CollectError): Promise<CollectResult> {
    const rendered = await renderTargetInSlices(snapshot, this.history);
    return error ? { snapshot, rendered, error, cached: false } : { snapshot, rendered, cached: false };
  }

  private failedSnapshot(startedAt: number, requests: number): TargetSnapshot {
    return { ...this.baseSnapshot(startedAt, requests), ok: false };
  }

  private baseSnapshot(startedAt: number, requests: number) {
    return {
      target: this.config.name,
      provider: this.config.provider,
      kinds: this.definition.kinds,
      restorePointsSupported: this.definition.restorePoints,
      reports: this.definition.reports,
      timestamp: startedAt / 1000,
      durationSeconds: (this.clock() - startedAt) / 1000,
      upstreamRequests: requests,
      maxResources: this.config.max_resources,
    };
  }
}

/**
 * A collection's findings, summarised in slices (see inSlices) in the order they were reported, so
 * that a provider reporting a long list at once does not hold the event loop. The first failure
 * (the deadline passing mid-list) stops it and is the collection's.
 */
class SummaryQueue {
  private readonly queue: Findings[] = [];
  private running?: Promise<void>;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly builder: SummaryBuilder,
    private readonly ctx: Pick<CollectContext, 'signal'>,
  ) {}

  push(found: Findings): void {
    if (this.failure) return;
    this.queue.push(found);
    this.running ??= this.summarise()
      .catch((error: unknown) => {
        this.failure = { error };
        this.queue.length = 0;
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Resolves when everything reported is summarised; rejects with the first failure. */
  async drained(): Promise<void> {
    while (this.running) await this.running;
    if (this.failure) throw this.failure.error;
  }

  private async summarise(): Promise<void> {
    const b = this.builder;
    for (let found = this.queue.shift(); found; found = this.queue.shift()) {
      await inSlices(this.ctx, found.jobs ?? [], (items) => items.forEach((item) => b.addJob(item)));
      await inSlices(this.ctx, found.restorePoints ?? [], (items) => items.forEach((item) => b.addRestorePoint(item)));
      await inSlices(this.ctx, found.resources ?? [], (items) => items.forEach((item) => b.addResource(item)));
      await inSlices(this.ctx, found.storage ?? [], (items) => items.forEach((item) => b.addStorage(item)));
      await inSlices(this.ctx, found.alerts ?? [], (items) => items.forEach((item) => b.addAlert(item)));
    }
  }
}

/**
 * What a provider threw, as a CollectError. The HTTP layer already classifies network and status
 * failures; anything else a provider throws is an answer it could not use.
 */
export function asCollectError(err: unknown, deadlinePassed: boolean): CollectError {
  if (err instanceof CollectError) return err;
  if (deadlinePassed) return new CollectError('timeout', 'deadline exceeded');
  return new CollectError('invalid_response', `unusable answer: ${err instanceof Error ? err.message : String(err)}`);
}

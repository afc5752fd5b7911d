/**
 * The running exporter: the current configuration, one TargetRuntime per target, reloads that keep
 * the old configuration on a bad file, and the scrapes that /metrics and /probe serve.
 */
import type { Logger } from 'pino';
import { loadConfigFile } from './config/load';
import type { Config } from './config/schema';
import { TargetRuntime, collectionBudgetMs } from './collect';
import type { CollectResult } from './collect';
import { joinRendered } from './metrics';
import type { ExporterMetrics } from './metrics';
import { UnknownStatusLog } from './model';

export interface ReloadOutcome {
  ok: boolean;
  error?: string;
}

export class Exporter {
  private current: Config;
  private readonly runtimes = new Map<string, TargetRuntime>();
  private readonly unknownStatuses = new UnknownStatusLog();

  constructor(
    private readonly configFile: string,
    initial: Config,
    readonly metrics: ExporterMetrics,
    private readonly log: Logger,
    readonly version: string,
  ) {
    this.current = initial;
    this.apply(initial);
    metrics.reloadSuccessful.set(1);
    metrics.reloadTimestamp.set(Date.now() / 1000);
  }

  get config(): Config {
    return this.current;
  }

  get targets(): TargetRuntime[] {
    return [...this.runtimes.values()];
  }

  target(name: string): TargetRuntime | undefined {
    return this.runtimes.get(name);
  }

  /** Reads the configuration file again; on any problem the running configuration stays. */
  async reload(): Promise<ReloadOutcome> {
    let next: Config;
    try {
      next = loadConfigFile(this.configFile);
    } catch (err) {
      this.metrics.reloadSuccessful.set(0);
      const error = err instanceof Error ? err.message : String(err);
      this.log.error({ file: this.configFile, err: error }, 'configuration reload failed; keeping the running configuration');
      return { ok: false, error };
    }
    const closing = this.apply(next);
    this.current = next;
    this.metrics.reloadSuccessful.set(1);
    this.metrics.reloadTimestamp.set(Date.now() / 1000);
    this.log.info({ file: this.configFile, targets: next.targets.length }, 'configuration reloaded');
    await Promise.all(closing.map((runtime) => runtime.close()));
    return { ok: true };
  }

  /** Collects the targets in parallel and renders them; targets that fail are served as backup_up 0. */
  async scrape(names: readonly string[], scrapeTimeoutHeader: string | undefined): Promise<string> {
    const selected = names.map((name) => this.runtimes.get(name)).filter((r): r is TargetRuntime => r !== undefined);
    const results: CollectResult[] = await Promise.all(
      selected.map((runtime) => runtime.collect(collectionBudgetMs(scrapeTimeoutHeader, runtime.config.timeout))),
    );
    return joinRendered(results.map((result) => result.rendered));
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((runtime) => runtime.close()));
    this.runtimes.clear();
  }

  /**
   * Keeps the runtime (connection pool, caches, counters) of every target whose configuration did
   * not change; returns the runtimes that are no longer used, to be closed.
   */
  private apply(config: Config): TargetRuntime[] {
    const unused = new Map(this.runtimes);
    this.runtimes.clear();
    for (const target of config.targets) {
      const previous = unused.get(target.name);
      if (previous && JSON.stringify(previous.config) === JSON.stringify(target)) {
        unused.delete(target.name);
        this.runtimes.set(target.name, previous);
      } else {
        this.runtimes.set(target.name, new TargetRuntime(target, this.metrics, this.log, this.unknownStatuses, this.version));
      }
    }
    this.metrics.retainTargets(config.targets);
    return [...unused.values()];
  }
}

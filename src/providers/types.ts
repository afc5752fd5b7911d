/**
 * The one shape every product provider has. A provider file exports one defineProvider({...}) value:
 * its name, the job kinds it reports, whether it reports restore points, its configuration block,
 * and create(), which binds it to one target and returns how that target authenticates and collects.
 */
import type { Logger } from 'pino';
import type { ProviderBlock, ResolvedBlock } from '../config/blocks';
import type { TargetCommon } from '../config/schema';
import type { HttpClient, HttpResponse, RequestAuth, RequestOptions, RequestScope } from '../http/client';
import type { Token, TokenCache } from '../http/token';
import type { Job, JobKind, ProductAlert, ResourceProtection, RestorePoint, StorageUsage } from '../model';

/** HTTP bound to one collection: every call carries the collection's deadline and is counted. */
export interface ScopedHttp {
  request(options: RequestOptions): Promise<HttpResponse>;
  json<T = unknown>(options: RequestOptions): Promise<T>;
}

/** What a provider found, handed over as soon as it is known. */
export interface Findings {
  jobs?: readonly Job[];
  restorePoints?: readonly RestorePoint[];
  /** Each resource the product knows and whether it is protected; a resource reported twice keeps the last. */
  resources?: readonly ResourceProtection[];
  /** Each vault's usage; a vault reported twice keeps the last. */
  storage?: readonly StorageUsage[];
  /** Open backup alerts, one entry per alert (counted per resource and type). */
  alerts?: readonly ProductAlert[];
}

/**
 * Which inventory findings a provider reports: only those families are rendered for its targets, so
 * a product that cannot say something has no series for it rather than a made-up zero.
 */
export interface Reports {
  /** backup_resource_protected and backup_resource_schedule_interval_seconds. */
  protection: boolean;
  /** backup_storage_used_bytes and backup_storage_capacity_bytes. */
  storage: boolean;
  /** backup_product_alerts. */
  alerts: boolean;
}

export interface CollectContext {
  http: ScopedHttp;
  /** Unix seconds at the start of this collection. */
  now: number;
  /** Unix seconds; jobs that started before this are outside the lookback window. */
  lookbackStart: number;
  log: Logger;
  /** Fires at the collection's deadline; long work between requests checks it (see inSlices). */
  signal: AbortSignal;
  /** Reports a product status word that the provider's state table does not know (logged once). */
  unknownStatus(status: string): void;
  /**
   * The one way findings reach the metrics: each is summarised at once, so a long list read page
   * by page is never held whole. The target's history (finished-job counter, duration histogram)
   * takes them in only when the whole collection succeeds; nothing reported by a collection that
   * fails is counted.
   */
  report(found: Findings): void;
}

/** One provider bound to one target; lives as long as the target's configuration is unchanged. */
export interface ProviderInstance {
  /** How requests to this target authenticate; undefined when the product needs no HTTP-level auth. */
  auth?: RequestAuth;
  /** Reads the product and reports what it finds through ctx.report; rejects when the collection fails. */
  collect(ctx: CollectContext): Promise<void>;
}

/** What a provider gets when it is bound to a target. */
export interface ProviderEnvironment {
  log: Logger;
  /**
   * An HTTP client for another origin than the target's url (a token endpoint), with the target's
   * TLS settings, concurrency limit and request metrics; closed together with the target.
   * Its requests take the collection's scope (deadline, request count) from the caller.
   */
  client(baseUrl: string): HttpClient;
  /**
   * A token cache whose tokens are secrets of the target from then on: masked in its logs and error
   * messages like the configured ones, should a product echo them.
   */
  tokenCache(fetchToken: (scope: RequestScope) => Promise<Token>): TokenCache;
}

export interface ProviderDefinition<Name extends string = string, Block extends ProviderBlock = ProviderBlock> {
  /** The `provider` value of a target in exporter.yml, its block's key and the `provider` label. */
  name: Name;
  /** The job kinds this product reports; backup_jobs is emitted for each of them, zeros included. */
  kinds: readonly JobKind[];
  /** Whether the product reports restore points (backup_restore_points and friends). */
  restorePoints: boolean;
  /** Which inventory findings (protection, storage, product alerts) the product reports. */
  reports: Reports;
  /** The target's `<name>:` block of exporter.yml. */
  config: Block;
  create(target: TargetCommon, settings: ResolvedBlock<Block>, env: ProviderEnvironment): ProviderInstance;
}

/** Declares a provider; the type parameters keep its name and block exact for the registry. */
export function defineProvider<const Name extends string, Block extends ProviderBlock>(
  definition: ProviderDefinition<Name, Block>,
): ProviderDefinition<Name, Block> {
  return definition;
}

/**
 * The one signature every product provider has. A provider is a small module: how to authenticate
 * to the product, and how to turn the product's API answers into Jobs and RestorePoints.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema';
import type { HttpClient, HttpResponse, RequestAuth, RequestOptions } from '../http/client';
import type { Collected, JobKind, ProviderName } from '../model';

/** HTTP bound to one collection: every call carries the collection's deadline and is counted. */
export interface ScopedHttp {
  request(options: RequestOptions): Promise<HttpResponse>;
  json<T = unknown>(options: RequestOptions): Promise<T>;
}

export interface CollectContext {
  http: ScopedHttp;
  /** Unix seconds at the start of this collection. */
  now: number;
  /** Unix seconds; jobs that started before this are outside the lookback window. */
  lookbackStart: number;
  log: Logger;
  /** Reports a product status word that the provider's state table does not know (logged once). */
  unknownStatus(status: string): void;
  /**
   * Hands over jobs and restore points as soon as they are known: they are summarised at once, so a
   * long list read page by page never has to be held whole (what collect() returns is added to them).
   * Nothing reported counts if the collection then fails.
   */
  report(found: Partial<Collected>): void;
}

/** One provider bound to one target; lives as long as the target's configuration is unchanged. */
export interface ProviderInstance {
  /** How requests to this target authenticate; undefined when the product needs no HTTP-level auth. */
  auth?: RequestAuth;
  collect(ctx: CollectContext): Promise<Collected>;
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
}

export interface ProviderDefinition {
  name: ProviderName;
  /** The job kinds this product reports; backup_jobs is emitted for each of them, zeros included. */
  kinds: readonly JobKind[];
  /** Whether the product reports restore points (backup_restore_points and friends). */
  restorePoints: boolean;
  create(target: TargetConfig, env: ProviderEnvironment): ProviderInstance;
}

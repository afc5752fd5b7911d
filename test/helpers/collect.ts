/** Drives one provider directly, without an exporter: bind it to a target and collect what it reports. */
import { TokenCache } from '../../src/http/token';
import { providerBlockOf } from '../../src/config/schema';
import type { TargetConfig } from '../../src/config/schema';
import type { Job, ProductAlert, ResourceProtection, RestorePoint, StorageUsage } from '../../src/model';
import type { MappingSink } from '../../src/providers/kit';
import type { CollectContext, ProviderDefinition, ProviderEnvironment, ProviderInstance } from '../../src/providers/types';

/** `definition` bound to `target`, given the block named after the provider as the exporter does. */
export function bind(definition: ProviderDefinition, target: TargetConfig, env: Omit<ProviderEnvironment, 'tokenCache'> & Partial<ProviderEnvironment>): ProviderInstance {
  return definition.create(target, providerBlockOf(target) as never, { tokenCache: (fetchToken) => new TokenCache(fetchToken), ...env });
}

export interface Found {
  jobs: Job[];
  restorePoints: RestorePoint[];
  resources: ResourceProtection[];
  storage: StorageUsage[];
  alerts: ProductAlert[];
}

/** One collection; resolves with everything the provider reported (rejects as the collection does). */
export async function collectWith(instance: ProviderInstance, ctx: Omit<CollectContext, 'report'> & Partial<Pick<CollectContext, 'report'>>): Promise<Found> {
  const found: Found = { jobs: [], restorePoints: [], resources: [], storage: [], alerts: [] };
  await instance.collect({
    ...ctx,
    report: (reported) => {
      found.jobs.push(...(reported.jobs ?? []));
      found.restorePoints.push(...(reported.restorePoints ?? []));
      found.resources.push(...(reported.resources ?? []));
      found.storage.push(...(reported.storage ?? []));
      found.alerts.push(...(reported.alerts ?? []));
    },
  });
  return found;
}

/** A mapping sink that keeps what it is told, for assertions. */
export function recordingSink(): MappingSink & { unknown: string[]; problems: string[] } {
  const unknown: string[] = [];
  const problems: string[] = [];
  return { unknown, problems, unknownStatus: (s) => unknown.push(s), problem: (p) => problems.push(p) };
}

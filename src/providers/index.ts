/** The map from provider name to provider: the one place a new product is registered. */
import type { ProviderName } from '../model';
import { opsmanager } from './opsmanager';
import type { ProviderDefinition } from './types';

export const PROVIDERS: Partial<Record<ProviderName, ProviderDefinition>> = {
  opsmanager,
};

export function providerFor(name: ProviderName): ProviderDefinition {
  const provider = PROVIDERS[name];
  if (!provider) throw new Error(`provider "${name}" is not available in this version`);
  return provider;
}

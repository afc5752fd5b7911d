/** The map from provider name to provider: the one place a new product is registered. */
import type { ProviderName } from '../model';
import { ahsay } from './ahsay';
import { bluexp } from './bluexp';
import { cbr } from './cbr';
import { opsmanager } from './opsmanager';
import type { ProviderDefinition } from './types';

export const PROVIDERS: Record<ProviderName, ProviderDefinition> = {
  opsmanager,
  bluexp,
  ahsay,
  cbr,
};

export function providerFor(name: ProviderName): ProviderDefinition {
  return PROVIDERS[name];
}

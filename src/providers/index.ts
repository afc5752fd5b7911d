/**
 * The list of providers: the one place a new product is registered. The configuration schema, the
 * JSON Schema, the provider names and the tables generated for the docs all derive from it.
 */
import type { ResolvedBlock } from '../config/blocks';
import { ahsay } from './ahsay';
import { atlas } from './atlas';
import { bluexp } from './bluexp';
import { cbr } from './cbr';
import { opsmanager } from './opsmanager';
import type { ProviderDefinition } from './types';

export const PROVIDERS = [opsmanager, bluexp, ahsay, cbr, atlas] as const;

type Registered = (typeof PROVIDERS)[number];
export type ProviderName = Registered['name'];
/** The definition registered under `N`. */
export type ProviderNamed<N extends ProviderName> = Extract<Registered, { name: N }>;
/** The resolved `<N>:` block of a target of provider `N`. */
export type SettingsOf<N extends ProviderName> = ResolvedBlock<ProviderNamed<N>['config']>;

export const PROVIDER_NAMES: readonly ProviderName[] = PROVIDERS.map((provider) => provider.name);

const BY_NAME: ReadonlyMap<string, ProviderDefinition> = new Map(PROVIDERS.map((provider) => [provider.name, provider as ProviderDefinition]));

export function isProviderName(name: unknown): name is ProviderName {
  return typeof name === 'string' && BY_NAME.has(name);
}

export function providerFor(name: ProviderName): ProviderDefinition {
  return BY_NAME.get(name)!;
}

/**
 * A copy of the configuration that is safe to show (the /config page): every secret value replaced
 * by "<secret>", CA file contents dropped. Which fields are secret comes from the schema's provider
 * block definitions (SECRET_PATHS), not from a list kept here.
 */
import type { Config } from './schema';
import { childAt } from './load';
import { SECRET_PATHS } from './schema';

export const REDACTED = '<secret>';

export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config) as Config;
  for (const target of copy.targets) {
    if (target.tls) delete target.tls.ca;
    const block = (target as unknown as Record<string, unknown>)[target.provider];
    for (const secretPath of SECRET_PATHS[target.provider]) {
      const parent = childAt(block, secretPath.slice(0, -1));
      const secret = secretPath[secretPath.length - 1];
      if (parent && parent[secret] !== undefined) parent[secret] = REDACTED;
    }
  }
  return copy;
}

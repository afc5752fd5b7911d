/**
 * A copy of the configuration that is safe to show (the /config page): every secret value replaced
 * by "<secret>", CA file contents dropped. Which fields are secret comes from the schema's provider
 * block definitions (SECRET_FIELDS), not from a list kept here.
 */
import type { Config } from './schema';
import { SECRET_FIELDS, SUPPORTED_PROVIDERS } from './schema';

export const REDACTED = '<secret>';

export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config) as Config;
  for (const target of copy.targets) {
    if (target.tls) delete target.tls.ca;
    for (const provider of SUPPORTED_PROVIDERS) {
      const block = target[provider] as Record<string, unknown> | undefined;
      if (block === undefined) continue;
      for (const secret of SECRET_FIELDS[provider]) {
        if (block[secret] !== undefined) block[secret] = REDACTED;
      }
    }
  }
  return copy;
}

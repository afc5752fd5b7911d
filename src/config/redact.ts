/**
 * Keeping configured secrets out of what the exporter shows: a copy of the configuration for the
 * /config page (every secret value replaced by "<secret>", CA file contents dropped), and a masker
 * for text that came from a product (which may echo a secret it was sent). Which fields are secret
 * comes from the provider block definitions (SECRET_PATHS), not from a list kept here.
 */
import type { Config, TargetConfig } from './schema';
import { childAt } from './load';
import { SECRET_PATHS, providerBlockOf } from './schema';

export const REDACTED = '<secret>';

export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config) as Config;
  for (const target of copy.targets) {
    if (target.tls) delete target.tls.ca;
    const block = providerBlockOf(target);
    for (const secretPath of SECRET_PATHS[target.provider]) {
      const parent = childAt(block, secretPath.slice(0, -1));
      const secret = secretPath[secretPath.length - 1];
      if (parent && parent[secret] !== undefined) parent[secret] = REDACTED;
    }
  }
  return copy;
}

/** Secrets shorter than this are not masked in text: "ab" would be masked in every word. */
const MIN_MASKED_LENGTH = 4;

/** The values of every secret of `target` (the resolved values, whether written inline or in a file). */
export function secretsOf(target: TargetConfig): string[] {
  const block = providerBlockOf(target);
  const values: string[] = [];
  for (const secretPath of SECRET_PATHS[target.provider]) {
    const value = childAt(block, secretPath.slice(0, -1))?.[secretPath[secretPath.length - 1]!];
    if (typeof value === 'string' && value.length >= MIN_MASKED_LENGTH) values.push(value);
  }
  return values;
}

/**
 * A function that replaces each of `secrets` in a text by "<secret>", also where the text carries it
 * JSON-escaped or URL-encoded (a product that echoes a request body or a query): text that came from
 * a product passes through it before it is logged or shown.
 */
export function secretMasker(secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)]))]
    .filter((form) => form.length >= MIN_MASKED_LENGTH)
    // Longest first, so that a secret containing another is masked whole.
    .sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    // A message cut short (truncate, boundedText) before it reached here may end in the beginning of
    // a secret: the part before the ellipsis is masked too.
    if (out.includes(ELLIPSIS)) out = out.replace(CUT_WORD, (_cut: string, word: string) => `${maskCutSecret(word, forms)}${ELLIPSIS}`);
    return out;
  };
}

const ELLIPSIS = '…';
/** The run of non-space characters just before an ellipsis: what a cut may have left of a secret. */
const CUT_WORD = /(\S+)…/gu;

/** `word` (the text before a cut) with its longest ending that begins a secret replaced. */
function maskCutSecret(word: string, forms: readonly string[]): string {
  for (let at = 0; at <= word.length - MIN_MASKED_LENGTH; at++) {
    const tail = word.slice(at);
    if (forms.some((form) => form.startsWith(tail))) return `${word.slice(0, at)}${REDACTED}`;
  }
  return word;
}

/** `fields` with `mask` applied to every string in it (nested objects and arrays too, a few levels deep). */
export function maskFields<T>(fields: T, mask: (text: string) => string, depth = 4): T {
  if (typeof fields === 'string') return mask(fields) as T;
  if (depth <= 0 || typeof fields !== 'object' || fields === null) return fields;
  if (Array.isArray(fields)) return fields.map((item) => maskFields(item, mask, depth - 1)) as T;
  if (fields instanceof Error) return maskFields({ type: fields.name, message: fields.message }, mask, depth - 1) as T;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = maskFields(value, mask, depth - 1);
  return out as T;
}

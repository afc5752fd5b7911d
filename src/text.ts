/**
 * Small helpers for untrusted values: recognising a JSON object, bounding a value whose size an
 * upstream controls without merging distinct values, and putting a value into a message without
 * letting it flood a log line.
 */
import { createHash } from 'node:crypto';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `text` cut to at most `max` characters, an ellipsis marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Characters of a value quoted into a message; enough to recognise it, too few to flood a log. */
export const QUOTE_LIMIT = 64;

/**
 * A value written into a message as JSON writes it (a string quoted, a number bare), cut short.
 * Only for names, words and times, never for secrets.
 */
export function quoteForMessage(value: unknown, max = QUOTE_LIMIT): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value, max));
  return truncate(JSON.stringify(value) ?? String(value), max);
}

/** Characters of the hash that stands for the cut part of a bounded value. */
const CUT_HASH_LENGTH = 16;

/**
 * `value` if it has at most `max` characters; else its beginning, an ellipsis and a short hash of
 * the whole value, `max` characters in all: two long values that share their beginning stay distinct.
 */
export function boundedText(value: string, max: number): string {
  if (value.length <= max) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, CUT_HASH_LENGTH);
  return `${value.slice(0, Math.max(0, max - CUT_HASH_LENGTH - 1))}…${hash}`;
}

/**
 * Small helpers for untrusted values: recognising a JSON object, and putting a value into a
 * message without letting its size (an upstream controls it) flood a log line.
 */

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

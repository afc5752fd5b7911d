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

/** Edits (insertions, deletions, substitutions, swaps of neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** Longest word compared for a suggestion: longer ones are not typos of a key. */
const MAX_SUGGESTED_LENGTH = 64;

/**
 * The candidate `word` most likely misspells (a third of its letters or fewer changed, case aside),
 * for a "did you mean" hint; undefined when none is that close.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > MAX_SUGGESTED_LENGTH) return undefined;
  const lower = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    const allowed = Math.max(1, Math.floor(Math.max(word.length, candidate.length) / 3));
    if (distance <= allowed && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/**
 * Prometheus-style durations: one or more `<integer><unit>` terms, largest unit first, each unit at
 * most once (`1h30m`, `500ms`, `24h`, `7d`). Units: ms, s, m, h, d, w (7d), y (365d). The single
 * string `0` is also accepted, as in Prometheus. Values are resolved to integer milliseconds.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Units from largest to smallest, with their length in milliseconds. */
export const DURATION_UNITS: ReadonlyArray<readonly [unit: string, ms: number]> = [
  ['y', 365 * DAY],
  ['w', 7 * DAY],
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
  ['ms', 1],
];

/**
 * The accepted syntax as an ECMAScript regular expression source, anchored. Used for the JSON
 * Schema (`pattern`) so editors flag bad durations; parseDuration gives the precise message.
 */
export const DURATION_PATTERN =
  '^(?:0|(?=[0-9])(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?)$';

const SYNTAX_HINT =
  'expected one or more <integer><unit> with unit ms, s, m, h, d, w or y, largest unit first (e.g. "1h30m", "500ms", "7d")';

/** Quotes text for an error message, cut short so a huge value cannot flood a log line. */
function quoteForMessage(text: string): string {
  const cut = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(cut);
}

/**
 * Parses a duration such as `1h30m` into integer milliseconds.
 * Throws an Error whose message starts with `invalid duration "<text>":`.
 */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') {
    throw new Error(`invalid duration: expected a string such as "30s", got ${typeof text}`);
  }
  const fail = (why: string): never => {
    throw new Error(`invalid duration ${quoteForMessage(text)}: ${why}`);
  };
  if (text === '') fail(`empty; ${SYNTAX_HINT}`);
  if (text === '0') return 0;
  if (/^\s|\s$/.test(text)) fail('must not start or end with spaces');
  if (text.startsWith('-')) fail('must not be negative');
  if (/^[0-9]+$/.test(text)) fail(`missing unit (e.g. "${text}s")`);

  const term = /([0-9]+)(ms|s|m|h|d|w|y)/y;
  let position = 0;
  let previousRank = -1;
  let total = 0;
  while (position < text.length) {
    term.lastIndex = position;
    const match = term.exec(text);
    if (!match) {
      if (/[0-9]+\.[0-9]/y.test(text.slice(position))) fail('fractions are not allowed (write "1m30s", not "1.5m")');
      return fail(SYNTAX_HINT);
    }
    const [, digits, unit] = match;
    const rank = DURATION_UNITS.findIndex(([u]) => u === unit);
    if (rank <= previousRank) {
      fail(rank === previousRank ? `unit "${unit}" appears twice` : `units must go from largest to smallest; ${SYNTAX_HINT}`);
    }
    previousRank = rank;
    const value = Number(digits) * DURATION_UNITS[rank][1];
    total += value;
    if (!Number.isSafeInteger(value) || !Number.isSafeInteger(total)) fail('too large');
    position = term.lastIndex;
  }
  return total;
}

/**
 * Formats integer milliseconds the way Prometheus does: largest units first, zero terms left out
 * (`5400000` -> `1h30m`, `604800000` -> `1w`, `0` -> `0s`). parseDuration(formatDuration(x)) === x.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`formatDuration: expected a non-negative integer number of milliseconds, got ${ms}`);
  }
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}

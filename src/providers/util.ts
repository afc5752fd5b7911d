/** Small helpers for reading fields and times from the untrusted JSON of product APIs. */
import { boundedText } from '../text';

/**
 * Longest string a provider keeps of one field: a product's ids, names and status words are short,
 * and a longer value (an error text, a hostile answer) must not make state or logs grow with it.
 */
export const MAX_FIELD_LENGTH = 1024;

/**
 * A non-empty string field, bounded to MAX_FIELD_LENGTH (see boundedText); numbers are accepted and
 * turned into strings (ids are sometimes numeric).
 */
export function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  if (typeof value === 'string') return value === '' ? undefined : boundedText(value, MAX_FIELD_LENGTH);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * A finite number from a number or a string of decimal digits (optionally signed, with a fraction):
 * products write counts, sizes and times either way. Each caller says which values it accepts.
 */
export function numberValue(value: unknown): number | undefined {
  const number = typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

const DECIMAL = /^\s*-?\d+(\.\d+)?\s*$/;

/** Unix seconds of an ISO-8601 time with a zone (`Z` or an offset); undefined for anything else. */
export function parseIsoTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  // The shape products send almost always (2026-11-24T10:00:00Z), read without a regex or Date.parse:
  // a collection reads tens of thousands of times. Anything else takes the general way below.
  if (value.length === 20 && value[19] === 'Z') {
    const fields = readDateTime(value, 'T', ':');
    const seconds = fields && utcSeconds(fields);
    if (seconds !== undefined) return seconds;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/** The fields of a calendar date and time of day, as written (no zone). */
export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * Reads `yyyy-MM-dd?HH?mm?ss` from the first 19 characters of `text`, where each ? is one of the
 * characters given for that place; undefined unless the shape matches and the fields name a real
 * calendar time (no 30 February, no 24:00).
 */
export function readDateTime(text: string, dateTimeSeparators: string, timeSeparators: string): DateTimeFields | undefined {
  if (text.length < 19 || text[4] !== '-' || text[7] !== '-') return undefined;
  if (!dateTimeSeparators.includes(text[10]!) || !timeSeparators.includes(text[13]!) || !timeSeparators.includes(text[16]!)) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  return { year, month, day, hour, minute, second };
}

/** Unix seconds of `fields` read as UTC; undefined for years before 100, which Date.UTC would move to the 1900s. */
export function utcSeconds(fields: DateTimeFields): number | undefined {
  if (fields.year < 100) return undefined;
  return Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second) / 1000;
}

/** The number `count` ASCII digits at `at` write, or -1 when one of them is not a digit (or missing). */
export function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

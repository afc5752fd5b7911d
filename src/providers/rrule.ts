/**
 * The longest gap between two scheduled runs of a set of iCalendar recurrence rules (RFC 5545), as
 * CBR policies write their schedules: `FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=00`,
 * `FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=02;BYMINUTE=30`, `FREQ=HOURLY;INTERVAL=4`.
 *
 * Only what CBR's console and API produce is understood: FREQ HOURLY, DAILY or WEEKLY with INTERVAL,
 * BYDAY (without ordinals), BYHOUR and BYMINUTE. The rules carry no DTSTART, so each starts at a
 * Monday 00:00 (UTC; a gap does not depend on the zone); a part the rule leaves out is 0 (Monday for
 * WEEKLY's day). Runs are laid out over one common period of all rules (the least common multiple
 * of a week and each rule's period) and the gap is measured around that cycle, so that
 * `BYDAY=MO,WE,FR` gives the weekend's 72 hours.
 */

const MINUTES_PER_HOUR = 60;
const MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;
/** The longest common period laid out: a year of weeks; rules that only repeat over longer are not read. */
const MAX_PERIOD_MINUTES = 53 * MINUTES_PER_WEEK;
const MAX_INTERVAL = 366;
const DAYS: Readonly<Record<string, number>> = { MO: 0, TU: 1, WE: 2, TH: 3, FR: 4, SA: 5, SU: 6 };
const FREQ_MINUTES: Readonly<Record<string, number>> = { HOURLY: MINUTES_PER_HOUR, DAILY: MINUTES_PER_DAY, WEEKLY: MINUTES_PER_WEEK };

/** One rule, read. */
export interface Rule {
  freq: 'HOURLY' | 'DAILY' | 'WEEKLY';
  interval: number;
  /** 0 = Monday; undefined: every day. */
  byDay?: number[];
  byHour?: number[];
  byMinute?: number[];
}

function numbers(value: string, max: number): number[] | undefined {
  const out: number[] = [];
  for (const part of value.split(',')) {
    if (!/^\d{1,2}$/.test(part.trim())) return undefined;
    const n = Number(part.trim());
    if (n > max) return undefined;
    out.push(n);
  }
  return out;
}

/** A rule, or undefined when it uses something this reader does not understand. */
export function parseRule(text: string): Rule | undefined {
  const parts = new Map<string, string>();
  for (const part of text.trim().replace(/^RRULE:/i, '').split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim().toUpperCase();
    if (parts.has(key)) return undefined;
    parts.set(key, part.slice(eq + 1).trim().toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (freq !== 'HOURLY' && freq !== 'DAILY' && freq !== 'WEEKLY') return undefined;
  const rule: Rule = { freq, interval: 1 };
  for (const [key, value] of parts) {
    if (key === 'FREQ') continue;
    if (key === 'INTERVAL') {
      if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX_INTERVAL) return undefined;
      rule.interval = Number(value);
    } else if (key === 'BYDAY') {
      const days = value.split(',').map((d) => DAYS[d.trim()]);
      if (days.some((d) => d === undefined)) return undefined;
      rule.byDay = days as number[];
    } else if (key === 'BYHOUR') {
      const hours = numbers(value, 23);
      if (!hours) return undefined;
      rule.byHour = hours;
    } else if (key === 'BYMINUTE') {
      const minutes = numbers(value, 59);
      if (!minutes) return undefined;
      rule.byMinute = minutes;
    } else {
      return undefined;
    }
  }
  return rule;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Minutes after the first Monday 00:00 of every run of `rule` in [0, period). */
function runsOf(rule: Rule, period: number): number[] {
  const step = rule.interval * FREQ_MINUTES[rule.freq]!;
  const minutes = rule.byMinute ?? [0];
  const dayAllowed = (t: number) => rule.byDay === undefined || rule.byDay.includes(Math.floor(t / MINUTES_PER_DAY) % 7);
  const out: number[] = [];
  for (let start = 0; start < period; start += step) {
    if (rule.freq === 'HOURLY') {
      // BYHOUR and BYDAY limit an hourly rule: they keep some of its hours.
      const hour = Math.floor(start / MINUTES_PER_HOUR) % 24;
      if (rule.byHour !== undefined && !rule.byHour.includes(hour)) continue;
      if (!dayAllowed(start)) continue;
      for (const m of minutes) out.push(start + m);
      continue;
    }
    // DAILY and WEEKLY: BYHOUR and BYMINUTE (and WEEKLY's BYDAY) expand the period into runs.
    const days = rule.freq === 'WEEKLY' ? (rule.byDay ?? [0]).map((d) => start + d * MINUTES_PER_DAY) : dayAllowed(start) ? [start] : [];
    for (const day of days) for (const h of rule.byHour ?? [0]) for (const m of minutes) out.push(day + h * MINUTES_PER_HOUR + m);
  }
  return out;
}

/**
 * Seconds of the longest gap between two consecutive runs of all the rules together; undefined when
 * a rule is not understood, the rules never run, or they repeat over more than a year.
 */
export function longestGapSeconds(patterns: readonly string[]): number | undefined {
  const rules = patterns.map(parseRule);
  if (rules.length === 0 || rules.some((r) => r === undefined)) return undefined;
  let period = MINUTES_PER_WEEK;
  for (const rule of rules as Rule[]) {
    const step = rule.interval * FREQ_MINUTES[rule.freq]!;
    period = (period / gcd(period, step)) * step;
    if (period > MAX_PERIOD_MINUTES) return undefined;
  }
  const runs = [...new Set((rules as Rule[]).flatMap((r) => runsOf(r, period)))].sort((a, b) => a - b);
  if (runs.length === 0) return undefined;
  let longest = runs[0]! + period - runs[runs.length - 1]!;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]! - runs[i - 1]!);
  return longest * 60;
}

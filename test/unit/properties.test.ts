/**
 * Property tests: any JSON value a product may answer goes through every provider and parser
 * without a throw other than a CollectError, and never yields a NaN or Infinity sample.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import type { TargetConfig } from '../../src/config/schema';
import { parseDuration } from '../../src/config/duration';
import { parseDigestAuthorization } from '../../simulators/digest-server';
import { parseDigestChallenge } from '../../src/http/digest';
import { HttpClient, productMessage, retryDelayMs } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import { JobHistory, renderTargets, summarizeNow } from '../../src/metrics';
import { JOB_KINDS, JOB_STATES } from '../../src/model';
import type { Job } from '../../src/model';
import type { Found } from '../helpers/collect';
import { bind } from '../helpers/collect';
import { MINIMAL_BLOCKS, type Provider } from '../helpers/providers';
import { PROVIDERS } from '../../src/providers';
import type { CollectContext, ProviderDefinition } from '../../src/providers/types';
import { parseIsoTimestamp } from '../../src/providers/util';
import { parseCbrTime } from '../../src/providers/cbr';
import { parseLocalDateTime } from '../../src/providers/ahsay';

const RUNS = { numRuns: 200 };
const silent = pino({ level: 'silent' });

/** A JSON value as a product might send it: nested objects and arrays, odd numbers and strings. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
/** Every place in a JSON value, as a path of keys and indexes. */
function pathsOf(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  return out;
}

/** `value` with the subtree at `path` replaced (or the whole value, for the empty path). */
function replaced(value: unknown, path: Array<string | number>, by: unknown): unknown {
  if (path.length === 0) return by;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[path[0]] = replaced(copy[path[0]], path.slice(1), by);
  return copy;
}

/**
 * A provider's real answers (its fixture files) with a few subtrees replaced by anything: reaches
 * the deep paths of a mapper that random JSON alone would almost never hit.
 */
function mutatedFixtures(provider: string): fc.Arbitrary<unknown> {
  const dir = join(__dirname, '..', 'fixtures', provider);
  const fixtures = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown)
    : [];
  if (fixtures.length === 0) return anyJson;
  return fc
    .tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), fc.oneof(anyJson, fc.constant(undefined))), { maxLength: 4 }))
    .map(([fixture, changes]) => changes.reduce<unknown>((value, [n, by]) => {
      const paths = pathsOf(value);
      return replaced(value, paths[n % paths.length], by);
    }, fixture));
}

/** Every sample value of an exposition is a finite number. */
function expectFiniteSamples(text: string): void {
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    expect([line, Number.isFinite(value)]).toEqual([line, true]);
  }
}

/** Requests one collection may make here; stands in for the deadline that ends a real collection. */
const REQUEST_BUDGET = 300;

/** A collection context whose every request answers with the next generated value; what is reported goes to `reported`. */
function contextAnswering(answers: unknown[], reported: Found): CollectContext {
  let i = 0;
  const next = async () => {
    if (i >= REQUEST_BUDGET) throw new CollectError('timeout', 'request budget of the property test spent');
    return answers[i++ % Math.max(1, answers.length)];
  };
  return {
    http: {
      json: next as CollectContext['http']['json'],
      request: async () => ({ status: 200, headers: {}, body: Buffer.from(JSON.stringify((await next()) ?? null)) }),
    },
    now: 1_800_000_000,
    lookbackStart: 0,
    signal: new AbortController().signal,
    log: silent,
    unknownStatus: () => undefined,
    report: (found) => {
      reported.jobs.push(...(found.jobs ?? []));
      reported.restorePoints.push(...(found.restorePoints ?? []));
      reported.resources.push(...(found.resources ?? []));
      reported.storage.push(...(found.storage ?? []));
      reported.alerts.push(...(found.alerts ?? []));
    },
  };
}

const afterRun: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(afterRun.map((close) => close()));
});

describe.each(PROVIDERS.map((p): [string, ProviderDefinition] => [p.name, p]))('provider %s with any answer', (name, definition) => {
  test('resolves with finite values or rejects with a CollectError, never anything else', async () => {
    const target = {
      name: 't',
      provider: name,
      url: 'http://127.0.0.1:1',
      timeout: 1000,
      lookback: 86_400_000,
      max_jobs: 10,
      min_interval: 0,
      max_concurrency: 2,
      [name]: MINIMAL_BLOCKS[name as Provider],
    } as unknown as TargetConfig;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(anyJson, mutatedFixtures(name), mutatedFixtures(name)), { minLength: 1, maxLength: 6 }), async (answers) => {
        // Extra clients (token endpoints) are never reached: requests go through the fake ctx.http.
        const clients: HttpClient[] = [];
        const client = (baseUrl: string) => {
          const created = new HttpClient({ baseUrl, maxConcurrency: 1 });
          clients.push(created);
          return created;
        };
        const instance = bind(definition, target, { log: silent, client });
        afterRun.push(...clients.map((c) => () => c.close()));
        const collected: Found = { jobs: [], restorePoints: [], resources: [], storage: [], alerts: [] };
        try {
          await instance.collect(contextAnswering(answers, collected));
        } catch (err) {
          if (!(err instanceof CollectError)) throw err;
          return;
        }
        const history = new JobHistory(definition.kinds);
        for (const job of collected.jobs) history.record(job);
        const text = renderTargets([
          {
            snapshot: {
              target: 't',
              provider: definition.name,
              kinds: definition.kinds,
              restorePointsSupported: definition.restorePoints,
              reports: definition.reports,
              ok: true,
              timestamp: 1,
              durationSeconds: 0,
              upstreamRequests: answers.length,
              summary: summarizeNow(collected, 10),
            },
            history,
          },
        ]);
        expectFiniteSamples(text);
      }),
      RUNS,
    );
  });
});

test('the renderer never writes NaN or Infinity, whatever the numbers in a job', () => {
  const num = fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-Infinity), fc.integer());
  const job = fc.record({
    kind: fc.constantFrom(...JOB_KINDS),
    id: fc.string(),
    resource: fc.string(),
    state: fc.constantFrom(...JOB_STATES),
    status: fc.string(),
    startedAt: fc.option(num, { nil: undefined }),
    endedAt: fc.option(num, { nil: undefined }),
    bytes: fc.option(num, { nil: undefined }),
    deliveryExpiresAt: fc.option(num, { nil: undefined }),
  }) as fc.Arbitrary<Job>;
  fc.assert(
    fc.property(fc.array(job, { maxLength: 30 }), (jobs) => {
      const history = new JobHistory(['backup', 'restore']);
      jobs.forEach((j) => history.record(j));
      const snapshot = {
        target: 't',
        provider: 'opsmanager' as const,
        kinds: JOB_KINDS,
        restorePointsSupported: false,
        ok: true,
        timestamp: 1,
        durationSeconds: 0,
        upstreamRequests: 1,
        summary: summarizeNow({ jobs, restorePoints: [] }, 10),
      };
      expectFiniteSamples(renderTargets([{ snapshot, history }]));
    }),
    RUNS,
  );
});

describe('parsers never throw on any input', () => {
  test.each([
    ['parseIsoTimestamp', (v: unknown) => parseIsoTimestamp(v)],
    ['parseDigestChallenge', (v: unknown) => parseDigestChallenge(typeof v === 'string' ? v : JSON.stringify(v))],
    ['parseDigestAuthorization', (v: unknown) => parseDigestAuthorization(typeof v === 'string' ? v : JSON.stringify(v))],
    ['productMessage', (v: unknown) => productMessage(Buffer.from(JSON.stringify(v) ?? ''))],
    ['retryDelayMs', (v: unknown) => retryDelayMs({ headers: { 'retry-after': typeof v === 'string' ? v : JSON.stringify(v) } }, 0)],
  ])('%s', (_name, parse) => {
    fc.assert(
      fc.property(fc.oneof(anyJson, fc.string(), fc.string({ unit: 'binary' })), (value) => {
        const result = parse(value);
        if (typeof result === 'number') expect(Number.isFinite(result)).toBe(true);
      }),
      RUNS,
    );
  });

  test('parseDuration: a finite whole number of milliseconds, or an Error that says why', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^(\d{1,4}(ms|s|m|h|d|w|y)){1,4}$/)), (text) => {
        try {
          const ms = parseDuration(text);
          expect(Number.isSafeInteger(ms) && ms >= 0).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/^invalid duration/);
        }
      }),
      RUNS,
    );
  });
});

/**
 * The date readers take a quick way for the shapes products send and the general way for the rest;
 * both must give what the general way alone (the regex definitions below) gives, for any string
 * near those shapes.
 */
describe('quick date readers agree with their definitions', () => {
  const twoDigits = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
  const year = fc.oneof(fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 0, max: 9999 })).map((n) => String(n).padStart(4, '0'));
  const nearTime = fc
    .record({
      pad: fc.constantFrom('', '', '', ' ', '\t'),
      year,
      dateSep1: fc.constantFrom('-', '-', '-', '/'),
      month: fc.oneof(fc.integer({ min: 1, max: 12 }).map((n) => String(n).padStart(2, '0')), twoDigits),
      dateSep2: fc.constantFrom('-', '-', '-', '.'),
      day: fc.oneof(fc.integer({ min: 1, max: 28 }).map((n) => String(n).padStart(2, '0')), twoDigits),
      middle: fc.constantFrom('T', ' ', '-', 't', 'x'),
      hour: fc.oneof(fc.integer({ min: 0, max: 23 }).map((n) => String(n).padStart(2, '0')), twoDigits, fc.constant('1')),
      timeSep1: fc.constantFrom(':', ':', ':', '-', '.'),
      minute: fc.oneof(fc.integer({ min: 0, max: 59 }).map((n) => String(n).padStart(2, '0')), twoDigits),
      seconds: fc.oneof(twoDigits.map((s) => `:${s}`), twoDigits.map((s) => `-${s}`), fc.constant('')),
      fraction: fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{0,11}$/), fc.constant('.')),
      zone: fc.constantFrom('', 'Z', 'Z', '+00:00', '-05:30', '+0800', '+8', 'z', ' Z'),
    })
    .map((p) => `${p.pad}${p.year}${p.dateSep1}${p.month}${p.dateSep2}${p.day}${p.middle}${p.hour}${p.timeSep1}${p.minute}${p.seconds}${p.fraction}${p.zone}${p.pad}`);
  /** Two digits, mostly within min..max. */
  const mostlyUpTo = (min: number, max: number) =>
    fc.oneof(
      { arbitrary: fc.integer({ min, max }).map((n) => String(n).padStart(2, '0')), weight: 4 },
      { arbitrary: fc.constantFrom(String(max + 1), '00', '99'), weight: 1 },
      { arbitrary: twoDigits, weight: 1 },
    );
  /** The shapes the products send, with any field values (30 February, 24:00, year 0042 included). */
  const sentShape = fc
    .record({
      year,
      month: mostlyUpTo(1, 12),
      day: mostlyUpTo(1, 31),
      middle: fc.constantFrom('T', ' '),
      hour: mostlyUpTo(0, 23),
      minute: mostlyUpTo(0, 59),
      second: mostlyUpTo(0, 59),
      fraction: fc.oneof({ arbitrary: fc.constant(''), weight: 2 }, { arbitrary: fc.stringMatching(/^\.\d{1,9}$/), weight: 1 }),
      zone: fc.constantFrom('', '', 'Z', '+00:00', '-05:30', '+0800', '+23:59', '-24:00'),
    })
    .map((p) => `${p.year}-${p.month}-${p.day}${p.middle}${p.hour}:${p.minute}:${p.second}${p.fraction}${p.zone}`);
  const anyText = fc.oneof(sentShape, sentShape, nearTime, nearTime, fc.string({ maxLength: 30 }));

  function isoByDefinition(value: string): number | undefined {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms / 1000 : undefined;
  }

  function cbrByDefinition(value: string): number | undefined {
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
    if (!m) return undefined;
    const [, date, time, fraction, zone] = m;
    const offset = zone === undefined || zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const ms = Date.parse(`${date}T${time}${offset}`);
    if (!Number.isFinite(ms)) return undefined;
    return ms / 1000 + (fraction ? Number(`0.${fraction}`) : 0);
  }

  function ahsayByDefinition(text: string): object | undefined {
    const m = /^(\d{4})-(\d{2})-(\d{2})[ -](\d{2})[:-](\d{2})[:-](\d{2})$/.exec(text.trim());
    if (!m) return undefined;
    const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
    if (month < 1 || month > 12 || day < 1 || day > days!) return undefined;
    if (hour > 23 || minute > 59 || second > 59) return undefined;
    return { year, month, day, hour, minute, second };
  }

  const many = { numRuns: 3000 };

  test('parseIsoTimestamp (Ops Manager)', () => {
    fc.assert(fc.property(anyText, (text) => Object.is(parseIsoTimestamp(text), isoByDefinition(text))), many);
  });

  test('parseCbrTime (CBR)', () => {
    fc.assert(fc.property(anyText, (text) => Object.is(parseCbrTime(text), cbrByDefinition(text))), many);
  });

  test('parseLocalDateTime (AhsayCBS)', () => {
    fc.assert(fc.property(anyText, (text) => expect(parseLocalDateTime(text)).toEqual(ahsayByDefinition(text))), many);
  });

  test.each([
    '2026-11-24T10:00:00Z',
    '2026-11-24 10:00:00',
    '2026-11-24-10-00-00',
    '2024-02-29T10:00:00Z',
    '2026-02-29T10:00:00Z',
    '2026-02-29 10:00:00',
    '2026-04-31 00:00:00',
    '2026-04-31T00:00:00.5',
    '2026-11-24T24:00:00Z',
    '2026-11-24 24:00:00',
    '2026-11-24T23:60:00Z',
    '2026-11-24 23:59:60',
    '0042-01-01T00:00:00Z',
    '0042-01-01 00:00:00',
    '2026-11-24T10:00:00.123456789Z',
    '2026-11-24T10:00:00.1234567890Z',
    '2026-11-24T10:00:00.Z',
    '2026-11-24T10:00:00+05:30',
    '2026-11-24T10:00:00.584+00:00',
    '2026-11-24T10:00:00.584-05:30',
    '2026-11-24T10:00:00+0800',
    '2026-11-24T10:00:00+24:00',
    '2026-11-24T10:00:00+05:60',
    '2026-11-24T10:00:00+05',
    '2026-11-24T10:00:00+5:30',
    '2026-11-24T10:00:00+05:30Z',
    '2026-11-24T10:00Z',
    ' 2026-11-24T10:00:00Z',
    '2026-11-24T10:00:00Z ',
    '2026-11-24t10:00:00Z',
    '２０２６-11-24T10:00:00Z',
  ])('%j: each reader gives what its definition gives', (text) => {
    expect(parseIsoTimestamp(text)).toBe(isoByDefinition(text));
    expect(parseCbrTime(text)).toBe(cbrByDefinition(text));
    expect(parseLocalDateTime(text)).toEqual(ahsayByDefinition(text));
  });

  test('the generated strings reach both ways: the quick shapes and the others', () => {
    const samples = fc.sample(anyText, { numRuns: 10_000, seed: 7 });
    const quickShape = (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(s);
    expect(samples.filter(quickShape).length).toBeGreaterThan(20);
    expect(samples.filter((s) => !quickShape(s) && isoByDefinition(s) !== undefined).length).toBeGreaterThan(10);
    expect(samples.filter((s) => quickShape(s) && isoByDefinition(s) !== undefined).length).toBeGreaterThan(10);
    expect(samples.filter((s) => quickShape(s) && isoByDefinition(s) === undefined).length).toBeGreaterThan(5);
    expect(samples.filter((s) => cbrByDefinition(s) !== undefined && /\.\d/.test(s)).length).toBeGreaterThan(10);
    expect(samples.filter((s) => cbrByDefinition(s) !== undefined && /[+-]\d\d:?\d\d$/.test(s)).length).toBeGreaterThan(10);
    expect(samples.filter((s) => ahsayByDefinition(s) !== undefined).length).toBeGreaterThan(10);
  });
});

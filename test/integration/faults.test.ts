/**
 * Every fault the simulators can play, against every provider, through the exporter over real HTTP
 * on 127.0.0.1. Table-driven: each case starts one faulty simulator per
 * provider (or authentication variant) and one exporter that holds those faulty targets together
 * with a healthy target of every provider; one /metrics scrape with a short Prometheus deadline
 * then shows, for each provider at once:
 *
 * - the right reason: backup_exporter_collect_errors_total{target,reason} counts 1, backup_up 0;
 * - the scrape answers inside its deadline (measured);
 * - the other targets are unaffected: every healthy target is backup_up 1 in the same scrape;
 * - nothing crashes: a second scrape is served, /-/healthy answers, no error-level log line;
 * - the log says what happened in one line: exactly one warn line for the target, with the reason;
 *   the same failure on the next scrape is counted again but logged at debug only.
 *
 * Faulty targets make one request at a time (max_concurrency: 1) and the simulators' clocks stand
 * still, so the request that fails first, and with it the error message, is the same on every
 * scrape. When it is not, the exporter logs the same failure at warn again: the last test shows it.
 *
 * Set FAULTS_REPORT=1 to print the table of reasons and timings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../src/http/client';
import { ERROR_REASONS } from '../../src/http/errors';
import type { ErrorReason } from '../../src/http/errors';
import type { Faults } from '../../simulators/framework';
import { samples, startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { freePort } from '../helpers/process';
import { AUTH_SUBJECTS, PROVIDERS, PROVIDER_TABLE, exporterYaml, knownSecrets } from '../helpers/providers';
import type { AuthSubject, Endpoint, Provider, StartedSimulator } from '../helpers/providers';
import { selfSignedCertificate } from '../helpers/servers';

/**
 * Prometheus' scrape timeout for every scrape (unless a case sets its own): the exporter keeps 0.5 s
 * back, so collections get 1 s.
 */
const SCRAPE_TIMEOUT_SECONDS = 1.5;
/** Scrapes a case makes of one exporter: maybe a healthy one first, then two, then one after the reset. */
const SCRAPES_PER_RUN = 4;

jest.setTimeout(20_000);

// ---------------------------------------------------------------------------------------------
// Subjects (the columns): a provider with one way of authenticating

type SubjectId = string;
const SUBJECTS: ReadonlyMap<SubjectId, AuthSubject> = new Map(AUTH_SUBJECTS.map((subject) => [subject.id, subject]));

/** One column per provider and way of authenticating (the ways with a token fetch it first, which meets the fault). */
const EVERY_SUBJECT = [...SUBJECTS.keys()];
/** Per product whose access tokens expire or get revoked, its first way of authenticating that has them. */
const TOKEN_SUBJECTS: SubjectId[] = PROVIDERS.flatMap((provider) => AUTH_SUBJECTS.find((s) => s.provider === provider && s.tokens)?.id ?? []);

// ---------------------------------------------------------------------------------------------
// Cases (the rows)

interface FaultCase {
  name: string;
  /** The reason every subject must fail with, or 'up' for a case the exporter must take in its stride. */
  expect: ErrorReason | 'up';
  subjects?: SubjectId[];
  faults?: Partial<Faults>;
  /** The simulator serves HTTPS with a self-signed certificate the target does (not) trust. */
  tls?: 'untrusted' | 'trusted';
  /** The target points at a port nobody listens on. */
  closedPort?: boolean;
  /** The target sends wrong secrets. */
  wrongCredentials?: boolean;
  /** Scrape once healthy first (must be up), then do this to the simulator before the measured scrape. */
  afterFirstScrape?: (sim: StartedSimulator) => void;
  /** Tokens the simulator must have issued by the end of the measured scrape (token cases). */
  tokensIssued?: number;
  /**
   * One exporter per subject, one after another: for faults whose cost lands on the simulators, which
   * share this process (and its event loop) with the exporter.
   */
  isolate?: boolean;
  /** The scrape timeout of this case's scrapes, for cases whose subject is not the deadline. */
  scrapeTimeoutSeconds?: number;
}

const CASES: FaultCase[] = [
  { name: 'the product hangs (never answers)', expect: 'timeout', faults: { hang: true } },
  { name: 'the body trickles (one byte every 50 ms)', expect: 'timeout', faults: { trickleMs: 50 } },
  {
    name: 'HTTP 503 on every request (retried, then given up)',
    expect: 'http_5xx',
    faults: { errorStatus: 503 },
  },
  { name: 'HTTP 500 on every request', expect: 'http_5xx', faults: { errorStatus: 500 } },
  { name: 'HTTP 429 with a Retry-After (30 s) longer than the deadline', expect: 'rate_limited', faults: { rateLimitRetryAfter: 30 } },
  { name: 'HTTP 429 with Retry-After 0 on every request (retried twice, then given up)', expect: 'rate_limited', faults: { rateLimitRetryAfter: 0 } },
  { name: 'HTTP 429 with Retry-After 0 on the first request only: retried, no failure', expect: 'up', faults: { rateLimitRetryAfter: 0, rateLimitCount: 1 } },
  { name: 'a truncated body (full Content-Length, half the bytes)', expect: 'invalid_response', faults: { truncate: true } },
  { name: 'invalid JSON under application/json', expect: 'parse', faults: { malformedJson: true } },
  {
    name: 'a wrong content type (text/html) with a body that is not JSON',
    expect: 'invalid_response',
    faults: { contentType: 'text/html; charset=utf-8', malformedJson: true },
  },
  // Products are inconsistent about Content-Type: valid JSON is taken whatever the answer says it is.
  { name: 'valid JSON under a wrong content type (text/plain) is accepted', expect: 'up', faults: { contentType: 'text/plain' } },
  {
    // Each answer costs the in-process simulator two 64 MiB buffers, on the event loop the exporter
    // runs on: one provider at a time, and a deadline that is not what this case is about, so that
    // a slow machine making those buffers slowly still shows the size cap and not a timeout.
    name: 'a body over the 64 MiB size cap',
    expect: 'invalid_response',
    faults: { oversizeBytes: DEFAULT_MAX_RESPONSE_BYTES + 64 * 1024 },
    isolate: true,
    scrapeTimeoutSeconds: 10,
  },
  { name: 'wrong credentials', expect: 'auth', wrongCredentials: true },
  {
    name: 'the access token expired between scrapes: refreshed once, no failure',
    expect: 'up',
    subjects: TOKEN_SUBJECTS,
    afterFirstScrape: (sim) => sim.tokens!.expire(),
    tokensIssued: 2,
  },
  {
    name: 'the access token was revoked between scrapes: a new one is fetched, no failure',
    expect: 'up',
    subjects: TOKEN_SUBJECTS,
    afterFirstScrape: (sim) => sim.tokens!.revoke(),
    tokensIssued: 2,
  },
  {
    name: 'the refresh token / IAM password was revoked between scrapes (tokens revoked with it)',
    expect: 'auth',
    subjects: TOKEN_SUBJECTS,
    afterFirstScrape: (sim) => sim.tokens!.revokeCredentials(),
    tokensIssued: 1,
  },
  { name: 'connection refused (a closed port)', expect: 'connect', closedPort: true },
  { name: 'a certificate that does not verify (self-signed, not trusted)', expect: 'tls', tls: 'untrusted' },
  // The control of the case above: the same simulators over TLS, with their certificate trusted.
  { name: 'the same certificate, trusted through tls.ca_file', expect: 'up', tls: 'trusted' },
];

// ---------------------------------------------------------------------------------------------
// Running a case

interface Scrape {
  status: number;
  text: string;
  ms: number;
}

interface LogLine {
  level: number;
  target?: string;
  reason?: string;
  msg?: string;
  err?: string;
}

interface CaseRun {
  first: Scrape;
  second: Scrape;
  /** After the simulators' faults were reset (cases with faults only). */
  recovered?: Scrape;
  healthy: number;
  /** Log lines up to the end of the first measured scrape, and all of them. */
  logsAfterFirst: LogLine[];
  logs: LogLine[];
  sims: Map<SubjectId, StartedSimulator>;
}

const faultyName = (id: SubjectId) => `faulty-${id}`;
const healthyName = (p: Provider) => `healthy-${p}`;

async function get(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const started = performance.now();
  const res = await request(url, { headers, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - started };
}

const scrapeTimeoutOf = (c: FaultCase) => c.scrapeTimeoutSeconds ?? SCRAPE_TIMEOUT_SECONDS;
const scrape = (ex: RunningExporter, timeoutSeconds: number) => get(`${ex.url}/metrics`, { 'X-Prometheus-Scrape-Timeout-Seconds': String(timeoutSeconds) });

function parseLogs(lines: readonly string[]): LogLine[] {
  return lines.map((line) => JSON.parse(line) as LogLine);
}

let certificate: { key: string; cert: string; caFile: string };
const healthy = new Map<Provider, StartedSimulator>();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
/** Reasons and timings per case, for the report. */
const report: Array<{ case: string; scrapeMs: number; cells: Record<string, string>; messages: string[] }> = [];

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const pem = selfSignedCertificate();
  const caFile = join(mkdtempSync(join(tmpdir(), 'backup-exporter-faults-')), 'ca.pem');
  writeFileSync(caFile, pem.cert);
  certificate = { ...pem, caFile };
  await Promise.all(PROVIDERS.map(async (p) => healthy.set(p, await PROVIDER_TABLE[p].start())));
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all([...healthy.values()].map((sim) => sim.close()));
  if (certificate) rmSync(dirname(certificate.caFile), { recursive: true, force: true });
  if (process.env.FAULTS_REPORT) {
    const lines = report.map(
      (r) => `${r.case.padEnd(80)} ${String(Math.round(r.scrapeMs)).padStart(5)} ms  ${JSON.stringify(r.cells)}${r.messages.map((m) => `\n      ${m}`).join('')}`,
    );
    console.log(`fault suite (scrape timeout ${SCRAPE_TIMEOUT_SECONDS} s):\n${lines.join('\n')}`);
  }
});

async function runCase(c: FaultCase, ids: readonly SubjectId[]): Promise<CaseRun & { close(): Promise<void> }> {
  const sims = new Map<SubjectId, StartedSimulator>();
  const toClose: Array<{ close(): Promise<void> }> = [];
  try {
    const targets = await Promise.all(
      ids.map(async (id) => {
        const { provider, auth } = SUBJECTS.get(id)!;
        const entry = PROVIDER_TABLE[provider];
        let endpoint: Endpoint;
        if (c.closedPort) {
          endpoint = { url: `http://127.0.0.1:${await freePort()}`, secrets: knownSecrets(provider), wrongSecrets: knownSecrets(provider, 'wrong') };
        } else {
          const sim = await entry.start({ faults: c.faults, tls: c.tls ? certificate : undefined });
          toClose.push(sim);
          sims.set(id, sim);
          endpoint = sim;
        }
        return entry.target(faultyName(id), endpoint, {
          auth,
          wrong: c.wrongCredentials,
          caFile: c.tls === 'trusted' ? certificate.caFile : undefined,
          extra: '    max_concurrency: 1\n',
        });
      }),
    );
    const healthyTargets = PROVIDERS.map((p) => PROVIDER_TABLE[p].target(healthyName(p), healthy.get(p)!));
    const ex = await startExporter(exporterYaml([...targets, ...healthyTargets]));
    toClose.push(ex);
    const scrapeTimeout = scrapeTimeoutOf(c);
    if (c.afterFirstScrape) {
      const warmup = samples((await scrape(ex, scrapeTimeout)).text);
      for (const id of ids) expect([id, warmup.get(`backup_up{target="${faultyName(id)}",provider="${SUBJECTS.get(id)!.provider}"}`)]).toEqual([id, 1]);
      for (const sim of sims.values()) c.afterFirstScrape(sim);
    }
    const first = await scrape(ex, scrapeTimeout);
    const logsAfterFirst = parseLogs(ex.logs);
    const second = await scrape(ex, scrapeTimeout);
    const health = await get(`${ex.url}/-/healthy`);
    let recovered: Scrape | undefined;
    if (c.faults) {
      for (const sim of sims.values()) sim.sim.reset();
      recovered = await scrape(ex, scrapeTimeout);
    }
    return {
      first,
      second,
      recovered,
      healthy: health.status,
      logsAfterFirst,
      logs: parseLogs(ex.logs),
      sims,
      close: async () => {
        await Promise.all(toClose.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(toClose.map((s) => s.close()));
    throw err;
  }
}

const WARN = 40;
const ERROR = 50;

function warnLines(logs: readonly LogLine[], target: string): LogLine[] {
  return logs.filter((l) => l.target === target && l.level >= WARN);
}

function failureLines(logs: readonly LogLine[], target: string, level: number): LogLine[] {
  return logs.filter((l) => l.target === target && l.level === level && l.msg === 'collection failed');
}

function errorCounts(text: string, target: string, provider: Provider): Record<string, number | undefined> {
  const s = samples(text);
  return Object.fromEntries(
    ERROR_REASONS.map((reason) => [reason, s.get(`backup_exporter_collect_errors_total{target="${target}",provider="${provider}",reason="${reason}"}`)]),
  );
}

// ---------------------------------------------------------------------------------------------
// The table

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  const ids = c.subjects ?? EVERY_SUBJECT;
  const scrapeTimeoutSeconds = scrapeTimeoutOf(c);
  const groups = c.isolate ? ids.map((id) => [id]) : [ids];
  /** The run each subject was part of (the same one for every subject, unless the case isolates them). */
  const runs = new Map<SubjectId, CaseRun>();
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    let scrapeMs = 0;
    for (const group of groups) {
      const started = await runCase(c, group);
      for (const id of group) runs.set(id, started);
      scrapeMs = Math.max(scrapeMs, started.first.ms);
      // Isolated runs are closed at once: their simulators hold the big answers.
      if (c.isolate) await started.close();
      else closers.push(started.close);
    }
    const cells: Record<string, string> = {};
    const messages: string[] = [];
    for (const id of ids) {
      for (const line of warnLines(runs.get(id)!.logsAfterFirst, faultyName(id))) messages.push(`${id}: ${line.reason}: ${line.err}`);
      const text = runs.get(id)!.first.text;
      const target = faultyName(id);
      const provider = SUBJECTS.get(id)!.provider;
      const s = samples(text);
      const reasons = Object.entries(errorCounts(text, target, provider)).filter(([, n]) => (n ?? 0) > 0).map(([r]) => r);
      const duration = s.get(`backup_collect_duration_seconds{target="${target}",provider="${provider}"}`) ?? NaN;
      const up = s.get(`backup_up{target="${target}",provider="${provider}"}`);
      cells[id] = `${up === 1 ? 'up' : reasons.join('+') || `up=${up}`} ${duration.toFixed(3)}s`;
    }
    report.push({ case: c.name, scrapeMs, cells, messages });
    // Every scrape of every run may take up to its timeout.
  }, Math.max(20_000, groups.length * SCRAPES_PER_RUN * scrapeTimeoutSeconds * 1000 + 10_000));

  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
  });

  test(`the scrape answers inside its ${scrapeTimeoutSeconds} s deadline, every healthy target is up in it, and the exporter keeps serving`, () => {
    for (const run of new Set(runs.values())) {
      expect(run.first.status).toBe(200);
      expect(run.first.ms).toBeLessThan(scrapeTimeoutSeconds * 1000);
      const s = samples(run.first.text);
      for (const p of PROVIDERS) expect([p, s.get(`backup_up{target="${healthyName(p)}",provider="${p}"}`)]).toEqual([p, 1]);
      expect(run.second.status).toBe(200);
      expect(run.second.ms).toBeLessThan(scrapeTimeoutSeconds * 1000);
      const again = samples(run.second.text);
      for (const p of PROVIDERS) expect([p, again.get(`backup_up{target="${healthyName(p)}",provider="${p}"}`)]).toEqual([p, 1]);
      expect(run.healthy).toBe(200);
      expect(run.logs.filter((l) => l.level >= ERROR)).toEqual([]);
    }
    expect(unhandled).toEqual([]);
  });


  describe.each(ids.map((id) => [id] as const))('%s', (id) => {
    const target = faultyName(id);
    const provider = SUBJECTS.get(id)!.provider;
    const up = `backup_up{target="${target}",provider="${provider}"}`;
    let run: CaseRun;
    beforeAll(() => {
      run = runs.get(id)!;
    });

    if (c.expect === 'up') {
      test('stays up: backup_up 1, no collection error counted, nothing logged at warn', () => {
        expect(samples(run.first.text).get(up)).toBe(1);
        expect(samples(run.second.text).get(up)).toBe(1);
        for (const text of [run.first.text, run.second.text]) {
          expect(Object.values(errorCounts(text, target, provider)).every((n) => n === 0)).toBe(true);
        }
        expect(warnLines(run.logs, target)).toEqual([]);
        if (c.tokensIssued !== undefined) expect(run.sims.get(id)!.tokens!.issued()).toBe(c.tokensIssued);
      });
      return;
    }
    const reason = c.expect;

    test(`backup_up 0, reason ${reason} counted once, inside the collection budget, in exactly one warn line`, () => {
      const s = samples(run.first.text);
      expect(s.get(up)).toBe(0);
      const counts = errorCounts(run.first.text, target, provider);
      expect(counts).toEqual(Object.fromEntries(ERROR_REASONS.map((r) => [r, r === reason ? 1 : 0])));
      // The collection ended inside the scrape timeout (its budget is 0.5 s shorter; that margin is
      // what lets the scrape answer in time); a deadline it hit shows as reason timeout above.
      expect(s.get(`backup_collect_duration_seconds{target="${target}",provider="${provider}"}`)).toBeLessThan(scrapeTimeoutSeconds);
      const warns = warnLines(run.logsAfterFirst, target);
      expect(warns).toHaveLength(1);
      expect(warns[0]).toMatchObject({ level: WARN, msg: 'collection failed', reason });
      expect(typeof warns[0]!.err).toBe('string');
      if (c.tokensIssued !== undefined) expect(run.sims.get(id)!.tokens!.issued()).toBe(c.tokensIssued);
    });

    test('the same failure on the next scrape is counted again and logged at debug, not warn', () => {
      expect(samples(run.second.text).get(up)).toBe(0);
      expect(errorCounts(run.second.text, target, provider)[reason]).toBe(2);
      expect(warnLines(run.logs, target)).toHaveLength(1);
      expect(failureLines(run.logs, target, 20).map((l) => l.reason)).toEqual([reason]);
    });

    if (c.faults) {
      test('once the fault is gone the target is up again, and the log says so at info', () => {
        expect(samples(run.recovered!.text).get(up)).toBe(1);
        expect(run.logs.filter((l) => l.target === target && l.msg === 'target recovered').map((l) => l.level)).toEqual([30]);
      });
    }
  });
});

/**
 * A product that stays down while the words of its error change: HTTP 500, then 503 (a load balancer
 * taking over), both reason http_5xx. The reason did not change, so the second failure is a repeat:
 * counted, logged at debug: one warn line per change of reason, whatever the messages say (which
 * of several parallel requests fails first, or where a parse error sits, changes between scrapes).
 */
describe('a failure whose message changes while its reason stays (HTTP 500, then 503)', () => {
  const sims = new Map<Provider, StartedSimulator>();
  let ex: RunningExporter | undefined;
  const scrapes: Scrape[] = [];

  beforeAll(async () => {
    await Promise.all(PROVIDERS.map(async (p) => sims.set(p, await PROVIDER_TABLE[p].start({ faults: { errorStatus: 500 } }))));
    const targets = PROVIDERS.map((p) => PROVIDER_TABLE[p].target(faultyName(p), sims.get(p)!, { extra: '    max_concurrency: 1\n' }));
    ex = await startExporter(exporterYaml(targets));
    scrapes.push(await scrape(ex, SCRAPE_TIMEOUT_SECONDS));
    for (const sim of sims.values()) sim.sim.faults.errorStatus = 503;
    scrapes.push(await scrape(ex, SCRAPE_TIMEOUT_SECONDS));
  });

  afterAll(async () => {
    await Promise.all([ex, ...sims.values()].map((s) => s?.close()));
  });

  test.each(PROVIDERS.map((p) => [p] as const))('%s: two http_5xx failures, one warn line, the second at debug', (p) => {
    const target = faultyName(p);
    expect(scrapes.map((r) => errorCounts(r.text, target, p).http_5xx)).toEqual([1, 2]);
    const logs = parseLogs(ex!.logs);
    expect(warnLines(logs, target)).toHaveLength(1);
    expect(failureLines(logs, target, 20).map((l) => l.reason)).toEqual(['http_5xx']);
  });
});

test('still no promise of the exporter left rejected and unhandled after every case', () => {
  expect(unhandled).toEqual([]);
});

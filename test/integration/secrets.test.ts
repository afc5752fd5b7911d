/**
 * Secrets stay secret: every provider and way of authenticating (AUTH_SUBJECTS of the providers'
 * test table) runs with known secret values (each way's secret field, the wrong values of targets
 * configured with wrong ones, and the access tokens the simulators issue) through success, wrong credentials, an expired token, a 5xx and the
 * repeat of a failure, with the exporter logging at debug; then none of those values may appear in
 * the captured logs, the error messages of the last results, the landing page, /config, /metrics,
 * /probe?target=..., /sd, nor in what a failed reload answers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { fetchText, samples, startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { AUTH_SUBJECTS, PROVIDER_TABLE, exporterYaml } from '../helpers/providers';
import type { AuthSubject, Provider, StartedSimulator } from '../helpers/providers';

jest.setTimeout(20_000);

type Variant = AuthSubject;
const VARIANTS = AUTH_SUBJECTS;

/** Per variant: `ok` (right secrets), `wrong` (wrong secrets) on one simulator; `down` (right secrets) on another that turns to 5xx. */
const ROLES = ['ok', 'wrong', 'down'] as const;
const targetName = (role: (typeof ROLES)[number], v: Variant) => `${role}-${v.id}`;

interface View {
  where: string;
  text: string;
}

/**
 * Deadlines are not what this file is about: every collection must get to its answer (right, wrong
 * or 5xx) even while a loaded machine runs all targets and simulators of this process slowly.
 */
const SCRAPE_TIMEOUT_SECONDS = 10;
const SCRAPE_HEADERS = { 'X-Prometheus-Scrape-Timeout-Seconds': String(SCRAPE_TIMEOUT_SECONDS) };
/** Scrapes of /metrics and /probe in beforeAll, each of which may take up to the scrape timeout. */
const SCRAPES = 4 + VARIANTS.length * ROLES.length;

const get = fetchText;

const sims = new Map<string, { healthy: StartedSimulator; failing: StartedSimulator }>();
let ex: RunningExporter;
/** Everything the exporter showed, in order. */
const views: View[] = [];
/** backup_up per target and the reason counts per target, per scrape of /metrics. */
const scrapes: Array<Map<string, number>> = [];

/** The pages an operator (or an attacker with access to the endpoint) can read, and the last errors. */
async function look(step: string): Promise<void> {
  for (const path of ['/', '/config', '/sd']) {
    const page = await get(`${ex.url}${path}`);
    expect([path, page.status]).toEqual([path, 200]);
    views.push({ where: `${step}: ${path}`, text: page.text });
  }
  for (const runtime of ex.exporter.targets) {
    const error = runtime.lastResult?.error;
    if (error) views.push({ where: `${step}: last error of ${runtime.config.name}`, text: `${error.reason} ${error.message} ${error.stack ?? ''}` });
  }
}

async function scrapeMetrics(step: string): Promise<Map<string, number>> {
  const page = await get(`${ex.url}/metrics`, SCRAPE_HEADERS);
  expect(page.status).toBe(200);
  views.push({ where: `${step}: /metrics`, text: page.text });
  const s = samples(page.text);
  scrapes.push(s);
  return s;
}

/** Every known secret value, named by where it comes from. */
function secrets(): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const [id, pair] of sims) {
    for (const [role, sim] of Object.entries(pair)) {
      for (const [field, value] of Object.entries(sim.secrets)) out.push({ name: `${id}/${role} ${field}`, value });
      for (const [field, value] of Object.entries(sim.wrongSecrets)) out.push({ name: `${id}/${role} wrong ${field}`, value });
      sim.issuedTokens.forEach((token, i) => {
        out.push({ name: `${id}/${role} issued token ${i}`, value: token });
        // A JWT's signature is what makes it a credential; a log that cut the token at a dot would still leak it.
        const signature = token.split('.')[2];
        if (signature) out.push({ name: `${id}/${role} issued token ${i} signature`, value: signature });
      });
    }
  }
  return out;
}

function leaks(texts: readonly View[]): string[] {
  const found: string[] = [];
  for (const secret of secrets()) {
    for (const view of texts) if (view.text.includes(secret.value)) found.push(`${secret.name} in ${view.where}`);
  }
  return found;
}

const up = (s: Map<string, number>, target: string, provider: Provider) => s.get(`backup_up{target="${target}",provider="${provider}"}`);
const errors = (s: Map<string, number>, target: string, provider: Provider, reason: string) =>
  s.get(`backup_exporter_collect_errors_total{target="${target}",provider="${provider}",reason="${reason}"}`);

beforeAll(async () => {
  await Promise.all(
    VARIANTS.map(async (v) => {
      const entry = PROVIDER_TABLE[v.provider];
      const [healthy, failing] = await Promise.all([entry.start(), entry.start()]);
      sims.set(v.id, { healthy, failing });
    }),
  );
  const targets = VARIANTS.flatMap((v) => {
    const entry = PROVIDER_TABLE[v.provider];
    const { healthy, failing } = sims.get(v.id)!;
    return [
      entry.target(targetName('ok', v), healthy, { auth: v.auth }),
      entry.target(targetName('wrong', v), healthy, { auth: v.auth, wrong: true }),
      entry.target(targetName('down', v), failing, { auth: v.auth }),
    ];
  });
  ex = await startExporter(exporterYaml(targets), { lifecycle: true });

  // Success everywhere but the wrong credentials.
  await scrapeMetrics('first scrape');
  await look('after the first scrape');

  // Access tokens expire: the next requests carry a token the product refuses, then fresh ones.
  for (const { healthy, failing } of sims.values()) {
    healthy.tokens?.expire();
    failing.tokens?.expire();
  }
  await scrapeMetrics('after tokens expired');

  // The second simulator of every variant turns to 5xx; twice, so that the repeat is logged at debug.
  for (const { failing } of sims.values()) failing.sim.faults.errorStatus = 500;
  await scrapeMetrics('5xx');
  await look('after the 5xx');
  await scrapeMetrics('5xx again');

  // One target at a time, the way Prometheus' multi-target pattern scrapes.
  for (const v of VARIANTS) {
    for (const role of ROLES) {
      const page = await get(`${ex.url}/probe?target=${targetName(role, v)}`, SCRAPE_HEADERS);
      expect([targetName(role, v), page.status]).toEqual([targetName(role, v), 200]);
      views.push({ where: `/probe?target=${targetName(role, v)}`, text: page.text });
    }
  }
  await look('after the probes');
}, SCRAPES * SCRAPE_TIMEOUT_SECONDS * 1000);

afterAll(async () => {
  await Promise.all([ex?.close(), ...[...sims.values()].flatMap(({ healthy, failing }) => [healthy.close(), failing.close()])]);
});

describe.each(VARIANTS.map((v) => [v.id, v] as const))('%s', (_id, v) => {
  test('each path ran: right secrets up, wrong ones auth, the 5xx http_5xx (counted twice)', () => {
    const [first, , fivexx, again] = scrapes;
    expect(up(first!, targetName('ok', v), v.provider)).toBe(1);
    expect(up(first!, targetName('down', v), v.provider)).toBe(1);
    expect(up(first!, targetName('wrong', v), v.provider)).toBe(0);
    expect(errors(first!, targetName('wrong', v), v.provider, 'auth')).toBe(1);
    expect(up(fivexx!, targetName('ok', v), v.provider)).toBe(1);
    expect(up(fivexx!, targetName('down', v), v.provider)).toBe(0);
    expect(errors(again!, targetName('down', v), v.provider, 'http_5xx')).toBe(2);
    const { healthy, failing } = sims.get(v.id)!;
    if (v.tokens) {
      // A token before expiry and a fresh one after, for each simulator: both were recorded and are checked.
      expect(healthy.tokens!.issued()).toBeGreaterThanOrEqual(2);
      expect(healthy.issuedTokens.length).toBe(healthy.tokens!.issued());
      expect(failing.issuedTokens.length).toBeGreaterThanOrEqual(2);
    }
  });

  test('its secrets were in the configuration the exporter read (right, wrong, and the 5xx simulator\'s)', () => {
    const { healthy, failing } = sims.get(v.id)!;
    const yaml = readFileSync(ex.configFile, 'utf8');
    expect(yaml).toContain(healthy.secrets[v.field]);
    expect(yaml).toContain(healthy.wrongSecrets[v.field]);
    expect(yaml).toContain(failing.secrets[v.field]);
  });
});

test('the exporter logged at debug (the repeated failures) and every failure at warn', () => {
  const lines = ex.logs.map((l) => JSON.parse(l) as { level: number; msg?: string; target?: string });
  expect(lines.some((l) => l.level === 20 && l.msg === 'collection failed')).toBe(true);
  for (const v of VARIANTS) {
    for (const role of ['wrong', 'down'] as const) {
      expect([targetName(role, v), lines.some((l) => l.level === 40 && l.target === targetName(role, v))]).toEqual([targetName(role, v), true]);
    }
  }
});

test('/config shows every secret as <secret>', () => {
  const config = views.find((view) => view.where.endsWith(': /config'))!.text;
  // Each target carries one secret: its variant's field.
  expect(config.match(/<secret>/g)?.length).toBe(VARIANTS.length * ROLES.length);
});

test('no secret appears in the logs', () => {
  expect(ex.logs.length).toBeGreaterThan(0);
  expect(leaks(ex.logs.map((text, i) => ({ where: `log line ${i + 1}: ${text.slice(0, 120)}`, text })))).toEqual([]);
});

test('no secret appears in /metrics, /probe, /, /config, /sd, nor in the error messages of the last results', () => {
  expect(views.length).toBeGreaterThan(0);
  expect(leaks(views)).toEqual([]);
});

test('no secret appears in what a failed reload answers, logs or shows', async () => {
  const original = readFileSync(ex.configFile, 'utf8');
  const before = ex.logs.length;
  // The same file with one problem: a provider that does not exist. Every secret is still in it.
  writeFileSync(ex.configFile, original.replace('provider: opsmanager', 'provider: opsmanagr'));
  try {
    const res = await request(`${ex.url}/-/reload`, { method: 'POST', headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    expect(res.statusCode).toBe(500);
    const landing = await get(`${ex.url}/`);
    const config = await get(`${ex.url}/config`);
    expect(leaks([
      { where: 'POST /-/reload answer', text },
      { where: '/ after the failed reload', text: landing.text },
      { where: '/config after the failed reload', text: config.text },
      ...ex.logs.slice(before).map((line, i) => ({ where: `log line ${before + i + 1}`, text: line })),
    ])).toEqual([]);
  } finally {
    writeFileSync(ex.configFile, original);
  }
});

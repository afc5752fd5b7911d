/**
 * The exporter against the BlueXP simulator over real HTTP on 127.0.0.1: counts per kind and state,
 * start times and last success per volume, both token grants, a token that expires between scrapes,
 * refused credentials, job details read one by one, and promtool-clean output.
 */
import { BLUEXP_ITEM_STATES, BLUEXP_JOB_STATES } from '../../src/providers/bluexp';
import { createBlueXpSimulator } from '../../simulators/bluexp';
import type { BlueXpSimulator, BlueXpSimulatorOptions } from '../../simulators/bluexp';
import { startSimulators } from '../../simulators/demo';
import { startSimulator } from '../../simulators/framework';
import type { RunningSimulator } from '../../simulators/framework';
import { closedAfterEach, fetchText, samples, series, startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { promtoolCheckMetrics } from '../helpers/promtool';

const ACCOUNT = 'account-It5tAcct';
/** Configured without the "clients" suffix: the simulator accepts only the suffixed form. */
const AGENT = 'ItConnectorAgentId0000000000001';
const REFRESH_TOKEN = 'it-refresh-token-3f9a51';
const SERVICE_ACCOUNT = { clientId: 'it-service-account', clientSecret: 'it-client-secret-77c1e0' };

interface Running {
  sim: BlueXpSimulator;
  server: RunningSimulator;
  /** The simulator's frozen clock (epoch ms), so that the test and the exporter see the same jobs. */
  now: number;
}

const track = closedAfterEach();

async function simulator(options: Partial<BlueXpSimulatorOptions> = {}): Promise<Running> {
  const now = Date.now();
  const sim = createBlueXpSimulator({
    accountId: ACCOUNT,
    agentId: AGENT,
    refreshToken: REFRESH_TOKEN,
    serviceAccount: SERVICE_ACCOUNT,
    jobs: 40,
    clock: () => now,
    ...options,
  });
  const server = await startSimulator(sim.app);
  track(server);
  return { sim, server, now };
}

async function exporter(yaml: string): Promise<RunningExporter> {
  return track(await startExporter(yaml));
}

type Credentials = { refresh_token: string } | { client_id: string; client_secret: string };

function target(name: string, url: string, credentials: Credentials = { refresh_token: REFRESH_TOKEN }): string {
  const lines = Object.entries(credentials).map(([k, v]) => `      ${k}: ${v}\n`).join('');
  return `  - name: ${name}
    provider: bluexp
    url: ${url}
    bluexp:
      account_id: ${ACCOUNT}
      agent_id: ${AGENT}
      token_url: ${url}/oauth/token
${lines}`;
}

const config = (...targets: string[]) => `global: { max_jobs: 1000 }\ntargets:\n${targets.join('')}`;

const get = async (url: string): Promise<string> => (await fetchText(url)).text;

interface Expected {
  counts: Map<string, number>;
  starts: Map<string, number>;
  lastSuccess: Map<string, number>;
  restores: number;
}

/** What the exporter should report, worked out by the test from the simulator's raw jobs. */
function expectedFrom(sim: BlueXpSimulator, now: number, unit: 'ms' | 's'): Expected {
  const out: Expected = { counts: new Map(), starts: new Map(), lastSuccess: new Map(), restores: 0 };
  const add = (kind: string, id: string, resource: string, state: string, start: number) => {
    out.counts.set(`${kind}/${state}`, (out.counts.get(`${kind}/${state}`) ?? 0) + 1);
    out.starts.set(`${kind}|${id}|${resource}`, start);
    if (kind === 'backup' && state === 'succeeded') out.lastSuccess.set(resource, Math.max(out.lastSuccess.get(resource) ?? 0, start));
  };
  for (const job of sim.jobsAt(now) as any[]) {
    const start = unit === 'ms' ? job.time / 1000 : job.time;
    if (job.type === 'backup') {
      for (const volume of job.data['multi-volume-backup'].volume) add('backup', job.id, volume.id, BLUEXP_ITEM_STATES[volume.status]!, start);
    } else {
      const source = job.data.restore.source;
      add('restore', job.id, `${source['working-environment-name']}/${source['volume-name']}`, BLUEXP_JOB_STATES[job.status]!, start);
      out.restores++;
    }
  }
  return out;
}

function label(key: string, name: string): string {
  return new RegExp(`${name}="([^"]*)"`).exec(key)?.[1] as string;
}

describe('exporter with the BlueXP simulator', () => {
  test.each(['ms', 's'] as const)(
    'time in %s: counts per kind and state, start times, last success per volume, restores counted once, promtool clean',
    async (timeUnit) => {
      const bx = await simulator({ timeUnit });
      const ex = await exporter(config(target('bx', bx.server.url)));
      const text = await get(`${ex.url}/metrics`);
      const s = samples(text);
      expect(s.get('backup_up{target="bx",provider="bluexp"}')).toBe(1);
      // One token request, GET /job, GET /restore/status.
      expect(s.get('backup_collect_upstream_requests{target="bx",provider="bluexp"}')).toBe(3);
      const expected = expectedFrom(bx.sim, bx.now, timeUnit);

      const jobs = series(text, 'backup_jobs', { target: 'bx' });
      expect(jobs).toHaveLength(14);
      for (const [key, value] of jobs) {
        const id = `${label(key, 'kind')}/${label(key, 'state')}`;
        expect([id, value]).toEqual([id, expected.counts.get(id) ?? 0]);
      }
      // Restores are listed by GET /job and GET /restore/status: each counts once.
      expect(series(text, 'backup_jobs', { target: 'bx', kind: 'restore' }).reduce((sum, [, v]) => sum + v, 0)).toBe(expected.restores);
      expect(expected.restores).toBeGreaterThan(0);
      expect(expected.counts.get('backup/succeeded')).toBeGreaterThan(0);

      const startSeries = series(text, 'backup_job_start_timestamp_seconds', { target: 'bx' });
      expect(startSeries).toHaveLength(expected.starts.size);
      for (const [key, value] of startSeries) {
        const id = `${label(key, 'kind')}|${label(key, 'job_id')}|${label(key, 'resource')}`;
        expect([id, value]).toEqual([id, expected.starts.get(id)]);
      }

      const lastSuccess = series(text, 'backup_last_success_timestamp_seconds', { target: 'bx', kind: 'backup' });
      expect(lastSuccess.length).toBe(expected.lastSuccess.size);
      for (const [key, value] of lastSuccess) {
        const volume = label(key, 'resource');
        expect([volume, value]).toEqual([volume, expected.lastSuccess.get(volume)]);
      }
      expect(series(text, 'backup_exporter_collect_errors_total', { target: 'bx' })).toHaveLength(9);
      expect(promtoolCheckMetrics(text)).toBe('');
    },
  );

  test('jobs listed without data are read one by one, finished ones only on the first scrape', async () => {
    const bx = await simulator({ summaryList: true, jobs: 20 });
    const ex = await exporter(config(target('bx', bx.server.url)));
    const first = samples(await get(`${ex.url}/probe?target=bx`));
    expect(first.get('backup_up{target="bx",provider="bluexp"}')).toBe(1);
    const restoreIds = new Set((bx.sim.jobsAt(bx.now) as any[]).filter((j) => j.type !== 'backup').map((j) => j.id));
    const unfinished = (bx.sim.jobsAt(bx.now) as any[]).filter((j) => j.status === 'PENDING' || j.status === 'IN_PROGRESS');
    // Restores take their data from /restore/status; each backup is read once.
    expect(first.get('backup_collect_upstream_requests{target="bx",provider="bluexp"}')).toBe(3 + 20 - restoreIds.size);
    const text = await get(`${ex.url}/probe?target=bx`);
    const unfinishedBackups = unfinished.filter((j) => !restoreIds.has(j.id)).length;
    expect(samples(text).get('backup_collect_upstream_requests{target="bx",provider="bluexp"}')).toBe(2 + unfinishedBackups);
    const expected = expectedFrom(bx.sim, bx.now, 'ms');
    for (const [key, value] of series(text, 'backup_jobs', { target: 'bx' })) {
      const id = `${label(key, 'kind')}/${label(key, 'state')}`;
      expect([id, value]).toEqual([id, expected.counts.get(id) ?? 0]);
    }
  });

  test('a token that expires between two scrapes is refreshed once (one more grant) and no scrape fails', async () => {
    const bx = await simulator();
    const ex = await exporter(config(target('bx', bx.server.url)));
    const up = 'backup_up{target="bx",provider="bluexp"}';
    expect(samples(await get(`${ex.url}/metrics`)).get(up)).toBe(1);
    expect(bx.sim.tokens.grants.refresh_token).toBe(1);
    expect(samples(await get(`${ex.url}/metrics`)).get(up)).toBe(1);
    expect(bx.sim.tokens.grants.refresh_token).toBe(1);

    expect(bx.sim.expireTokens()).toBe(1);
    const text = await get(`${ex.url}/metrics`);
    expect(samples(text).get(up)).toBe(1);
    // GET /job and GET /restore/status both met the 401 and shared the one refresh.
    expect(bx.sim.tokens.grants.refresh_token).toBe(2);
    expect(bx.sim.tokens.rejectedTokens).toBe(2);
    expect(samples(text).get('backup_exporter_collect_errors_total{target="bx",provider="bluexp",reason="auth"}')).toBe(0);
    expect(samples(await get(`${ex.url}/metrics`)).get(up)).toBe(1);
    expect(bx.sim.tokens.grants.refresh_token).toBe(2);
  });

  test('a short-lived token is renewed before it expires: one more grant, no request refused', async () => {
    // A running clock: the simulator expires the token for real after one second.
    const bx = await simulator({ tokenLifetimeSeconds: 1, clock: Date.now });
    const ex = await exporter(config(target('bx', bx.server.url)));
    const up = 'backup_up{target="bx",provider="bluexp"}';
    expect(samples(await get(`${ex.url}/probe?target=bx`)).get(up)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(samples(await get(`${ex.url}/probe?target=bx`)).get(up)).toBe(1);
    expect(bx.sim.tokens.grants.refresh_token).toBe(2);
    expect(bx.sim.tokens.rejectedTokens).toBe(0);
  });

  test('the client-credentials grant of a service account works; a wrong client secret gives backup_up 0 with reason auth', async () => {
    const bx = await simulator();
    const ex = await exporter(
      config(
        target('bad', bx.server.url, { client_id: SERVICE_ACCOUNT.clientId, client_secret: 'wrong-secret-0451' }),
        target('good', bx.server.url, { client_id: SERVICE_ACCOUNT.clientId, client_secret: SERVICE_ACCOUNT.clientSecret }),
      ),
    );
    const text = await get(`${ex.url}/metrics`);
    const s = samples(text);
    expect(s.get('backup_up{target="bad",provider="bluexp"}')).toBe(0);
    expect(s.get('backup_up{target="good",provider="bluexp"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="bad",provider="bluexp",reason="auth"}')).toBe(1);
    expect(bx.sim.tokens.grants.client_credentials).toBe(1);
    expect(bx.sim.tokens.refused).toBe(1);
    const logs = ex.logs.join('\n');
    expect(ex.logs.some((l) => l.includes('"reason":"auth"') && l.includes('"target":"bad"') && l.includes('HTTP 401'))).toBe(true);
    for (const secret of ['wrong-secret-0451', SERVICE_ACCOUNT.clientSecret]) {
      expect(logs).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('an unknown refresh token (invalid_grant) is reason auth too', async () => {
    const bx = await simulator();
    const ex = await exporter(config(target('bx', bx.server.url, { refresh_token: 'not-the-refresh-token' })));
    const s = samples(await get(`${ex.url}/metrics`));
    expect(s.get('backup_up{target="bx",provider="bluexp"}')).toBe(0);
    expect(s.get('backup_exporter_collect_errors_total{target="bx",provider="bluexp",reason="auth"}')).toBe(1);
    expect(ex.logs.join('\n')).not.toContain('not-the-refresh-token');
  });

  test('product faults: 503 is http_5xx, a body that is not JSON is parse; the target recovers', async () => {
    const bx = await simulator();
    const ex = await exporter(config(target('bx', bx.server.url)));
    const reason = (r: string) => `backup_exporter_collect_errors_total{target="bx",provider="bluexp",reason="${r}"}`;
    bx.sim.faults.errorStatus = 503;
    let s = samples(await get(`${ex.url}/metrics`));
    expect(s.get('backup_up{target="bx",provider="bluexp"}')).toBe(0);
    expect(s.get(reason('http_5xx'))).toBe(1);
    bx.sim.faults.errorStatus = 0;
    bx.sim.faults.malformedJson = true;
    s = samples(await get(`${ex.url}/metrics`));
    expect(s.get(reason('parse'))).toBe(1);
    bx.sim.faults.malformedJson = false;
    s = samples(await get(`${ex.url}/metrics`));
    expect(s.get('backup_up{target="bx",provider="bluexp"}')).toBe(1);
  });

  test("the demo configuration's bluexp target reads the demo simulator", async () => {
    const demo = await startSimulators({ bluexp: { host: '127.0.0.1', port: 0 } });
    track(demo);
    const url = demo.urls.bluexp!;
    // The snippet of exporter.yml, with the demo port replaced by the one the test got.
    const ex = await exporter(`targets:
  - name: bluexp-demo
    provider: bluexp
    url: ${url}
    bluexp:
      account_id: account-Dem0XbXp
      agent_id: DemoConnectorBxp0000000000000001
      token_url: ${url}/oauth/token
      refresh_token: demo-bluexp-refresh-token
`);
    const text = await get(`${ex.url}/metrics`);
    expect(samples(text).get('backup_up{target="bluexp-demo",provider="bluexp"}')).toBe(1);
    expect(series(text, 'backup_jobs', { target: 'bluexp-demo' }).reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThan(60);
    expect(promtoolCheckMetrics(text)).toBe('');
  });
});

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

/** `<working environment>/<volume>` of each volume id, from the simulator's inventory. */
function volumeNames(sim: BlueXpSimulator): Map<string, string> {
  return new Map(sim.inventory.flatMap((e) => e.volumes.map((v) => [v.id, `${e.name}/${v.name}`] as const)));
}

/** Requests of a first scrape besides the job calls: the working environment list and one volume list each. */
const inventoryRequests = (sim: BlueXpSimulator) => 1 + sim.inventory.length;

/** What the exporter should report, worked out by the test from the simulator's raw jobs. */
function expectedFrom(sim: BlueXpSimulator, now: number, unit: 'ms' | 's'): Expected {
  const out: Expected = { counts: new Map(), starts: new Map(), lastSuccess: new Map(), restores: 0 };
  const names = volumeNames(sim);
  const add = (kind: string, id: string, resource: string, state: string, start: number) => {
    out.counts.set(`${kind}/${state}`, (out.counts.get(`${kind}/${state}`) ?? 0) + 1);
    out.starts.set(`${kind}|${id}|${resource}`, start);
    if (kind === 'backup' && state === 'succeeded') out.lastSuccess.set(resource, Math.max(out.lastSuccess.get(resource) ?? 0, start));
  };
  for (const job of sim.jobsAt(now) as any[]) {
    const start = unit === 'ms' ? job.time / 1000 : job.time;
    if (job.type === 'backup') {
      for (const volume of job.data['multi-volume-backup'].volume) add('backup', job.id, names.get(volume.id)!, BLUEXP_ITEM_STATES[volume.status]!, start);
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
      // One token request, GET /job, GET /restore/status, and the inventory.
      expect(s.get('backup_collect_upstream_requests{target="bx",provider="bluexp"}')).toBe(3 + inventoryRequests(bx.sim));
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
    expect(first.get('backup_collect_upstream_requests{target="bx",provider="bluexp"}')).toBe(3 + inventoryRequests(bx.sim) + 20 - restoreIds.size);
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

describe('exporter with the BlueXP simulator: protection, restore points and storage', () => {
  /** The default RPO of alerts/backup-exporter.rules.yml, for resources whose policy names no interval. */
  const RPO_SECONDS = 26 * 3600;

  test('backup off gives protection 0; the stale and the failed volume, and only they, are older than their alert threshold; jobs and restore points join on (target, resource)', async () => {
    const bx = await simulator({ jobs: 200 });
    const ex = await exporter(config(target('bx', bx.server.url)));
    const text = await get(`${ex.url}/probe?target=bx`);
    expect(samples(text).get('backup_up{target="bx",provider="bluexp"}')).toBe(1);
    expect(promtoolCheckMetrics(text)).toBe('');

    // Backup disabled on the working environment: each of its volumes is known and unprotected.
    const protectedSeries = series(text, 'backup_resource_protected', { target: 'bx' });
    const off = bx.sim.inventory.find((e) => !e.enabled)!;
    expect(protectedSeries.filter(([key]) => label(key, 'resource').startsWith(`${off.name}/`))).toEqual(
      off.volumes.map((v) => [expect.stringContaining(`resource="${off.name}/${v.name}",status="OFF"`), 0]),
    );
    const unprotected = protectedSeries.filter(([, v]) => v === 0).map(([key]) => `${label(key, 'resource')} ${label(key, 'status')}`);
    expect(unprotected.sort()).toEqual(['cvo-prod/vol_legacy FAILED', ...off.volumes.map((v) => `${off.name}/${v.name} OFF`)].sort());

    // BackupRestorePointTooOld reads time() - newest restore point against twice the schedule interval (else the RPO).
    const interval = new Map(series(text, 'backup_resource_schedule_interval_seconds', { target: 'bx' }).map(([key, v]) => [label(key, 'resource'), v]));
    const points = series(text, 'backup_last_restore_point_timestamp_seconds', { target: 'bx' });
    const tooOld = points
      .filter(([key, created]) => bx.now / 1000 - created > (interval.has(label(key, 'resource')) ? 2 * interval.get(label(key, 'resource'))! : RPO_SECONDS))
      .map(([key]) => label(key, 'resource'));
    expect(tooOld.sort()).toEqual(['cvo-prod/vol_archive', 'cvo-prod/vol_legacy']);
    expect(points.every(([key]) => label(key, 'vault') === label(key, 'resource').split('/')[0])).toBe(true);

    // One name per volume: every backup job's resource has a restore point series and a protection series.
    const withPoints = new Set(points.map(([key]) => label(key, 'resource')));
    const withProtection = new Set(protectedSeries.map(([key]) => label(key, 'resource')));
    const backupResources = new Set(series(text, 'backup_job_state', { target: 'bx', kind: 'backup' }).map(([key]) => label(key, 'resource')));
    expect(backupResources.size).toBeGreaterThan(3);
    for (const resource of backupResources) expect([resource, withPoints.has(resource), withProtection.has(resource)]).toEqual([resource, true, true]);
    // A job's successful backup is never newer than the volume's newest restore point.
    for (const [key, success] of series(text, 'backup_last_success_timestamp_seconds', { target: 'bx', kind: 'backup' })) {
      const point = points.find(([p]) => label(p, 'resource') === label(key, 'resource'))!;
      expect(point[1]).toBeGreaterThanOrEqual(success);
    }

    // Storage per working environment (0 GB where backup is off); the product's counts as alerts.
    const storage = new Map(series(text, 'backup_storage_used_bytes', { target: 'bx' }).map(([key, v]) => [label(key, 'vault'), v]));
    expect([...storage.keys()].sort()).toEqual(bx.sim.inventory.map((e) => e.name).sort());
    expect(storage.get(off.name)).toBe(0);
    expect(storage.get('cvo-prod')).toBe(Number(bx.sim.inventory[0]!.usedGb) * 1e9);
    expect(series(text, 'backup_storage_capacity_bytes', { target: 'bx' })).toEqual([]);
    expect(series(text, 'backup_product_alerts', { target: 'bx', resource: 'cvo-prod', type: 'volume_backups_failed' })).toEqual([[expect.any(String), 1]]);
    expect(series(text, 'backup_product_alerts', { target: 'bx', resource: off.name, type: 'volumes_not_backed_up' })).toEqual([[expect.any(String), off.volumes.length]]);
  });

  test('the inventory is read once in its lifetime: a second scrape asks only for jobs', async () => {
    const bx = await simulator();
    const ex = await exporter(config(target('bx', bx.server.url)));
    const requests = 'backup_collect_upstream_requests{target="bx",provider="bluexp"}';
    expect(samples(await get(`${ex.url}/probe?target=bx`)).get(requests)).toBe(3 + inventoryRequests(bx.sim));
    const second = await get(`${ex.url}/probe?target=bx`);
    expect(samples(second).get(requests)).toBe(2);
    expect(series(second, 'backup_resource_protected', { target: 'bx' }).length).toBe(bx.sim.inventory.reduce((n, e) => n + e.volumes.length, 0));
  });
});

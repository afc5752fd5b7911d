/**
 * The exporter against the Ops Manager simulator over real HTTP on 127.0.0.1: counts per state,
 * paging, digest authentication, failures of one target not touching the others, singleflight,
 * the min_interval cache, reloads and redaction.
 */
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { DigestSession } from '../../src/http/digest';
import { worstOf } from '../../src/model';
import type { JobState } from '../../src/model';
import { OPSMANAGER_STATES } from '../../src/providers/opsmanager';
import { startSimulator } from '../../simulators/framework';
import type { RunningSimulator } from '../../simulators/framework';
import { createOpsManagerSimulator } from '../../simulators/opsmanager';
import type { OpsManagerSimulator } from '../../simulators/opsmanager';
import { closedAfterEach, fetchText, samples, series, startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { promtoolCheckMetrics } from '../helpers/promtool';

const PUBLIC_KEY = 'it-public-key';
const PRIVATE_KEY = 'it-private-key-5f1c9a';

interface Running {
  sim: OpsManagerSimulator;
  server: RunningSimulator;
}

const track = closedAfterEach();

async function simulator(options: Partial<Parameters<typeof createOpsManagerSimulator>[0]> = {}): Promise<Running> {
  const sim = createOpsManagerSimulator({ publicKey: PUBLIC_KEY, privateKey: PRIVATE_KEY, projects: 2, clustersPerProject: 3, jobsPerCluster: 30, ...options });
  const server = await startSimulator(sim.app);
  track(server);
  return { sim, server };
}

async function exporter(yaml: string): Promise<RunningExporter> {
  return track(await startExporter(yaml, { lifecycle: true }));
}

function target(name: string, url: string, extra = '', privateKey = PRIVATE_KEY): string {
  return `  - name: ${name}
    provider: opsmanager
    url: ${url}
${extra}    opsmanager:
      public_key: ${PUBLIC_KEY}
      private_key: ${privateKey}
`;
}


/** Restore jobs per state, read from the simulator by the test itself (not through the provider). */
async function expectedStates(sim: Running): Promise<Map<string, number>> {
  const session = new DigestSession(PUBLIC_KEY, PRIVATE_KEY);
  const counts = new Map<string, number>();
  const batches = new Map<string, Array<{ state: JobState }>>();
  for (const cluster of sim.sim.clusters) {
    const path = `/api/public/v1.0/groups/${cluster.groupId}/clusters/${cluster.id}/restoreJobs?itemsPerPage=500`;
    let body: { results: Array<{ id: string; batchId?: string; statusName: string }> } | undefined;
    for (let attempt = 0; attempt < 3 && !body; attempt++) {
      const auth = session.authorize('GET', path);
      const res = await request(sim.server.url + path, { headers: auth ? { authorization: auth } : {} });
      if (res.statusCode === 401) {
        session.onChallenge(res.headers['www-authenticate'] as string);
        await res.body.dump();
      } else {
        body = (await res.body.json()) as typeof body;
      }
    }
    for (const job of body?.results ?? []) {
      if (job.batchId) {
        // The worst member speaks for a batch, whatever the order of the members.
        const members = batches.get(job.batchId) ?? [];
        batches.set(job.batchId, [...members, { state: OPSMANAGER_STATES[job.statusName] ?? 'unknown' }]);
      } else {
        const state = OPSMANAGER_STATES[job.statusName] ?? 'unknown';
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
    }
  }
  for (const members of batches.values()) {
    const { state } = worstOf(members);
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return counts;
}

describe('exporter with the Ops Manager simulator', () => {
  test('reports up, counts per state matching the simulator, every state present, and promtool-clean output', async () => {
    // The simulator's clock stands still: a job that finishes between the exporter's read and the
    // test's own would make the two counts differ.
    const now = Date.now();
    const ops = await simulator({ clock: () => now });
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const { status, text } = await fetchText(`${ex.url}/metrics`);
    expect(status).toBe(200);
    expect(samples(text).get('backup_up{target="ops",provider="opsmanager"}')).toBe(1);
    const expected = await expectedStates(ops);
    const jobs = series(text, 'backup_jobs', { target: 'ops' });
    expect(jobs).toHaveLength(7);
    for (const [key, value] of jobs) {
      const state = /state="(\w+)"/.exec(key)?.[1] as string;
      expect([state, value]).toEqual([state, expected.get(state) ?? 0]);
    }
    expect(jobs.reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThan(0);
    expect(series(text, 'backup_job_state', { target: 'ops' }).length).toBeGreaterThan(0);
    expect(series(text, 'backup_exporter_collect_errors_total', { target: 'ops' })).toHaveLength(9);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('pages through long restore job lists (itemsPerPage=500) and counts every request', async () => {
    const ops = await simulator({ projects: 1, clustersPerProject: 1, shardedEvery: 0, jobsPerCluster: 1200, jobIntervalMs: 60_000 });
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=ops`);
    const total = series(text, 'backup_jobs').reduce((sum, [, v]) => sum + v, 0);
    expect(total).toBe(1200);
    // groups (1 page) + clusters (1 page) + restore jobs (3 pages) + backupConfigs, alerts, snapshots
    // and the snapshot schedule (1 each); digest's first challenge costs one more.
    expect(samples(text).get('backup_collect_upstream_requests{target="ops",provider="opsmanager"}')).toBe(10);
    expect(ops.sim.stats.byPath.size).toBeGreaterThan(0);
  });

  test('protection from backup configurations: stopped, never configured, a stale restore point, schedules', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=ops`);
    const protection = new Map(series(text, 'backup_resource_protected').map(([key, value]) => [/resource="([^"]+)",status="([^"]+)"/.exec(key)!.slice(1).join(' '), value]));
    expect(protection).toEqual(
      new Map([
        ['Production/orders STARTED', 1],
        ['Production/catalog STOPPED', 0],
        ['Production/sessions STARTED', 1],
        ['Staging/orders NONE', 0],
        ['Staging/catalog STARTED', 1],
        ['Staging/sessions STARTED', 1],
      ]),
    );
    // Configured clusters have their six-hour schedule; the one never configured has none.
    expect(series(text, 'backup_resource_schedule_interval_seconds').map(([, v]) => v)).toEqual([21600, 21600, 21600, 21600, 21600]);
    expect(series(text, 'backup_resource_schedule_interval_seconds', { resource: 'Staging/orders' })).toEqual([]);
    const newest = (resource: string) => series(text, 'backup_last_restore_point_timestamp_seconds', { vault: '', resource })[0]?.[1];
    const now = Date.now() / 1000;
    expect(now - newest('Production/orders')!).toBeLessThan(6 * 3600 + 600 + 60);
    // The stalled cluster's newest snapshot is three days old; the stopped one's a day.
    expect(now - newest('Staging/catalog')!).toBeGreaterThan(3 * 86400 - 60);
    expect(now - newest('Production/catalog')!).toBeGreaterThan(86400 - 60);
    expect(newest('Staging/orders')).toBeUndefined();
    expect(series(text, 'backup_restore_points', { vault: '', state: 'available' })[0]?.[1]).toBeGreaterThan(0);
    expect(series(text, 'backup_storage_used_bytes')).toEqual([]);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('an open backup alert is exported while open and gone once it closes', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const open = await fetchText(`${ex.url}/probe?target=ops`);
    expect(series(open.text, 'backup_product_alerts')).toEqual([['backup_product_alerts{target="ops",provider="opsmanager",resource="Production/orders",type="RESYNC_REQUIRED"}', 1]]);
    ops.sim.closeAlerts();
    const closed = await fetchText(`${ex.url}/probe?target=ops`);
    expect(series(closed.text, 'backup_product_alerts')).toEqual([]);
    expect(series(closed.text, 'backup_resource_protected', { resource: 'Production/orders' })).toHaveLength(1);
  });

  test('jobs outside the lookback window are counted out', async () => {
    const ops = await simulator({ projects: 1, clustersPerProject: 1, shardedEvery: 0, jobsPerCluster: 48, jobIntervalMs: 3_600_000 });
    const ex = await exporter(`global: { lookback: 12h }\ntargets:\n${target('ops', ops.server.url)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=ops`);
    const total = series(text, 'backup_jobs').reduce((sum, [, v]) => sum + v, 0);
    expect(total).toBeGreaterThanOrEqual(12);
    expect(total).toBeLessThanOrEqual(13);
  });

  test('a wrong private key gives backup_up 0 with reason auth; the other target is served', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('bad', ops.server.url, '', 'wrong-key')}${target('good', ops.server.url)}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    const s = samples(text);
    expect(s.get('backup_up{target="bad",provider="opsmanager"}')).toBe(0);
    expect(s.get('backup_up{target="good",provider="opsmanager"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="bad",provider="opsmanager",reason="auth"}')).toBe(1);
    expect(ex.logs.some((l) => l.includes('"reason":"auth"') && l.includes('"target":"bad"'))).toBe(true);
    expect(ex.logs.join('\n')).not.toContain('wrong-key');
    expect(ex.logs.join('\n')).not.toContain(PRIVATE_KEY);
  });

  test('a product that hangs: the scrape answers inside the scrape timeout, backup_up 0 for it, 1 for the others', async () => {
    const hung = await simulator({ faults: { hang: true } });
    const fine = await simulator();
    const ex = await exporter(`targets:\n${target('hung', hung.server.url)}${target('fine', fine.server.url)}`);
    const began = Date.now();
    const { status, text } = await fetchText(`${ex.url}/metrics`, { 'x-prometheus-scrape-timeout-seconds': '2' });
    const took = Date.now() - began;
    expect(status).toBe(200);
    expect(took).toBeLessThan(2000);
    expect(took).toBeGreaterThanOrEqual(1400);
    const s = samples(text);
    expect(s.get('backup_up{target="hung",provider="opsmanager"}')).toBe(0);
    expect(s.get('backup_up{target="fine",provider="opsmanager"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="hung",provider="opsmanager",reason="timeout"}')).toBe(1);
  });

  test('concurrent scrapes of one target share one collection', async () => {
    const ops = await simulator({ faults: { latencyMs: 100 } });
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    await fetchText(`${ex.url}/probe?target=ops`); // warm up digest
    const before = ops.sim.stats.requests;
    const texts = await Promise.all(Array.from({ length: 20 }, () => fetchText(`${ex.url}/probe?target=ops`)));
    const oneCollection = samples(texts[0].text).get('backup_collect_upstream_requests{target="ops",provider="opsmanager"}') as number;
    expect(oneCollection).toBeGreaterThan(0);
    expect(ops.sim.stats.requests - before).toBe(oneCollection);
    for (const t of texts) expect(samples(t.text).get('backup_up{target="ops",provider="opsmanager"}')).toBe(1);
  });

  test('min_interval serves a cached result that young', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url, '    min_interval: 1h\n')}`);
    const first = await fetchText(`${ex.url}/probe?target=ops`);
    const requests = ops.sim.stats.requests;
    const second = await fetchText(`${ex.url}/probe?target=ops`);
    expect(ops.sim.stats.requests).toBe(requests);
    const stamp = 'backup_collect_timestamp_seconds{target="ops",provider="opsmanager"}';
    expect(samples(second.text).get(stamp)).toBe(samples(first.text).get(stamp));
  });

  test('/probe without or with an unknown target is a 400 that says what is wrong', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const missing = await fetchText(`${ex.url}/probe`);
    expect(missing.status).toBe(400);
    expect(missing.text).toContain('missing parameter "target"');
    const unknown = await fetchText(`${ex.url}/probe?target=nope`);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('unknown target "nope"; configured targets: ops');
  });

  test('reload: a bad file keeps the running configuration and sets the reload metric to 0', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    writeFileSync(ex.configFile, `targets:\n${target('ops', ops.server.url)}${target('ops', ops.server.url)}`);
    const bad = await request(`${ex.url}/-/reload`, { method: 'POST' });
    expect(bad.statusCode).toBe(500);
    expect(await bad.body.text()).toContain('duplicate target name "ops"');
    let metrics = (await fetchText(`${ex.url}/metrics`)).text;
    expect(samples(metrics).get('backup_exporter_config_last_reload_successful')).toBe(0);
    expect(samples(metrics).get('backup_up{target="ops",provider="opsmanager"}')).toBe(1);

    writeFileSync(ex.configFile, `targets:\n${target('ops2', ops.server.url)}`);
    const good = await request(`${ex.url}/-/reload`, { method: 'POST' });
    expect(good.statusCode).toBe(200);
    await good.body.dump();
    metrics = (await fetchText(`${ex.url}/metrics`)).text;
    expect(samples(metrics).get('backup_exporter_config_last_reload_successful')).toBe(1);
    expect(samples(metrics).get('backup_up{target="ops2",provider="opsmanager"}')).toBe(1);
    expect(series(metrics, 'backup_up', { target: 'ops' })).toEqual([]);
    expect(series(metrics, 'backup_exporter_collect_errors_total', { target: 'ops' })).toEqual([]);
  });

  test('/config, the landing page, logs and metrics never show the private key', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const metrics = await fetchText(`${ex.url}/metrics`);
    const config = await fetchText(`${ex.url}/config`);
    const landing = await fetchText(`${ex.url}/`);
    expect(config.status).toBe(200);
    expect(config.text).toContain(PUBLIC_KEY);
    expect(landing.text).toContain('href="/probe?target=ops"');
    expect(landing.text).toContain('up: ');
    for (const text of [metrics.text, config.text, landing.text, ex.logs.join('\n')]) expect(text).not.toContain(PRIVATE_KEY);
  });

  test('the landing page shows per target the failed and running jobs, the unprotected resources and the data age', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    const metrics = samples((await fetchText(`${ex.url}/metrics`)).text);
    const count = (state: string) => metrics.get(`backup_jobs{target="ops",provider="opsmanager",kind="restore",state="${state}"}`) ?? 0;
    const protectedSeries = [...metrics].filter(([name]) => name.startsWith('backup_resource_protected{target="ops"'));
    const unprotected = protectedSeries.filter(([, value]) => value === 0).length;
    expect(protectedSeries.length).toBeGreaterThan(0);
    const landing = (await fetchText(`${ex.url}/`)).text;
    const row = landing.split('\n').find((line) => line.startsWith('<tr><td>ops</td>'));
    expect(row).toContain(`jobs: ${count('failed')} failed, ${count('running')} running`);
    expect(row).toContain(`${unprotected} of ${protectedSeries.length} resources unprotected`);
    expect(row).toMatch(/<td>\d+ s ago<\/td>/);
    for (const link of ['/metrics?targets=none', '/-/ready', '/docs/', '/config']) expect(landing).toContain(`href="${link}"`);
  });

  test('at debug level: one line per upstream request and one per collection, with what they cost', async () => {
    const ops = await simulator();
    const ex = await exporter(`targets:\n${target('ops', ops.server.url)}`);
    await fetchText(`${ex.url}/metrics`);
    const lines = ex.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'upstream request');
    const collections = lines.filter((l) => l.msg === 'collection finished');
    expect(collections).toEqual([expect.objectContaining({ level: 20, target: 'ops', requests: requests.length, jobs: expect.any(Number), duration_seconds: expect.any(Number) })]);
    expect(collections[0]!.jobs).toBeGreaterThan(0);
    // Digest challenges are answered 401 and counted: every attempt is a line.
    expect(new Set(requests.map((r) => r.status))).toEqual(new Set(['200', '401']));
    for (const r of requests) {
      expect(r).toEqual(expect.objectContaining({ level: 20, target: 'ops', method: 'GET', ms: expect.any(Number), bytes: expect.any(Number) }));
      expect(r.path).toMatch(/^\/api\/public\/v1\.0\//);
    }
  });
});

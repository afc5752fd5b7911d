/**
 * The exporter against the Atlas simulator over real HTTP on 127.0.0.1, in both authentication
 * modes (API key over Digest, service account over OAuth client credentials): protection per
 * cluster (one with backup disabled), schedule intervals from policy items, snapshots as restore
 * points and backup runs (a failed one, a stale cluster, a sharded cluster's from the sharded list), restores with real durations (one in
 * progress), token reuse, refresh before expiry and once on a 401, refused credentials, the
 * versioned Accept header, and promtool-clean output.
 */
import { createAtlasSimulator, type AtlasSimulator, type AtlasSimulatorOptions } from '../../simulators/atlas';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';
import { closedAfterEach, fetchText, samples, series, startExporter, type RunningExporter } from '../helpers/exporter';
import { promtoolCheckMetrics } from '../helpers/promtool';

const PUBLIC_KEY = 'it-atlas-public';
const PRIVATE_KEY = 'it-atlas-private-5c1e9a';
const CLIENT_ID = 'mdb_sa_id_it';
const CLIENT_SECRET = 'mdb_sa_sk_it-7f20b4';

interface Running {
  sim: AtlasSimulator;
  server: RunningSimulator;
  /** The data clock, which stands still unless a test moves it. */
  clock: { now: number };
}

const track = closedAfterEach();

async function simulator(options: Partial<AtlasSimulatorOptions> = {}): Promise<Running> {
  const clock = { now: Date.now() };
  const sim = createAtlasSimulator({
    publicKey: PUBLIC_KEY,
    privateKey: PRIVATE_KEY,
    serviceAccount: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    projects: 1,
    clustersPerProject: 7,
    clock: () => clock.now,
    ...options,
  });
  const server = await startSimulator(sim.app);
  track(server);
  return { sim, server, clock };
}

async function exporter(yaml: string): Promise<RunningExporter> {
  return track(await startExporter(yaml));
}

type Mode = 'digest' | 'oauth';

function target(name: string, url: string, mode: Mode, secret?: string, extra = ''): string {
  const credentials =
    mode === 'digest'
      ? `      public_key: ${PUBLIC_KEY}\n      private_key: ${secret ?? PRIVATE_KEY}\n`
      : `      client_id: ${CLIENT_ID}\n      client_secret: ${secret ?? CLIENT_SECRET}\n`;
  return `  - name: ${name}\n    provider: atlas\n    url: ${url}\n    atlas:\n${credentials}${extra}`;
}

const up = (text: string, name = 'atlas') => samples(text).get(`backup_up{target="${name}",provider="atlas"}`);

describe('exporter with the Atlas simulator', () => {
  test.each(['digest', 'oauth'] as const)('%s: protection, schedules, restore points, backup runs and restores as the simulator has them', async (mode) => {
    const atlas = await simulator();
    const ex = await exporter(`global: { lookback: 3d }\ntargets:\n${target('atlas', atlas.server.url, mode)}`);
    const { status, text } = await fetchText(`${ex.url}/probe?target=atlas`);
    expect(status).toBe(200);
    expect(up(text)).toBe(1);
    const project = atlas.sim.projects[0]!.name;
    const byRole = Object.fromEntries(atlas.sim.clusters.map((c) => [c.role, `${project}/${c.name}`]));
    const s = samples(text);
    // Protection: the disabled cluster is known and unprotected; every other is protected.
    expect(s.get(`backup_resource_protected{target="atlas",provider="atlas",resource="${byRole.disabled}",status="disabled"}`)).toBe(0);
    for (const role of ['restoring', 'failed-snapshot', 'stale', 'daily', 'healthy', 'sharded']) {
      expect(s.get(`backup_resource_protected{target="atlas",provider="atlas",resource="${byRole[role]}",status="enabled"}`)).toBe(1);
    }
    // Schedules: six-hourly policy items, and one cluster with daily snapshots only.
    expect(s.get(`backup_resource_schedule_interval_seconds{target="atlas",provider="atlas",resource="${byRole.healthy}"}`)).toBe(6 * 3600);
    expect(s.get(`backup_resource_schedule_interval_seconds{target="atlas",provider="atlas",resource="${byRole.daily}"}`)).toBe(86400);
    expect(series(text, 'backup_resource_schedule_interval_seconds', { resource: byRole.disabled })).toEqual([]);
    // Restore points: the stale cluster's newest is three days old; the disabled cluster has none.
    const newest = (resource: string) => s.get(`backup_last_restore_point_timestamp_seconds{target="atlas",provider="atlas",vault="",resource="${resource}"}`);
    const now = atlas.clock.now / 1000;
    expect(now - newest(byRole.stale)!).toBeGreaterThan(3 * 86400);
    // Newest available: at most one interval old, plus the 12 minutes the simulator's newest snapshot is still being taken.
    const fresh = 6 * 3600 + 15 * 60;
    expect(now - newest(byRole.healthy)!).toBeLessThan(fresh);
    // The sharded cluster's snapshots are only in the sharded list: its restore points are as fresh as a healthy one's.
    expect(now - newest(byRole.sharded)!).toBeLessThan(fresh);
    expect(s.get(`backup_resource_schedule_interval_seconds{target="atlas",provider="atlas",resource="${byRole.sharded}"}`)).toBe(6 * 3600);
    expect(series(text, 'backup_last_success_timestamp_seconds', { kind: 'backup', resource: byRole.sharded })).toHaveLength(1);
    expect(newest(byRole.disabled)).toBeUndefined();
    expect(s.get('backup_restore_points{target="atlas",provider="atlas",vault="",state="error"}')).toBeGreaterThanOrEqual(1);
    // Backup runs: the failed snapshot is a failed backup; restores: one in progress, finished ones with a duration.
    expect(series(text, 'backup_last_failure_timestamp_seconds', { kind: 'backup', resource: byRole['failed-snapshot'] })).toHaveLength(1);
    expect(series(text, 'backup_jobs', { kind: 'restore', state: 'running' }).reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThanOrEqual(1);
    expect(series(text, 'backup_job_end_timestamp_seconds', { kind: 'restore' }).length).toBeGreaterThan(0);
    expect(series(text, 'backup_job_duration_seconds_count', { kind: 'restore' }).reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThan(0);
    // No read for the cluster whose backup is off.
    const disabledName = atlas.sim.clusters.find((c) => c.role === 'disabled')!.name;
    expect([...atlas.sim.stats.byPath.keys()].filter((path) => path.includes(`/clusters/${disabledName}/`))).toEqual([]);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('every call asks for the resource version it was written against', async () => {
    const atlas = await simulator({ clustersPerProject: 7 });
    const accepts: string[] = [];
    const outer = (await import('express')).default();
    outer.use((req, _res, next) => {
      accepts.push(`${req.path.replace(/[0-9a-f]{24}/g, '{id}').replace(/clusters\/[a-z-]+/, 'clusters/{name}')} ${req.get('accept')}`);
      next();
    });
    outer.use(atlas.sim.app);
    const server = track(await startSimulator(outer));
    const ex = await exporter(`targets:\n${target('atlas', server.url, 'oauth')}`);
    expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect([...new Set(accepts.filter((line) => line.startsWith('/api/atlas')))].sort()).toEqual([
      '/api/atlas/v2/groups application/vnd.atlas.2023-01-01+json',
      '/api/atlas/v2/groups/{id}/clusters application/vnd.atlas.2024-08-05+json',
      '/api/atlas/v2/groups/{id}/clusters/{name}/backup/restoreJobs application/vnd.atlas.2023-01-01+json',
      '/api/atlas/v2/groups/{id}/clusters/{name}/backup/schedule application/vnd.atlas.2024-08-05+json',
      '/api/atlas/v2/groups/{id}/clusters/{name}/backup/snapshots application/vnd.atlas.2023-01-01+json',
      '/api/atlas/v2/groups/{id}/clusters/{name}/backup/snapshots/shardedClusters application/vnd.atlas.2023-01-01+json',
    ]);
  });

  test('a refused backup call is left out and logged once per call and cluster, not once per target', async () => {
    const atlas = await simulator({ clustersPerProject: 4 });
    const outer = (await import('express')).default();
    outer.use((req, res, next) => {
      if (!req.path.endsWith('/backup/restoreJobs')) return next();
      res.status(403).json({ detail: 'The API key lacks the role.', error: 403, errorCode: 'USER_CANNOT_ACCESS_ORGANIZATION', parameters: [], reason: 'Forbidden' });
    });
    outer.use(atlas.sim.app);
    const server = track(await startSimulator(outer));
    const ex = await exporter(`targets:\n${target('atlas', server.url, 'digest')}`);
    const refusals = () =>
      ex.logs
        .map((line) => JSON.parse(line) as { msg?: string; call?: string; resource?: string; status?: number })
        .filter((entry) => entry.msg?.startsWith('Atlas refused a backup call'));
    const { text } = await fetchText(`${ex.url}/probe?target=atlas`);
    expect(up(text)).toBe(1);
    const project = atlas.sim.projects[0]!.name;
    const withBackup = atlas.sim.clusters.filter((c) => c.role !== 'disabled').map((c) => `${project}/${c.name}`);
    expect(withBackup).toHaveLength(3);
    // Every cluster's refusal is said, with its cluster; snapshots are still read.
    expect(refusals().map((entry) => [entry.call, entry.resource, entry.status]).sort()).toEqual(withBackup.map((resource) => ['restoreJobs', resource, 403]).sort());
    expect(series(text, 'backup_jobs', { kind: 'restore' }).reduce((sum, [, v]) => sum + v, 0)).toBe(0);
    expect(series(text, 'backup_last_restore_point_timestamp_seconds').length).toBe(3);
    // The same refusals on the next scrape are not said again.
    expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect(refusals()).toHaveLength(3);
  });

  test('OAuth: one token serves many scrapes, is renewed before it expires, and once after a 401', async () => {
    // Tokens of 100 s: renewed at 90 % of their life (a minute early for the one-hour tokens Atlas issues).
    const atlas = await simulator({ tokenLifetimeMs: 100_000 });
    const ex = await exporter(`targets:\n${target('atlas', atlas.server.url, 'oauth')}`);
    for (let i = 0; i < 3; i++) expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect(atlas.sim.tokensIssued()).toBe(1);
    // A revoked token meets a 401: one new token, the scrape still succeeds.
    atlas.sim.revokeTokens();
    expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect(atlas.sim.tokensIssued()).toBe(2);
    const metrics = (await fetchText(`${ex.url}/metrics`)).text;
    expect(series(metrics, 'backup_exporter_collect_errors_total', { target: 'atlas' }).every(([, v]) => v === 0)).toBe(true);
  });

  test('OAuth: a token near its expiry is renewed before use', async () => {
    // The simulator's clock stands still, so its tokens never expire there: a second token can only
    // come from the exporter renewing ahead of the expiry the token answer announced (2 s).
    const atlas = await simulator({ tokenLifetimeMs: 2_000 });
    const ex = await exporter(`targets:\n${target('atlas', atlas.server.url, 'oauth')}`);
    expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect(atlas.sim.tokensIssued()).toBe(1);
    // Past 90 % of the token's life by the exporter's clock: the next scrape asks for a new token first.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(up((await fetchText(`${ex.url}/probe?target=atlas`)).text)).toBe(1);
    expect(atlas.sim.tokensIssued()).toBe(2);
  });

  test.each(['digest', 'oauth'] as const)('%s: wrong credentials give backup_up 0 with reason auth; the secret is in no log line or metric', async (mode) => {
    const atlas = await simulator();
    const wrong = `wrong-${mode}-secret-31d0`;
    const ex = await exporter(`targets:\n${target('bad', atlas.server.url, mode, wrong)}${target('good', atlas.server.url, mode)}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    expect(up(text, 'bad')).toBe(0);
    expect(up(text, 'good')).toBe(1);
    expect(samples(text).get('backup_exporter_collect_errors_total{target="bad",provider="atlas",reason="auth"}')).toBe(1);
    const logs = ex.logs.join('\n');
    for (const secret of [wrong, PRIVATE_KEY, CLIENT_SECRET]) {
      expect(logs).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
    if (mode === 'oauth') expect(atlas.sim.tokensIssued()).toBe(1);
  });

  test('configured projects are read by id; lists longer than a page are paged', async () => {
    const atlas = await simulator({ projects: 3, clustersPerProject: 2, snapshotsPerCluster: 1200 });
    const chosen = atlas.sim.projects[1]!;
    const ex = await exporter(`targets:\n${target('atlas', atlas.server.url, 'digest', undefined, `      projects: [${chosen.id}]\n`)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=atlas`);
    expect(up(text)).toBe(1);
    const resources = new Set(series(text, 'backup_resource_protected').map(([key]) => /resource="([^"]+)"/.exec(key)?.[1]));
    expect([...resources].sort()).toEqual(atlas.sim.clusters.filter((c) => c.groupId === chosen.id).map((c) => `${chosen.name}/${c.name}`).sort());
    const restoring = atlas.sim.clusters.find((c) => c.groupId === chosen.id && c.role === 'restoring')!;
    // 1,200 snapshots (as many as the clock allows since 2024) in pages of 500.
    expect(atlas.sim.stats.byPath.get(`/api/atlas/v2/groups/${chosen.id}/clusters/${restoring.name}/backup/snapshots`)).toBe(3);
    const points = series(text, 'backup_restore_points').reduce((sum, [, v]) => sum + v, 0);
    expect(points).toBe(1200);
  });
});

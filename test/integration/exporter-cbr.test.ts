/**
 * The exporter against the CBR simulator over real HTTP on 127.0.0.1, in both authentication
 * modes: counts per kind and state, paging, restore points with vault names, vault storage and
 * status, protection and schedules per resource, IAM token reuse and refresh, refused credentials,
 * and promtool-clean output.
 */
import { CBR_TASK_STATES } from '../../src/providers/cbr';
import { createCbrSimulator, type CbrSimulator, type CbrSimulatorOptions } from '../../simulators/cbr';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';
import { closedAfterEach, fetchText, samples, series, startExporter, type RunningExporter } from '../helpers/exporter';
import { promtoolCheckMetrics } from '../helpers/promtool';

const PROJECT = '4229d7a45436489f8c3dc2b1d35d4987';
const AK = 'ITACCESSKEY000000001';
const SK = 'it-secret-key-7d1f0c';
/** A second key pair: a wrong secret for it must not lock out AK (API Gateway locks a key after five bad signatures in a row, and one scrape makes five requests). */
const AK2 = 'ITACCESSKEY000000002';
const SK2 = 'it-secret-key-2b9e41';
const USER = { domain: 'acme', user: 'exporter', password: 'it-password-93ab', project: 'ap-southeast-1' };

interface Running {
  sim: CbrSimulator;
  server: RunningSimulator;
}

const track = closedAfterEach();

async function simulator(options: Partial<CbrSimulatorOptions> = {}): Promise<Running> {
  // The data clock stands still, so the counts the test reads from the simulator are the ones the exporter saw.
  const frozen = Date.now();
  const sim = createCbrSimulator({
    projectId: PROJECT,
    accessKeys: { [AK]: SK, [AK2]: SK2 },
    iamUsers: [USER],
    vaults: 2,
    resourcesPerVault: 3,
    backupsPerResource: 10,
    clock: () => frozen,
    ...options,
  });
  const server = await startSimulator(sim.app);
  track(server);
  return { sim, server };
}

async function exporter(yaml: string): Promise<RunningExporter> {
  return track(await startExporter(yaml));
}

function akskTarget(name: string, url: string, sk = SK, ak = AK): string {
  return `  - name: ${name}
    provider: cbr
    url: ${url}
    cbr:
      project_id: ${PROJECT}
      access_key: ${ak}
      secret_key: ${sk}
`;
}

function iamTarget(name: string, url: string, password = USER.password): string {
  return `  - name: ${name}
    provider: cbr
    url: ${url}
    cbr:
      project_id: ${PROJECT}
      iam:
        url: ${url}
        domain: ${USER.domain}
        user: ${USER.user}
        password: ${password}
        project: ${USER.project}
`;
}


function expectedCounts(sim: CbrSimulator, kind: 'backup' | 'restore'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of sim.tasks(kind)) {
    const state = CBR_TASK_STATES[t.status] ?? 'unknown';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return counts;
}

describe('exporter with the CBR simulator', () => {
  test('AK/SK: up, jobs per kind and state as the simulator has them, restore points per named vault, promtool-clean', async () => {
    const cbr = await simulator();
    const ex = await exporter(`targets:\n${akskTarget('cbr', cbr.server.url)}`);
    const { status, text } = await fetchText(`${ex.url}/metrics`);
    expect(status).toBe(200);
    expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    for (const kind of ['backup', 'restore'] as const) {
      const expected = expectedCounts(cbr.sim, kind);
      const jobs = series(text, 'backup_jobs', { target: 'cbr', kind });
      expect(jobs).toHaveLength(7);
      for (const [key, value] of jobs) {
        const state = /state="(\w+)"/.exec(key)?.[1] as string;
        expect([kind, state, value]).toEqual([kind, state, expected.get(state) ?? 0]);
      }
    }
    const vaultNames = cbr.sim.vaults.map((v) => v.name);
    const points = series(text, 'backup_restore_points', { target: 'cbr' });
    expect(points.length).toBeGreaterThan(0);
    for (const [key] of points) expect(vaultNames).toContain(/vault="([^"]+)"/.exec(key)?.[1]);
    expect(points.reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThan(0);
    expect(series(text, 'backup_last_restore_point_timestamp_seconds', { target: 'cbr' }).length).toBe(6);
    expect(series(text, 'backup_job_state', { target: 'cbr' }).length).toBeGreaterThan(0);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('pages through lists longer than one page (limit=1000, offset) and counts every task once', async () => {
    const cbr = await simulator({ vaults: 3, resourcesPerVault: 20, backupsPerResource: 40, restores: 1500, restoreIntervalMs: 60_000 });
    const ex = await exporter(`targets:\n${akskTarget('cbr', cbr.server.url)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=cbr`);
    expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    const total = (kind: string) => series(text, 'backup_jobs', { kind }).reduce((sum, [, v]) => sum + v, 0);
    expect(total('backup')).toBe(2400);
    expect(total('restore')).toBe(1500);
    const byPath = cbr.sim.stats.byPath;
    // backup tasks: 1000 + 1000 + 400; restore tasks: 1000 + 500; backups: ~2280 in 3 pages.
    expect(byPath.get(`/v3/${PROJECT}/operation-logs`)).toBe(3 + 2);
    expect(byPath.get(`/v3/${PROJECT}/backups`)).toBe(3);
    const points = series(text, 'backup_restore_points').reduce((sum, [, v]) => sum + v, 0);
    expect(points).toBeGreaterThan(2000);
    expect(points).toBeLessThan(2400);
  });

  test('IAM: one token serves many scrapes; an expired token is refreshed once and no scrape fails', async () => {
    const cbr = await simulator();
    const ex = await exporter(`targets:\n${iamTarget('cbr', cbr.server.url)}`);
    for (let i = 0; i < 3; i++) {
      const { text } = await fetchText(`${ex.url}/probe?target=cbr`);
      expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    }
    expect(cbr.sim.tokensIssued()).toBe(1);
    cbr.sim.expireTokens();
    const { text } = await fetchText(`${ex.url}/probe?target=cbr`);
    expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    expect(cbr.sim.tokensIssued()).toBe(2);
    cbr.sim.revokeTokens();
    expect(samples((await fetchText(`${ex.url}/probe?target=cbr`)).text).get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    expect(cbr.sim.tokensIssued()).toBe(3);
    const metrics = (await fetchText(`${ex.url}/metrics`)).text;
    expect(series(metrics, 'backup_exporter_collect_errors_total', { target: 'cbr' }).every(([, v]) => v === 0)).toBe(true);
    expect(promtoolCheckMetrics(metrics)).toBe('');
  });

  test('wrong AK/SK gives backup_up 0 with reason auth; the other target is served; no secret in logs or metrics', async () => {
    const cbr = await simulator();
    const ex = await exporter(`targets:\n${akskTarget('bad', cbr.server.url, 'wrong-secret-key', AK2)}${akskTarget('good', cbr.server.url)}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    const s = samples(text);
    expect(s.get('backup_up{target="bad",provider="cbr"}')).toBe(0);
    expect(s.get('backup_up{target="good",provider="cbr"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="bad",provider="cbr",reason="auth"}')).toBe(1);
    const logs = ex.logs.join('\n');
    expect(ex.logs.some((l) => l.includes('"reason":"auth"') && l.includes('"target":"bad"') && l.includes('verify aksk signature fail'))).toBe(true);
    for (const secret of ['wrong-secret-key', SK, SK2]) {
      expect(logs).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
  });

  test('a wrong IAM password gives backup_up 0 with reason auth, and the password is not logged', async () => {
    const cbr = await simulator();
    const ex = await exporter(`targets:\n${iamTarget('cbr', cbr.server.url, 'not-the-password')}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(0);
    expect(samples(text).get('backup_exporter_collect_errors_total{target="cbr",provider="cbr",reason="auth"}')).toBe(1);
    expect(ex.logs.join('\n')).not.toContain('not-the-password');
    expect(cbr.sim.tokensIssued()).toBe(0);
  });

  test('the lookback window is sent as start_time and bounds the jobs', async () => {
    const cbr = await simulator({ vaults: 1, resourcesPerVault: 1, backupsPerResource: 48, backupIntervalMs: 3_600_000, restores: 0 });
    const ex = await exporter(`global: { lookback: 12h }\ntargets:\n${akskTarget('cbr', cbr.server.url)}`);
    const { text } = await fetchText(`${ex.url}/probe?target=cbr`);
    const total = series(text, 'backup_jobs', { kind: 'backup' }).reduce((sum, [, v]) => sum + v, 0);
    expect(total).toBeGreaterThanOrEqual(12);
    expect(total).toBeLessThanOrEqual(13);
  });

  test('vaults that no task in the lookback names are named from the vault list, with no checkpoint read', async () => {
    const cbr = await simulator({ backupIntervalMs: 3_600_000, restores: 0 });
    const ex = await exporter(`global: { lookback: 1m }\ntargets:\n${akskTarget('cbr', cbr.server.url)}`);
    const first = (await fetchText(`${ex.url}/probe?target=cbr`)).text;
    const vaults = new Set(series(first, 'backup_restore_points').map(([key]) => /vault="([^"]+)"/.exec(key)?.[1]));
    expect([...vaults].sort()).toEqual(cbr.sim.vaults.map((v) => v.name).sort());
    expect([...cbr.sim.stats.byPath.keys()].filter((path) => path.includes('/checkpoints/'))).toEqual([]);
  });

  test.each(['aksk', 'iam'] as const)('%s: storage per vault (MB and GB), a nearly full and a frozen vault, protection and schedule per resource', async (mode) => {
    const cbr = await simulator({ vaults: 5, resourcesPerVault: 2, backupsPerResource: 4 });
    const target = mode === 'aksk' ? akskTarget('cbr', cbr.server.url) : iamTarget('cbr', cbr.server.url);
    const ex = await exporter(`targets:\n${target}`);
    const { text } = await fetchText(`${ex.url}/probe?target=cbr`);
    const s = samples(text);
    expect(s.get('backup_up{target="cbr",provider="cbr"}')).toBe(1);
    const [plain, full, frozen, unscheduled, paused] = cbr.sim.vaults;
    for (const vault of cbr.sim.vaults) {
      expect(s.get(`backup_storage_used_bytes{target="cbr",provider="cbr",vault="${vault.name}"}`)).toBe(vault.usedMb * 2 ** 20);
      expect(s.get(`backup_storage_capacity_bytes{target="cbr",provider="cbr",vault="${vault.name}"}`)).toBe(vault.sizeGb * 2 ** 30);
    }
    const ratio = (vault: typeof full) => (s.get(`backup_storage_used_bytes{target="cbr",provider="cbr",vault="${vault!.name}"}`) ?? 0) / (s.get(`backup_storage_capacity_bytes{target="cbr",provider="cbr",vault="${vault!.name}"}`) ?? 1);
    expect(ratio(full)).toBeGreaterThan(0.95);
    expect(ratio(full)).toBeLessThan(1);
    expect(ratio(plain)).toBeLessThan(0.85);
    expect(series(text, 'backup_product_alerts', { target: 'cbr' })).toEqual([[`backup_product_alerts{target="cbr",provider="cbr",resource="${frozen!.name}",type="vault_frozen"}`, 1]]);
    const protection = (res: { name: string }) => series(text, 'backup_resource_protected', { resource: res.name }).map(([key, value]) => [/status="([^"]+)"/.exec(key)?.[1], value]);
    for (const res of plain!.resources) expect(protection(res)).toEqual([['available', 1]]);
    expect(protection(full!.resources[0]!)).toEqual([['available', 1]]);
    expect(protection(full!.resources[1]!)).toEqual([['error', 0]]);
    for (const res of unscheduled!.resources) expect(protection(res)).toEqual([['no_policy', 0]]);
    for (const res of paused!.resources) expect(protection(res)).toEqual([['policy_disabled', 0]]);
    // The simulator's policies run hourly; vaults without an enabled backup policy have no interval.
    const intervals = series(text, 'backup_resource_schedule_interval_seconds', { target: 'cbr' });
    expect(intervals).toHaveLength(6);
    expect(intervals.every(([, v]) => v === 3600)).toBe(true);
    expect(series(text, 'backup_resource_schedule_interval_seconds', { resource: unscheduled!.resources[0]!.name })).toEqual([]);
    expect(cbr.sim.stats.byPath.get(`/v3/${PROJECT}/vaults`)).toBe(1);
    expect(cbr.sim.stats.byPath.get(`/v3/${PROJECT}/policies`)).toBe(1);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('the vault and policy lists are refused without a valid signature, like the others', async () => {
    const cbr = await simulator();
    for (const path of ['vaults', 'policies']) {
      const response = await fetch(`${cbr.server.url}/v3/${PROJECT}/${path}`);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error_code: string }).error_code).toBe('APIGW.0301');
    }
  });

  test('a 5xx from CBR fails the target with reason http_5xx (after the client\'s retries)', async () => {
    const cbr = await simulator({ faults: { errorStatus: 500 } });
    const ex = await exporter(`targets:\n${akskTarget('cbr', cbr.server.url)}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    expect(samples(text).get('backup_up{target="cbr",provider="cbr"}')).toBe(0);
    expect(samples(text).get('backup_exporter_collect_errors_total{target="cbr",provider="cbr",reason="http_5xx"}')).toBe(1);
  });
});

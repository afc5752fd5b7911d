/**
 * The exporter against the AhsayCBS simulator over real HTTP on 127.0.0.1: counts per state, Hong
 * Kong times as Unix timestamps, sizes, the day cache (a warm scrape reads only today), error
 * answers with HTTP 200, and promtool-clean output.
 */
import pino from 'pino';
import type { TargetConfig } from '../../src/config/schema';
import type { RequestOptions } from '../../src/http/client';
import { AHSAY_BACKUP_STATES, AHSAY_RESTORE_STATES, MAX_SUMMARIES_PER_COLLECTION, ahsay } from '../../src/providers/ahsay';
import type { CollectContext } from '../../src/providers/types';
import { createAhsaySimulator } from '../../simulators/ahsay';
import type { AhsaySimulator, AhsaySimulatorOptions } from '../../simulators/ahsay';
import { startSimulator } from '../../simulators/framework';
import type { RunningSimulator } from '../../simulators/framework';
import { bind, collectWith } from '../helpers/collect';
import { closedAfterEach, fetchText, samples, series, startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { promtoolCheckMetrics } from '../helpers/promtool';

const SYS_USER = 'it-api';
const SYS_PWD = 'it-api-secret-7d41c0';
const ZONE = 'Asia/Hong_Kong';

interface Running {
  sim: AhsaySimulator;
  server: RunningSimulator;
}

const track = closedAfterEach();

/** A simulator whose clock stands still at the moment the test starts, so that expectations cannot drift. */
async function simulator(options: Partial<AhsaySimulatorOptions> = {}): Promise<Running> {
  const frozen = Date.now();
  const sim = createAhsaySimulator({ sysUser: SYS_USER, sysPwd: SYS_PWD, users: 5, timezone: ZONE, clock: () => frozen, ...options });
  const server = await startSimulator(sim.app);
  track(server);
  return { sim, server };
}

async function exporter(yaml: string): Promise<RunningExporter> {
  return track(await startExporter(yaml));
}

function target(name: string, url: string, block = '', password = SYS_PWD, extra = ''): string {
  return `  - name: ${name}
    provider: ahsay
    url: ${url}
${extra}    ahsay:
      username: ${SYS_USER}
      password: ${password}
      timezone: ${ZONE}
${block}`;
}


/** Today and yesterday in Hong Kong. */
function hongKongDates(): [string, string] {
  const today = new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE }).format(new Date());
  return [today, new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10)];
}

/** Whether yesterday in Hong Kong has been over for less than the hour before a day is remembered as final. */
const withinFinalDayMargin = () => Number(new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', hourCycle: 'h23' }).format(new Date())) < 1;

/** Hong Kong has been UTC+8 all year since 1979: the expected Unix time, worked out without the provider's code. */
const hongKongSeconds = (text: string) => Date.parse(`${text.replace(' ', 'T')}+08:00`) / 1000;

function expectedCounts(sim: AhsaySimulator, logins: string[], dates: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (kind: string, state: string) => counts.set(`${kind}/${state}`, (counts.get(`${kind}/${state}`) ?? 0) + 1);
  for (const login of logins) {
    for (const date of dates) {
      for (const r of sim.backupRecords(login, date)) add('backup', AHSAY_BACKUP_STATES[r.BackupJobStatus as string] ?? 'unknown');
      for (const r of sim.restoreRecords(login, date)) add('restore', AHSAY_RESTORE_STATES[(r.RestoreJobStatus ?? r.Status) as string] ?? 'unknown');
    }
  }
  return counts;
}

describe('exporter with the AhsayCBS simulator', () => {
  test('users from ListUsers; counts per kind and state match the simulator; every state present; promtool-clean', async () => {
    const cbs = await simulator({ restoreChance: 0.6 });
    const ex = await exporter(`targets:\n${target('cbs', cbs.server.url)}`);
    const { status, text } = await fetchText(`${ex.url}/metrics`);
    expect(status).toBe(200);
    const s = samples(text);
    expect(s.get('backup_up{target="cbs",provider="ahsay"}')).toBe(1);
    const logins = Array.from({ length: 5 }, (_, i) => cbs.sim.user(i).login);
    const expected = expectedCounts(cbs.sim, logins, hongKongDates());
    const jobs = series(text, 'backup_jobs', { target: 'cbs' });
    expect(jobs).toHaveLength(14);
    for (const [key, value] of jobs) {
      const kind = /kind="(\w+)"/.exec(key)?.[1];
      const state = /state="(\w+)"/.exec(key)?.[1];
      expect([kind, state, value]).toEqual([kind, state, expected.get(`${kind}/${state}`) ?? 0]);
    }
    expect(expected.get('backup/succeeded')).toBeGreaterThan(0);
    // ListUsers, then users x kinds x days, and each user's inventory (backup sets, run list,
    // storage): every newest run is in the window, so no report summary is asked for.
    expect(s.get('backup_collect_upstream_requests{target="cbs",provider="ahsay"}')).toBe(1 + 5 * 2 * 2 + 5 * 3);
    expect(series(text, 'backup_last_success_timestamp_seconds', { target: 'cbs', kind: 'backup' }).length).toBeGreaterThan(0);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('times written in Asia/Hong_Kong come out as the right Unix timestamps; sizes as numbers and strings come out as bytes', async () => {
    const cbs = await simulator({ users: 1, badTimeRate: 0, sizeAsStringRate: 0.5, restoreChance: 1 });
    const ex = await exporter(`targets:\n${target('cbs', cbs.server.url, '      users: [obm]\n', SYS_PWD, '    max_jobs: 10000\n')}`);
    const { text } = await fetchText(`${ex.url}/probe?target=cbs`);
    let checked = 0;
    let stringSizes = 0;
    for (const date of hongKongDates()) {
      for (const [kind, records] of [
        ['backup', cbs.sim.backupRecords('obm', date)],
        ['restore', cbs.sim.restoreRecords('obm', date)],
      ] as const) {
        for (const r of records) {
          const labels = { kind, job_id: `obm/${String(r.BackupSetID)}/${String(r.DestinationID)}/${String(r.ID)}` };
          expect(series(text, 'backup_job_start_timestamp_seconds', labels).map(([, v]) => v)).toEqual([hongKongSeconds(String(r.StartTime))]);
          const end = series(text, 'backup_job_end_timestamp_seconds', labels).map(([, v]) => v);
          expect(end).toEqual(r.EndTime ? [hongKongSeconds(String(r.EndTime))] : []);
          const size = r.UploadSize ?? r.RestoreSize;
          if (typeof size === 'string') stringSizes++;
          expect(series(text, 'backup_job_size_bytes', labels).map(([, v]) => v)).toEqual([Number(size)]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
    expect(stringSizes).toBeGreaterThan(0);
  });

  test('a warm scrape re-reads only today and no inventory: users x 2 requests with days 2 (and ListUsers once more without users)', async () => {
    const cbs = await simulator({ users: 4 });
    const logins = Array.from({ length: 4 }, (_, i) => cbs.sim.user(i).login);
    const ex = await exporter(`targets:\n${target('listed', cbs.server.url, `      users: [${logins.join(', ')}]\n      days: 2\n`)}${target('all', cbs.server.url)}`);
    const [today] = hongKongDates();
    const cold = await fetchText(`${ex.url}/probe?target=listed`);
    // The full user list (status, quotas) even with users configured, the day lists, each user's inventory.
    expect(cbs.sim.stats.requests).toBe(1 + 4 * 2 * 2 + 4 * 3);
    expect(samples(cold.text).get('backup_collect_upstream_requests{target="listed",provider="ahsay"}')).toBe(29);
    cbs.sim.reset();
    const warm = await fetchText(`${ex.url}/probe?target=listed`);
    if (hongKongDates()[0] !== today) return; // midnight in Hong Kong between the scrapes: a new day to read
    if (withinFinalDayMargin()) return; // yesterday is read again until it has been over for an hour
    expect(cbs.sim.stats.requests).toBe(4 * 2);
    expect([...cbs.sim.requestsByDate.keys()]).toEqual([today]);
    expect(samples(warm.text).get('backup_collect_upstream_requests{target="listed",provider="ahsay"}')).toBe(8);
    // The same jobs are reported from memory.
    expect(series(warm.text, 'backup_jobs', { target: 'listed' })).toEqual(series(cold.text, 'backup_jobs', { target: 'listed' }));

    await fetchText(`${ex.url}/probe?target=all`);
    cbs.sim.reset();
    await fetchText(`${ex.url}/probe?target=all`);
    if (hongKongDates()[0] !== today) return;
    expect(cbs.sim.stats.requests).toBe(1 + 4 * 2);
  });

  test('wrong credentials: backup_up 0 with reason auth, the product message in the log, the password nowhere', async () => {
    const cbs = await simulator();
    const ex = await exporter(`targets:\n${target('bad', cbs.server.url, '', 'wrong-password-3c9e')}${target('good', cbs.server.url)}`);
    const { text } = await fetchText(`${ex.url}/metrics`);
    const s = samples(text);
    expect(s.get('backup_up{target="bad",provider="ahsay"}')).toBe(0);
    expect(s.get('backup_up{target="good",provider="ahsay"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="bad",provider="ahsay",reason="auth"}')).toBe(1);
    const logs = ex.logs.join('\n');
    expect(ex.logs.some((l) => l.includes('"reason":"auth"') && l.includes('"target":"bad"') && l.includes('Incorrect system username/password'))).toBe(true);
    const config = await fetchText(`${ex.url}/config`);
    for (const shown of [text, logs, config.text]) {
      expect(shown).not.toContain('wrong-password-3c9e');
      expect(shown).not.toContain(SYS_PWD);
    }
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  test('other error answers are invalid_response; a broken answer is parse; either way one target only', async () => {
    const cbs = await simulator();
    const broken = await simulator();
    broken.sim.faults.malformedJson = true;
    const ex = await exporter(
      `targets:\n${target('ghost', cbs.server.url, '      users: [obm, nosuchuser]\n')}${target('broken', broken.server.url)}${target('fine', cbs.server.url)}`,
    );
    const s = samples((await fetchText(`${ex.url}/metrics`)).text);
    expect(s.get('backup_exporter_collect_errors_total{target="ghost",provider="ahsay",reason="invalid_response"}')).toBe(1);
    expect(s.get('backup_exporter_collect_errors_total{target="broken",provider="ahsay",reason="parse"}')).toBe(1);
    expect(s.get('backup_up{target="fine",provider="ahsay"}')).toBe(1);
    expect(ex.logs.some((l) => l.includes('"target":"ghost"') && l.includes("User 'nosuchuser' does not exist"))).toBe(true);
  });

  test('a full user list that fails (HTTP 500) does not take the target down: jobs served, one log line, not asked again within the interval', async () => {
    const cbs = await simulator({ users: 3, badTimeRate: 0 });
    cbs.sim.productFaults.fullUserListStatus = 500;
    const logins = Array.from({ length: 3 }, (_, i) => cbs.sim.user(i).login);
    const ex = await exporter(`targets:\n${target('all', cbs.server.url)}${target('listed', cbs.server.url, `      users: [${logins.join(', ')}]\n`)}`);
    const listUsers = () => cbs.sim.stats.byPath.get('/obs/api/json/2/ListUsers.do') ?? 0;
    const fullListProblems = () => ex.logs.filter((l) => l.includes('"level":40') && l.includes('2/ListUsers.do (full user records) failed (http_5xx, HTTP 500)'));
    for (const name of ['all', 'listed']) {
      const before = listUsers();
      const { text } = await fetchText(`${ex.url}/probe?target=${name}`);
      expect(samples(text).get(`backup_up{target="${name}",provider="ahsay"}`)).toBe(1);
      // The failed full list, and for "all" the light list of login names that finds the users.
      expect(listUsers() - before).toBe(name === 'all' ? 2 : 1);
      expect(series(text, 'backup_jobs', { target: name }).reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThan(0);
      expect(series(text, 'backup_resource_protected', { target: name }).length).toBeGreaterThan(0);
      // Quotas come with the full list only: none now, the storage used still there.
      expect(series(text, 'backup_storage_capacity_bytes', { target: name })).toEqual([]);
      expect(series(text, 'backup_storage_used_bytes', { target: name })).toHaveLength(3);
      expect(promtoolCheckMetrics(text)).toBe('');
    }
    expect(fullListProblems()).toHaveLength(2); // one per target
    for (const name of ['all', 'listed']) {
      const before = listUsers();
      const { text } = await fetchText(`${ex.url}/probe?target=${name}`);
      expect(samples(text).get(`backup_up{target="${name}",provider="ahsay"}`)).toBe(1);
      expect(listUsers() - before).toBe(name === 'all' ? 1 : 0);
    }
    expect(fullListProblems()).toHaveLength(2);
  });

  test('an unparsable time (11;34:15) leaves that field out and is logged; the target stays up', async () => {
    const cbs = await simulator({ users: 2, badTimeRate: 1 });
    const ex = await exporter(`targets:\n${target('typos', cbs.server.url, '', SYS_PWD, '    max_jobs: 10000\n')}`);
    const { text } = await fetchText(`${ex.url}/probe?target=typos`);
    expect(samples(text).get('backup_up{target="typos",provider="ahsay"}')).toBe(1);
    const jobs = series(text, 'backup_job_state', { target: 'typos' }).length;
    expect(jobs).toBeGreaterThan(0);
    expect(series(text, 'backup_job_start_timestamp_seconds', { target: 'typos' }).length).toBeLessThan(jobs);
    expect(ex.logs.some((l) => l.includes('AhsayCBS answer partly unusable') && l.includes(';'))).toBe(true);
  });
});

describe('AhsayCBS inventory against the simulator: protection, restore points, storage', () => {
  test('a stopped schedule, a switched-off one, a suspended user, users near their quota; the log stays quiet', async () => {
    const cbs = await simulator({ users: 6, inventoryCases: true, badTimeRate: 0 });
    const ex = await exporter(`targets:\n${target('cbs', cbs.server.url, '      days: 2\n')}`);
    const { text } = await fetchText(`${ex.url}/probe?target=cbs`);
    expect(samples(text).get('backup_up{target="cbs",provider="ahsay"}')).toBe(1);
    const user = (i: number) => cbs.sim.user(i);
    const protectedOf = (resource: string) => series(text, 'backup_resource_protected', { target: 'cbs', resource });
    // finance's first set stopped running three days ago, but its schedule is still on: protected,
    // and only its restore point's age can tell.
    const stopped = `${user(1).login}/${user(1).backupSets[0]!.name}`;
    expect(protectedOf(stopped)).toEqual([[expect.stringContaining('status="SCHEDULED"'), 1]]);
    const disabled = `${user(2).login}/${user(2).backupSets[0]!.name}`;
    expect(protectedOf(disabled)).toEqual([[expect.stringContaining('status="NO_SCHEDULE"'), 0]]);
    for (const set of user(3).backupSets) expect(protectedOf(`${user(3).login}/${set.name}`)).toEqual([[expect.stringContaining('status="SUSPENDED"'), 0]]);
    expect(protectedOf(`${user(0).login}/${user(0).backupSets[0]!.name}`)).toEqual([[expect.stringContaining('status="SCHEDULED"'), 1]]);
    // Every set is a resource, with the schedule's period (the simulator's default: every 4 hours).
    const sets = Array.from({ length: 6 }, (_, i) => user(i).backupSets.length).reduce((a, b) => a + b, 0);
    expect(series(text, 'backup_resource_protected', { target: 'cbs' })).toHaveLength(sets);
    expect(new Set(series(text, 'backup_resource_schedule_interval_seconds', { target: 'cbs' }).map(([, v]) => v))).toEqual(new Set([4 * 3600]));

    // The stopped set has no job in the 2-day window, yet its restore point is there: the newest
    // run that left one, found from ListBackupJobs and report summaries.
    const lastRun = newestRestorePoint(cbs.sim, user(1).login, user(1).backupSets[0]!.id, 7);
    expect(lastRun).toBeDefined();
    expect(series(text, 'backup_last_restore_point_timestamp_seconds', { target: 'cbs', vault: user(1).login, resource: stopped }).map(([, v]) => v)).toEqual([hongKongSeconds(lastRun!)]);
    expect(Date.now() / 1000 - hongKongSeconds(lastRun!)).toBeGreaterThan(3 * 86_400);
    expect(series(text, 'backup_last_success_timestamp_seconds', { target: 'cbs', resource: stopped })).toEqual([]);

    // Storage per user (vault = login name): used of capacity, legal at 97 %, support at 88 %.
    const storage = (metric: string, vault: string) => series(text, metric, { target: 'cbs', vault }).map(([, v]) => v)[0]!;
    const share = (vault: string) => storage('backup_storage_used_bytes', vault) / storage('backup_storage_capacity_bytes', vault);
    expect(share(user(4).login)).toBeCloseTo(0.97, 2);
    expect(share(user(5).login)).toBeCloseTo(0.88, 2);
    expect(share(user(0).login)).toBeLessThan(0.75);
    expect(storage('backup_storage_capacity_bytes', user(0).login)).toBe(user(0).quotaBytes);
    expect(promtoolCheckMetrics(text)).toBe('');
    expect(ex.logs.filter((l) => l.includes('"level":40'))).toEqual([]);
  });
});

/** The start (as written) of the newest run of a set that left a restore point, over the last `days` days. */
function newestRestorePoint(sim: AhsaySimulator, login: string, setId: string, days: number, now = Date.now()): string | undefined {
  const today = new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE }).format(new Date(now));
  for (let back = 0; back <= days; back++) {
    const date = new Date(Date.parse(`${today}T00:00:00Z`) - back * 86_400_000).toISOString().slice(0, 10);
    const runs = sim
      .backupRecords(login, date)
      .filter((r) => r.BackupSetID === setId && ['BS_STOP_SUCCESS', 'BS_STOP_SUCCESS_WITH_WARNING'].includes(String(r.BackupJobStatus)))
      .map((r) => String(r.ID));
    if (runs.length > 0) return runs.sort().reverse()[0]!.replace(/^(\d{4}-\d{2}-\d{2})-(\d{2})-(\d{2})-(\d{2})$/, '$1 $2:$3:$4');
  }
  return undefined;
}

describe('AhsayCBS: a daily set that stops running keeps its restore point', () => {
  test('scrapes every 6 hours for 3.5 days across midnights: the restore point series never goes, and grows older than twice the interval', async () => {
    const start = Date.UTC(2024, 5, 26, 4, 0, 0); // 12:00 in Hong Kong
    let now = start;
    const sim = createAhsaySimulator({ sysUser: SYS_USER, sysPwd: SYS_PWD, users: 2, timezone: ZONE, clock: () => now, inventoryCases: true, stoppedAgoMs: 0, backupIntervalMs: 86_400_000, backupDurationMs: 30 * 60_000, badTimeRate: 0 });
    const server = track(await startSimulator(sim.app));
    const instance = bind(ahsay, providerTarget(server.url), { log: pino({ level: 'silent' }), client: () => undefined as never });
    const finance = sim.user(1);
    const stopped = finance.backupSets[0]!;
    const resource = `${finance.login}/${stopped.name}`;
    // The last run may still be going at the start: its outcome is known once it ended.
    now = start + 86_400_000;
    const expected = newestRestorePoint(sim, finance.login, stopped.id, 7, now);
    now = start;
    expect(expected).toBeDefined();
    let lastSuccessSeenUntil = 0;
    for (; now <= start + 3.5 * 86_400_000; now += 6 * 3_600_000) {
      const found = await collectWith(instance, realContext(server.url, now / 1000));
      const points = found.restorePoints.filter((p) => p.resource === resource);
      expect(points).toHaveLength(1);
      if (now >= start + 3 * 3_600_000) expect(points.map((p) => [p.vault, p.state, p.createdAt])).toEqual([[finance.login, 'available', hongKongSeconds(expected!)]]);
      if (found.jobs.some((j) => j.kind === 'backup' && j.resource === resource && j.state === 'succeeded')) lastSuccessSeenUntil = now;
      expect(found.resources.filter((r) => r.resource === resource)).toEqual([{ resource, protected: true, status: 'SCHEDULED', scheduleIntervalSeconds: 86_400 }]);
    }
    // The job window (2 calendar days) lost the set's jobs long before: that was the defect.
    expect(lastSuccessSeenUntil).toBeLessThan(start + 2 * 86_400_000);
    expect(now / 1000 - hongKongSeconds(expected!)).toBeGreaterThan(2 * 86_400);
  });
});

describe('AhsayCBS: report summaries without a status', () => {
  // 00:05 in Hong Kong: daily sets have not run yet today, so with `days: 1` every set's newest
  // runs are outside the job window and only report summaries can tell their status.
  const start = Date.UTC(2024, 5, 26, 16, 5);
  const summaries = (sim: AhsaySimulator) => sim.stats.byPath.get('/obs/api/json/GetBackupJobReportSummary.do') ?? 0;

  async function setUp(users: number) {
    let now = start;
    const sim = createAhsaySimulator({ sysUser: SYS_USER, sysPwd: SYS_PWD, users, timezone: ZONE, clock: () => now, backupIntervalMs: 86_400_000, badTimeRate: 0 });
    sim.productFaults.summaryWithoutStatus = true;
    const server = track(await startSimulator(sim.app));
    const instance = bind(ahsay, providerTarget(server.url, { days: 1 }), { log: pino({ level: 'silent' }), client: () => undefined as never });
    const logs: string[] = [];
    const scrape = async (at: number) => {
      now = at;
      return collectWith(instance, { ...realContext(server.url, at / 1000), log: pino({ level: 'debug' }, { write: (line: string) => logs.push(line) }) });
    };
    return { sim, scrape, logs };
  }

  test('each run is asked for once until the next inventory read, and named once per set', async () => {
    const { sim, scrape, logs } = await setUp(3);
    // The runs of each set over the simulator's history (7 days before today; none yet today).
    const runs = new Map<string, number>();
    for (let back = 0; back <= 7; back++) {
      const date = new Date(Date.UTC(2024, 5, 27 - back)).toISOString().slice(0, 10);
      for (let u = 0; u < 3; u++) for (const r of sim.backupRecords(sim.user(u).login, date)) runs.set(String(r.BackupSetID), (runs.get(String(r.BackupSetID)) ?? 0) + 1);
    }
    const counts = [...runs.values()];
    expect(counts.length).toBeGreaterThan(0);
    const added: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = summaries(sim);
      await scrape(start + i * 60_000);
      added.push(summaries(sim) - before);
    }
    // 3 per set and scrape while the walks go on, each run once, then none.
    expect(added[0]).toBe(counts.reduce((sum, n) => sum + Math.min(n, 3), 0));
    expect(added.reduce((a, b) => a + b, 0)).toBe(counts.reduce((a, b) => a + b, 0));
    expect(added.slice(-2)).toEqual([0, 0]);
    expect(logs.filter((l) => l.includes('a report without BackupJobStatus'))).toHaveLength(runs.size);
    // The next inventory read (after inventory_minutes, 60 by default, and its spread) may ask again.
    const before = summaries(sim);
    await scrape(start + 2 * 3_600_000);
    expect(summaries(sim) - before).toBe(added[0]);
  });

  test('report summaries are bounded per collection in all, not only per set', async () => {
    const { sim, scrape } = await setUp(60);
    const sets = Array.from({ length: 60 }, (_, i) => sim.user(i).backupSets.length).reduce((a, b) => a + b, 0);
    expect(3 * sets).toBeGreaterThan(MAX_SUMMARIES_PER_COLLECTION);
    await scrape(start);
    expect(summaries(sim)).toBe(MAX_SUMMARIES_PER_COLLECTION);
    await scrape(start + 60_000);
    expect(summaries(sim)).toBe(2 * MAX_SUMMARIES_PER_COLLECTION);
  });
});

function providerTarget(url: string, block: Record<string, unknown> = {}): TargetConfig {
  return {
    name: 'clocked',
    provider: 'ahsay',
    url,
    timeout: 10_000,
    lookback: 7 * 86_400_000,
    max_jobs: 100,
    min_interval: 0,
    max_concurrency: 4,
    ahsay: { username: SYS_USER, password: SYS_PWD, timezone: ZONE, days: 2, inventory_minutes: 60, ...block },
  } as unknown as TargetConfig;
}

/** A collection context at `now` (Unix seconds) whose requests go to the simulator over HTTP. */
function realContext(baseUrl: string, now: number): Omit<CollectContext, 'report'> {
  return {
    now,
    lookbackStart: now - 7 * 86_400,
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    unknownStatus: () => undefined,
    http: {
      request: () => Promise.reject(new Error('not used')),
      json: async <T>(options: RequestOptions): Promise<T> => {
        const res = await fetch(`${baseUrl}${options.path}`, { method: options.method, headers: options.headers, body: options.body });
        return (await res.json()) as T;
      },
    },
  };
}

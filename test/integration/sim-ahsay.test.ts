/**
 * The AhsayCBS simulator over real HTTP on 127.0.0.1: authentication in the body, error answers,
 * POST only, ListUsers v2, job lists per user and day that move with the clock, quirks, faults,
 * fail-next and the demo.
 */
import { Agent, request } from 'undici';
import { AHSAY_BACKUP_STATES, AHSAY_RESTORE_STATES } from '../../src/providers/ahsay';
import { startSimulators } from '../../simulators/demo';
import {
  AHSAY_API_BASE,
  DEMO_AHSAY_SYS_PWD,
  DEMO_AHSAY_SYS_USER,
  DEMO_AHSAY_TIMEZONE,
  createAhsaySimulator,
  startDemo,
  type AhsaySimulator,
  type AhsaySimulatorOptions,
} from '../../simulators/ahsay';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';

const SYS_USER = 'test-api';
const SYS_PWD = 'test-api-password';
const HOUR = 3_600_000;
// 2024-06-26 12:00 in Hong Kong.
const T0 = Date.UTC(2024, 5, 26, 4, 0, 0);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

interface Harness {
  sim: AhsaySimulator;
  running: RunningSimulator;
  clock: { now: number };
  /** POST to an API call (name relative to /obs/api/json) with the test credentials added. */
  call(name: string, body?: Record<string, unknown>): Promise<Answer>;
  send(method: string, path: string, body?: string, contentType?: string): Promise<Answer>;
}

const harnesses: Harness[] = [];
const agent = new Agent({ connect: { timeout: 2_000 } });

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.running.close()));
});

afterAll(async () => {
  await agent.close();
});

async function harness(options: Partial<AhsaySimulatorOptions> = {}): Promise<Harness> {
  const clock = { now: T0 };
  const sim = createAhsaySimulator({ sysUser: SYS_USER, sysPwd: SYS_PWD, timezone: 'Asia/Hong_Kong', clock: () => clock.now, ...options });
  const running = await startSimulator(sim.app);
  const send = async (method: string, path: string, body?: string, contentType = 'application/json'): Promise<Answer> => {
    const res = await request(`${running.url}${path}`, {
      method: method as 'GET' | 'POST',
      headers: body === undefined ? {} : { 'content-type': contentType },
      body,
      dispatcher: agent,
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  };
  const h: Harness = {
    sim,
    running,
    clock,
    send,
    call: (name, body = {}) => send('POST', `${AHSAY_API_BASE}/${name}`, JSON.stringify({ SysUser: SYS_USER, SysPwd: SYS_PWD, ...body })),
  };
  harnesses.push(h);
  return h;
}

const hongKong = (text: string) => Date.parse(`${text.replace(' ', 'T')}+08:00`);

describe('AhsayCBS simulator: authentication and protocol', () => {
  test('a wrong password, a wrong user or none at all: HTTP 200 with the product error', async () => {
    const h = await harness();
    for (const body of [
      { SysUser: SYS_USER, SysPwd: 'nope', LoginName: 'obm', BackupDate: '2024-06-26' },
      { SysUser: 'someone', SysPwd: SYS_PWD },
      {},
    ]) {
      const answer = await h.send('POST', `${AHSAY_API_BASE}/ListBackupJobStatus.do`, JSON.stringify(body));
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ Status: 'Error', Message: 'Incorrect system username/password', ExptType: 'com.ahsay.obs.core.dbs.c' });
    }
    expect((await h.call('AuthSystemUser.do')).json).toEqual({ Status: 'OK' });
  });

  test('POST only: GET answers 405 with Allow: POST; an unknown call 404; both as Tomcat pages', async () => {
    const h = await harness();
    const get = await h.send('GET', `${AHSAY_API_BASE}/ListBackupJobStatus.do`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(get.headers['content-type']).toMatch(/^text\/html/);
    expect(get.text).toContain('HTTP method GET is not supported by this URL');
    const unknown = await h.call('ListEverything.do');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('HTTP Status 404');
  });

  test('the body is read as JSON whatever its content type, or as a form; anything else is a JSONException', async () => {
    const h = await harness();
    const body = { SysUser: SYS_USER, SysPwd: SYS_PWD, LoginName: 'obm', BackupDate: '2024-06-26' };
    const plain = await h.send('POST', `${AHSAY_API_BASE}/ListBackupJobStatus.do`, JSON.stringify(body), 'text/plain; charset=UTF-8');
    expect(plain.json.Status).toBe('OK');
    const form = await h.send('POST', `${AHSAY_API_BASE}/ListBackupJobStatus.do`, new URLSearchParams(body).toString(), 'application/x-www-form-urlencoded');
    expect(form.json).toEqual(plain.json);
    const junk = await h.send('POST', `${AHSAY_API_BASE}/ListBackupJobStatus.do`, '[1,2]');
    expect(junk.json).toMatchObject({ Status: 'Error', ExptType: 'org.json.JSONException' });
  });

  test('missing or bad fields and unknown users are product errors', async () => {
    const h = await harness();
    expect((await h.call('ListBackupJobStatus.do', { BackupDate: '2024-06-26' })).json).toEqual({
      Status: 'Error',
      Message: 'JSONObject["LoginName"] not found.',
      ExptType: 'org.json.JSONException',
    });
    expect((await h.call('ListRestoreJobStatus.do', { LoginName: 'obm', RestoreDate: '2024/06/26' })).json).toEqual({
      Status: 'Error',
      Message: 'Unparseable date: "2024/06/26"',
      ExptType: 'java.text.ParseException',
    });
    expect((await h.call('ListRestoreJobStatus.do', { LoginName: 'obm', RestoreDate: '2024-02-30' })).json.Status).toBe('Error');
    expect((await h.call('ListBackupJobStatus.do', { LoginName: 'nosuchuser', BackupDate: '2024-06-26' })).json).toEqual({
      Status: 'Error',
      Message: "User 'nosuchuser' does not exist",
      ExptType: 'org.json.JSONException',
    });
  });
});

describe('AhsayCBS simulator: users (2/ListUsers.do)', () => {
  test('every user in one answer under "User"; LoginNameOnly, ClientTypeOnly and searchStr', async () => {
    const h = await harness({ users: 20 });
    const full = await h.call('2/ListUsers.do');
    expect(full.json.Status).toBe('OK');
    expect(full.json.User).toHaveLength(20);
    expect(full.json.User[0]).toMatchObject({ LoginName: 'obm', ClientType: expect.stringMatching(/^(OBM|ACB)$/), QuotaList: [expect.objectContaining({ DestinationKey: 'OBS' })] });
    expect(new Set(full.json.User.map((u: { LoginName: string }) => u.LoginName)).size).toBe(20);
    const names = await h.call('2/ListUsers.do', { LoginNameOnly: true });
    expect(names.json.User.slice(0, 3)).toEqual([{ LoginName: 'obm' }, { LoginName: 'finance' }, { LoginName: 'sales' }]);
    const types = await h.call('2/ListUsers.do', { ClientTypeOnly: true });
    expect(Object.keys(types.json.User[0]).sort()).toEqual(['ClientType', 'ID', 'LoginName']);
    const search = await h.call('2/ListUsers.do', { LoginNameOnly: true, searchStr: 'finance' });
    expect(search.json.User).toEqual([{ LoginName: 'finance' }, { LoginName: 'finance-1' }, { LoginName: 'finance-2' }]);
  });

  test('2,000 users: all listed, each found by login name', async () => {
    const h = await harness({ users: 2000 });
    const names = await h.call('2/ListUsers.do', { LoginNameOnly: true });
    expect(names.json.User).toHaveLength(2000);
    const last = names.json.User[1999].LoginName as string;
    expect(h.sim.userByLogin(last)?.index).toBe(1999);
    const jobs = await h.call('ListBackupJobStatus.do', { LoginName: last, BackupDate: '2024-06-26' });
    expect(jobs.json.Status).toBe('OK');
    expect(h.sim.userByLogin('obm-250')).toBeUndefined();
  });
});

describe('AhsayCBS simulator: job lists', () => {
  test('backup records: the documented fields, times in the server zone on the asked day, ID = start time', async () => {
    const h = await harness({ users: 4, badTimeRate: 0 });
    for (let i = 0; i < 4; i++) {
      const login = h.sim.user(i).login;
      const answer = await h.call('ListBackupJobStatus.do', { LoginName: login, BackupDate: '2024-06-25' });
      expect(answer.json.Status).toBe('OK');
      const records = answer.json.Data as Array<Record<string, unknown>>;
      expect(records.length).toBeGreaterThan(0);
      for (const r of records) {
        expect(Object.keys(r)).toEqual(['ID', 'LoginName', 'Owner', 'UserId', 'StartTime', 'EndTime', 'BackupJobStatus', 'BackupSetID', 'BackupSetName', 'UploadSize', 'RunVersion', 'DestinationID']);
        expect(r.StartTime).toMatch(/^2024-06-25 \d{2}:\d{2}:\d{2}$/);
        expect(r.ID).toBe(String(r.StartTime).replace(/[ :]/g, '-'));
        expect(Object.keys(AHSAY_BACKUP_STATES)).toContain(r.BackupJobStatus);
        expect(r.BackupJobStatus).not.toBe('BS_STILL_RUNNING');
        expect(hongKong(String(r.EndTime))).toBeGreaterThanOrEqual(hongKong(String(r.StartTime)));
        expect(hongKong(String(r.EndTime))).toBeLessThan(hongKong('2024-06-26 00:00:00'));
        expect(r.LoginName).toBe(login);
      }
    }
  });

  test('jobs of today start, run and finish as the clock moves; past days stay as they were; future days are empty', async () => {
    const h = await harness({ users: 1, backupIntervalMs: HOUR, backupDurationMs: 20 * 60_000, badTimeRate: 0 });
    const list = async (date: string) => (await h.call('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: date })).json.Data as Array<Record<string, string>>;
    const yesterday = await list('2024-06-25');
    let running: Record<string, string> | undefined;
    for (let step = 0; step < 12 && !running; step++) {
      running = (await list('2024-06-26')).find((r) => r.BackupJobStatus === 'BS_STILL_RUNNING');
      if (!running) h.clock.now += 5 * 60_000;
    }
    expect(running).toBeDefined();
    expect(running!.EndTime).toBe('');
    const before = (await list('2024-06-26')).length;
    h.clock.now += 2 * HOUR;
    const today = await list('2024-06-26');
    const finished = today.find((r) => r.ID === running!.ID)!;
    expect(Object.keys(AHSAY_BACKUP_STATES)).toContain(finished.BackupJobStatus);
    expect(finished.BackupJobStatus).not.toBe('BS_STILL_RUNNING');
    expect(finished.EndTime).toMatch(/^2024-06-26 /);
    expect(today.length).toBeGreaterThan(before);
    h.clock.now += 36 * HOUR;
    expect(await list('2024-06-25')).toEqual(yesterday);
    expect(await list('2024-06-29')).toEqual([]);
  });

  test('restore records: the example shape (Status, UserId) and the reference shape (RestoreJobStatus, UserID), finished ones only', async () => {
    const h = await harness({ users: 6, restoreChance: 1, restoreIntervalMs: 2 * HOUR, badTimeRate: 0 });
    const shapes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const answer = await h.call('ListRestoreJobStatus.do', { LoginName: h.sim.user(i).login, RestoreDate: '2024-06-25' });
      for (const r of answer.json.Data as Array<Record<string, unknown>>) {
        const status = (r.RestoreJobStatus ?? r.Status) as string;
        expect(Object.keys(AHSAY_RESTORE_STATES)).toContain(status);
        shapes.add(r.RestoreJobStatus !== undefined ? `reference:${'UserID' in r}` : `example:${'UserId' in r}`);
      }
    }
    expect(shapes).toEqual(new Set(['reference:true', 'example:true']));
    const example = await harness({ restoreFieldStyle: 'example', restoreChance: 1, restoreIntervalMs: 2 * HOUR });
    const first = (await example.call('ListRestoreJobStatus.do', { LoginName: 'obm', RestoreDate: '2024-06-25' })).json.Data[0];
    expect(Object.keys(first)).toEqual(['Status', 'BackupSetName', 'LoginName', 'Owner', 'EndTime', 'UserId', 'RunVersion', 'StartTime', 'ID', 'BackupSetID', 'RestoreSize', 'DestinationID']);
  });

  test('quirks: sizes as strings and times such as 11;34:15, at the configured rates', async () => {
    const strings = await harness({ users: 1, sizeAsStringRate: 1, badTimeRate: 0 });
    const data = (await strings.call('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: '2024-06-25' })).json.Data as Array<Record<string, unknown>>;
    expect(data.every((r) => typeof r.UploadSize === 'string' && /^\d+$/.test(r.UploadSize))).toBe(true);
    const typos = await harness({ users: 1, sizeAsStringRate: 0, badTimeRate: 1 });
    const bad = (await typos.call('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: '2024-06-25' })).json.Data as Array<Record<string, unknown>>;
    expect(bad.every((r) => typeof r.UploadSize === 'number')).toBe(true);
    expect(bad.every((r) => /^\d{4}-\d{2}-\d{2} \d{2};\d{2}:\d{2}$/.test(String(r.StartTime)) || /;/.test(String(r.EndTime)))).toBe(true);
    const mixed = await harness({ users: 40 });
    let stringSizes = 0;
    let numberSizes = 0;
    for (let i = 0; i < 40; i++) {
      for (const r of (await mixed.call('ListBackupJobStatus.do', { LoginName: mixed.sim.user(i).login, BackupDate: '2024-06-25' })).json.Data) {
        if (typeof r.UploadSize === 'string') stringSizes++;
        else numberSizes++;
      }
    }
    expect(stringSizes).toBeGreaterThan(0);
    expect(numberSizes).toBeGreaterThan(stringSizes);
  });

  test('a day with a DST change (Berlin, 23 hours): every run starts and ends on that day', async () => {
    const h = await harness({ timezone: 'Europe/Berlin', users: 3, backupIntervalMs: HOUR, badTimeRate: 0, clock: () => Date.UTC(2024, 3, 2) });
    for (let i = 0; i < 3; i++) {
      const data = (await h.call('ListBackupJobStatus.do', { LoginName: h.sim.user(i).login, BackupDate: '2024-03-31' })).json.Data as Array<Record<string, string>>;
      expect(data.length).toBeGreaterThan(15);
      for (const r of data) {
        expect(r.StartTime.slice(0, 10)).toBe('2024-03-31');
        expect(r.EndTime.slice(0, 10)).toBe('2024-03-31');
        expect(r.StartTime.slice(11, 13)).not.toBe('02');
      }
    }
  });

  test('requests are counted per asked date; fail-next dooms the next backup', async () => {
    const h = await harness({ users: 2, backupIntervalMs: HOUR, badTimeRate: 0 });
    await h.call('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: '2024-06-26' });
    await h.call('ListRestoreJobStatus.do', { LoginName: 'obm', RestoreDate: '2024-06-25' });
    expect(Object.fromEntries(h.sim.requestsByDate)).toEqual({ '2024-06-26': 1, '2024-06-25': 1 });
    const failed = await h.send('POST', '/_sim/ahsay/fail-next', JSON.stringify({ login: 'finance' }));
    expect(failed.status).toBe(200);
    expect(failed.json).toMatchObject({ login: 'finance', startTime: expect.stringMatching(/^2024-06-26 /) });
    expect(hongKong(failed.json.startTime)).toBeGreaterThan(T0);
    h.clock.now = hongKong(failed.json.startTime) + 2 * HOUR;
    const data = (await h.call('ListBackupJobStatus.do', { LoginName: 'finance', BackupDate: '2024-06-26' })).json.Data as Array<Record<string, string>>;
    expect(data.find((r) => r.ID === failed.json.id)?.BackupJobStatus).toBe('BS_STOP_BY_SYSTEM_ERROR');
    expect((await h.send('POST', '/_sim/ahsay/fail-next', JSON.stringify({ login: 'nobody' }))).status).toBe(404);
    const info = await h.send('GET', '/_sim/ahsay/info');
    expect(info.json).toMatchObject({ users: 2, timezone: 'Asia/Hong_Kong', today: expect.stringMatching(/^2024-06-2\d$/) });
    await h.send('POST', '/_sim/reset');
    expect(h.sim.requestsByDate.size).toBe(0);
  });
});

describe('AhsayCBS simulator: faults', () => {
  test('latency, 5xx with the product envelope, malformed JSON, and the request count', async () => {
    const h = await harness({ users: 1 });
    h.sim.faults.latencyMs = 150;
    const began = Date.now();
    await h.call('AuthSystemUser.do');
    expect(Date.now() - began).toBeGreaterThanOrEqual(140);
    h.sim.faults.latencyMs = 0;
    h.sim.faults.errorStatus = 503;
    const unavailable = await h.call('AuthSystemUser.do');
    expect(unavailable.status).toBe(503);
    expect(unavailable.json).toMatchObject({ Status: 'Error', Message: 'Service Unavailable' });
    h.sim.faults.errorStatus = 0;
    h.sim.faults.malformedJson = true;
    const malformed = await h.call('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: '2024-06-25' });
    expect(malformed.status).toBe(200);
    expect(malformed.json).toBeUndefined();
    expect(h.sim.stats.requests).toBe(3);
    expect(h.sim.stats.byPath.get(`${AHSAY_API_BASE}/ListBackupJobStatus.do`)).toBe(1);
  });
});

describe('AhsayCBS demo', () => {
  test('startDemo: the demo credentials, Hong Kong time, eight users with jobs today', async () => {
    const running = await startDemo({ host: '127.0.0.1', port: 0 });
    try {
      const post = async (name: string, body: Record<string, unknown>) => {
        const res = await request(`${running.url}${AHSAY_API_BASE}/${name}`, {
          method: 'POST',
          body: JSON.stringify({ SysUser: DEMO_AHSAY_SYS_USER, SysPwd: DEMO_AHSAY_SYS_PWD, ...body }),
          dispatcher: agent,
        });
        return (await res.body.json()) as any;
      };
      const users = await post('2/ListUsers.do', { LoginNameOnly: true });
      expect(users.User).toHaveLength(8);
      expect(DEMO_AHSAY_TIMEZONE).toBe('Asia/Hong_Kong');
      const today = new Intl.DateTimeFormat('sv-SE', { timeZone: DEMO_AHSAY_TIMEZONE }).format(new Date());
      const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
      const jobs = await post('ListBackupJobStatus.do', { LoginName: 'obm', BackupDate: yesterday });
      expect(jobs.Data.length).toBeGreaterThan(40);
    } finally {
      await running.close();
    }
  });

  test('registered in DEMOS: startSimulators({ ahsay })', async () => {
    const demo = await startSimulators({ ahsay: { host: '127.0.0.1', port: 0 } });
    try {
      const res = await request(`${demo.urls.ahsay}${AHSAY_API_BASE}/AuthSystemUser.do`, {
        method: 'POST',
        body: JSON.stringify({ SysUser: DEMO_AHSAY_SYS_USER, SysPwd: DEMO_AHSAY_SYS_PWD }),
        dispatcher: agent,
      });
      expect(await res.body.json()).toEqual({ Status: 'OK' });
    } finally {
      await demo.close();
    }
  });
});

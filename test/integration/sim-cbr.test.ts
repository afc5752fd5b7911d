/**
 * The CBR simulator over real HTTP on 127.0.0.1: IAM tokens, AK/SK signatures checked the way API
 * Gateway checks them, paging and parameter errors, tasks and backups that move with the clock,
 * checkpoint details, faults and the demo.
 */
import { Agent, request } from 'undici';
import { akskAuth, formatSdkDate } from '../../src/http/huawei-signer';
import { parseCbrTime } from '../../src/providers/cbr';
import {
  createCbrSimulator,
  DEMO_CBR_ACCESS_KEY,
  DEMO_CBR_PROJECT_ID,
  DEMO_CBR_SECRET_KEY,
  startDemo,
  type CbrSimulator,
  type CbrSimulatorOptions,
} from '../../simulators/cbr';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';

const PROJECT = '4229d7a45436489f8c3dc2b1d35d4987';
const AK = 'TESTACCESSKEY0000001';
const SK = 'test-secret-key';
const USER = { domain: 'acme', user: 'exporter', password: 'p4ss-w0rd', project: 'ap-southeast-1' };
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

interface Harness {
  sim: CbrSimulator;
  running: RunningSimulator;
  clock: { now: number };
  authClock: { now: number };
  send(method: string, path: string, headers?: Record<string, string>, body?: string): Promise<Answer>;
  /** GET signed with AK/SK (signed at the auth clock's time). */
  signed(path: string, keys?: { ak: string; sk: string }): Promise<Answer>;
  token(user?: Partial<typeof USER>): Promise<Answer>;
}

const harnesses: Array<{ running: RunningSimulator; agent: Agent }> = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.running.close();
    await h.agent.destroy();
  }
});

async function harness(options: Partial<CbrSimulatorOptions> = {}): Promise<Harness> {
  const clock = { now: T0 };
  const authClock = { now: Date.now() };
  const sim = createCbrSimulator({
    projectId: PROJECT,
    accessKeys: { [AK]: SK },
    iamUsers: [USER],
    clock: () => clock.now,
    authClock: () => authClock.now,
    ...options,
  });
  const running = await startSimulator(sim.app);
  const agent = new Agent({ connect: { timeout: 2000 } });
  harnesses.push({ running, agent });
  const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> => {
    const res = await request(`${running.url}${path}`, { method: method as 'GET', headers, body, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const h: Harness = {
    sim,
    running,
    clock,
    authClock,
    send,
    async signed(path, keys = { ak: AK, sk: SK }) {
      const auth = akskAuth({ accessKey: keys.ak, secretKey: keys.sk, baseUrl: running.url, now: () => authClock.now });
      const headers = { accept: 'application/json' };
      return send('GET', path, { ...headers, ...(await auth.headers({ method: 'GET', path, headers }, undefined as never)) });
    },
    token(user = {}) {
      const u = { ...USER, ...user };
      const body = { auth: { identity: { methods: ['password'], password: { user: { name: u.user, password: u.password, domain: { name: u.domain } } } }, scope: { project: { name: u.project } } } };
      return send('POST', '/v3/auth/tokens', { 'content-type': 'application/json;charset=utf8' }, JSON.stringify(body));
    },
  };
  return h;
}

const logs = (kind: string, extra = '') => `/v3/${PROJECT}/operation-logs?operation_type=${kind}${extra}`;

function expectGatewayRefusal(answer: Answer, message: RegExp): void {
  expect(answer.status).toBe(401);
  expect(answer.json).toEqual({ error_msg: expect.stringMatching(message), error_code: 'APIGW.0301', request_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
}

function expectCbrError(answer: Answer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.json).toEqual({ error_code: expect.stringMatching(/^BackupService\.\d{4}$/), error_msg: expect.any(String) });
}

describe('CBR simulator: IAM tokens', () => {
  test('a password token: 201, X-Subject-Token, token.expires_at 24 h ahead; it opens the CBR API', async () => {
    const h = await harness();
    const answer = await h.token();
    expect(answer.status).toBe(201);
    const token = answer.headers['x-subject-token'] as string;
    expect(token).toMatch(/^MII/);
    expect(answer.json.token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(parseCbrTime(answer.json.token.expires_at)! * 1000).toBeCloseTo(h.authClock.now + 86_400_000, -3);
    expect(answer.json.token).toMatchObject({ methods: ['password'], project: { id: PROJECT, name: USER.project } });
    const list = await h.send('GET', logs('backup'), { 'x-auth-token': token });
    expect(list.status).toBe(200);
    expect(h.sim.tokensIssued()).toBe(1);
  });

  test('a wrong password, user or domain is IAM\'s 401; a body that is not JSON is 400', async () => {
    const h = await harness();
    for (const wrong of [{ password: 'nope' }, { user: 'someone' }, { domain: 'other' }]) {
      const answer = await h.token(wrong);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ error: { code: 401, message: 'The username or password is wrong.', title: 'Unauthorized' } });
      expect(answer.headers['x-subject-token']).toBeUndefined();
    }
    expect((await h.token({ project: 'elsewhere' })).status).toBe(401);
    expect((await h.send('POST', '/v3/auth/tokens', { 'content-type': 'application/json' }, '{nope')).status).toBe(400);
    expect(h.sim.tokensIssued()).toBe(0);
  });

  test('no credentials, an unknown token, an expired token and a revoked token are refused as API Gateway does', async () => {
    const h = await harness({ tokenLifetimeMs: 60_000 });
    expectGatewayRefusal(await h.send('GET', logs('backup')), /x-auth-token not found$/);
    expectGatewayRefusal(await h.send('GET', logs('backup'), { 'x-auth-token': 'MIIforged' }), /decrypt token fail$/);
    const token = (await h.token()).headers['x-subject-token'] as string;
    h.authClock.now += 61_000;
    expectGatewayRefusal(await h.send('GET', logs('backup'), { 'x-auth-token': token }), /token expires, expires_at: \d{4}-/);
    const fresh = (await h.token()).headers['x-subject-token'] as string;
    expect((await h.send('GET', logs('backup'), { 'x-auth-token': fresh })).status).toBe(200);
    h.sim.expireTokens();
    expectGatewayRefusal(await h.send('GET', logs('backup'), { 'x-auth-token': fresh }), /token expires/);
    const third = (await h.token()).headers['x-subject-token'] as string;
    expect((await h.send('POST', '/_sim/cbr/revoke-tokens')).json).toEqual({ revoked: 3 });
    expectGatewayRefusal(await h.send('GET', logs('backup'), { 'x-auth-token': third }), /decrypt token fail$/);
  });
});

describe('CBR simulator: AK/SK signatures', () => {
  test('a request signed with the exporter\'s signer is accepted', async () => {
    const h = await harness();
    expect((await h.signed(logs('backup'))).status).toBe(200);
    expect((await h.signed(`/v3/${PROJECT}/backups?limit=5&offset=2`)).status).toBe(200);
  });

  test('a wrong secret, an unknown access key, and an X-Sdk-Date more than 15 minutes off are refused', async () => {
    const h = await harness();
    expectGatewayRefusal(await h.signed(logs('backup'), { ak: AK, sk: 'wrong' }), /verify aksk signature fail$/);
    expectGatewayRefusal(await h.signed(logs('backup'), { ak: 'UNKNOWNAK00000000000', sk: SK }), /Get secretKey failed,ak:UNKN\*+,err:ak not exist$/);
    const signedAt = h.authClock.now;
    const auth = akskAuth({ accessKey: AK, secretKey: SK, baseUrl: h.running.url, now: () => signedAt - 16 * 60_000 });
    const headers = await auth.headers({ method: 'GET', path: logs('backup'), headers: {} }, undefined as never);
    const stale = await h.send('GET', logs('backup'), headers);
    expectGatewayRefusal(stale, new RegExp(`signature expired, signature time:${formatSdkDate(signedAt - 16 * 60_000)},server time:${formatSdkDate(signedAt)}$`));
  });

  test('the body is signed: the same signature with a changed byte of the body is refused', async () => {
    const h = await harness();
    const path = `/v3/${PROJECT}/checkpoints`;
    const body = '{"checkpoint":{"parameters":{"auto_trigger":false}}}';
    const auth = akskAuth({ accessKey: AK, secretKey: SK, baseUrl: h.running.url, now: () => h.authClock.now });
    const base = { 'content-type': 'application/json' };
    const headers = { ...base, ...(await auth.headers({ method: 'POST', path, headers: base, body }, undefined as never)) };
    // Authenticated, then routed: the simulator has no backup-creating API, so the gateway answers 404.
    const accepted = await h.send('POST', path, headers, body);
    expect(accepted.status).toBe(404);
    expect(accepted.json).toMatchObject({ error_code: 'APIGW.0101' });
    const changed = body.replace('false', 'falsE');
    expectGatewayRefusal(await h.send('POST', path, headers, changed), /verify aksk signature fail$/);
  });

  test('five failed signatures in a row lock the access key for five minutes', async () => {
    const h = await harness();
    for (let i = 0; i < 5; i++) expectGatewayRefusal(await h.signed(logs('backup'), { ak: AK, sk: 'wrong' }), /verify aksk signature fail$/);
    expectGatewayRefusal(await h.signed(logs('backup')), /AK access failed to reach the limit,forbidden\.$/);
    h.authClock.now += 5 * 60_000 + 1000;
    expect((await h.signed(logs('backup'))).status).toBe(200);
  });

  test('lockout can be turned off', async () => {
    const h = await harness({ akLockout: false });
    for (let i = 0; i < 6; i++) await h.signed(logs('backup'), { ak: AK, sk: 'wrong' });
    expect((await h.signed(logs('backup'))).status).toBe(200);
  });
});

describe('CBR simulator: tasks, paging and parameters', () => {
  test('operation logs: documented fields, newest first, both kinds, offset+00:00 times', async () => {
    const h = await harness({ vaults: 2, resourcesPerVault: 3, backupsPerResource: 4 });
    const backups = (await h.signed(logs('backup'))).json;
    expect(backups.count).toBe(2 * 3 * 4);
    expect(backups.operation_logs).toHaveLength(24);
    const starts = backups.operation_logs.map((t: { started_at: string }) => parseCbrTime(t.started_at)!);
    expect([...starts].sort((a, b) => b - a)).toEqual(starts);
    for (const t of backups.operation_logs) {
      expect(t).toMatchObject({ operation_type: 'backup', project_id: PROJECT, vault_id: expect.any(String), vault_name: expect.stringMatching(/^vault-/) });
      expect(t.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
      expect(t.extra_info.resource).toEqual({ id: expect.any(String), name: expect.any(String), type: expect.stringMatching(/^OS::/) });
      expect(t.extra_info.backup.backup_id).toEqual(expect.any(String));
      expect(t.error_info).toEqual({ code: expect.any(String), message: expect.any(String) });
      expect(['waiting', 'running', 'success', 'failed', 'timeout', 'skipped']).toContain(t.status);
    }
    const restores = (await h.signed(logs('restore'))).json;
    expect(restores.count).toBe(20);
    for (const t of restores.operation_logs) {
      expect(t.extra_info.restore).toEqual({ backup_id: expect.any(String), backup_name: expect.any(String), target_resource_id: expect.any(String), target_resource_name: expect.any(String) });
    }
  });

  test('limit and offset page through the list; every task exactly once', async () => {
    const h = await harness({ vaults: 3, resourcesPerVault: 5, backupsPerResource: 50 });
    const all = (await h.signed(logs('backup'))).json;
    expect(all.count).toBe(750);
    const seen: string[] = [];
    for (let offset = 0; offset < 800; offset += 100) {
      const page = (await h.signed(logs('backup', `&limit=100&offset=${offset}`))).json;
      expect(page.count).toBe(750);
      seen.push(...page.operation_logs.map((t: { id: string }) => t.id));
    }
    expect(seen).toEqual(all.operation_logs.map((t: { id: string }) => t.id));
    expect(new Set(seen).size).toBe(750);
  });

  test('start_time keeps tasks that started at or after it', async () => {
    const h = await harness({ backupsPerResource: 48, backupIntervalMs: 3_600_000 });
    const since = new Date(T0 - 6 * 3_600_000).toISOString().replace('.000Z', 'Z');
    const page = (await h.signed(logs('backup', `&start_time=${since}`))).json;
    expect(page.count).toBeGreaterThan(0);
    expect(page.count).toBeLessThan(48 * 6);
    for (const t of page.operation_logs) expect(parseCbrTime(t.started_at)! * 1000).toBeGreaterThanOrEqual(T0 - 6 * 3_600_000);
  });

  test.each([
    ['&limit=1001'],
    ['&limit=0'],
    ['&limit=ten'],
    ['&offset=-1'],
    ['&start_time=2024-06-01'],
    ['&start_time=2024-06-01T00:00:00.000Z'],
    ['&status=broken'],
  ])('%s is a 400 with {"error_code","error_msg"}', async (extra) => {
    const h = await harness();
    expectCbrError(await h.signed(logs('backup', extra)), 400);
  });

  test('an unknown operation_type is a 400; another project is a 403', async () => {
    const h = await harness();
    expectCbrError(await h.signed(`/v3/${PROJECT}/operation-logs?operation_type=teleport`), 400);
    expectCbrError(await h.signed(`/v3/00000000000000000000000000000000/operation-logs`), 403);
  });

  test('tasks move through their states as the clock moves, and every status occurs', async () => {
    const h = await harness({ vaults: 4, resourcesPerVault: 5, backupsPerResource: 60, backupIntervalMs: 600_000, backupDurationMs: 300_000 });
    const statuses = new Set<string>();
    const first = (await h.signed(logs('backup'))).json.operation_logs;
    for (const t of first) statuses.add(t.status);
    expect([...statuses].every((st) => ['waiting', 'running', 'success', 'failed', 'timeout', 'skipped'].includes(st))).toBe(true);
    expect([...statuses]).toEqual(expect.arrayContaining(['success', 'failed', 'timeout', 'skipped']));
    const unfinished = first.filter((t: { status: string }) => t.status === 'running' || t.status === 'waiting');
    expect(unfinished.length).toBeGreaterThan(0);
    h.clock.now += 600_000 - 1;
    const later = new Map<string, any>((await h.signed(logs('backup'))).json.operation_logs.map((t: { id: string }) => [t.id, t]));
    for (const t of unfinished) {
      const now = later.get(t.id);
      expect(['success', 'failed', 'timeout', 'skipped']).toContain(now.status);
      expect(now.ended_at).toMatch(/\+00:00$/);
    }
    expect(h.sim.tasks('backup').some((t) => t.status === 'waiting' || t.status === 'running')).toBe(true);
  });

  test('fail-next makes the next backup fail with an error code', async () => {
    const h = await harness({ backupDurationMs: 60_000 });
    const { startsAt } = (await h.send('POST', '/_sim/cbr/fail-next', { 'content-type': 'application/json' }, '{"kind":"backup"}')).json;
    h.clock.now = Date.parse(startsAt) + 3_600_000 - 1;
    const failed = (await h.signed(logs('backup'))).json.operation_logs.filter((t: any) => t.started_at === startsAt && t.status === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0].error_info.code).toMatch(/^BackupService\./);
  });
});

describe('CBR simulator: backups and checkpoints', () => {
  test('backups: microsecond times without zone, resource_size as string and as number, statuses of the API', async () => {
    const h = await harness({ vaults: 2, resourcesPerVault: 4, backupsPerResource: 30, backupIntervalMs: 600_000, backupDurationMs: 300_000 });
    const answer = (await h.signed(`/v3/${PROJECT}/backups`)).json;
    expect(answer.count).toBe(answer.backups.length);
    expect(answer.count).toBeGreaterThan(200);
    const kinds = new Set(answer.backups.map((b: { resource_size: unknown }) => typeof b.resource_size));
    expect([...kinds].sort()).toEqual(['number', 'string']);
    const statuses = new Set(answer.backups.map((b: { status: string }) => b.status));
    expect([...statuses].every((s) => ['available', 'protecting', 'deleting', 'error', 'waiting_protect'].includes(s as string))).toBe(true);
    expect(statuses.has('available') && statuses.has('deleting') && statuses.has('error')).toBe(true);
    for (const b of answer.backups) {
      expect(b.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      expect(b).toMatchObject({ id: expect.any(String), checkpoint_id: expect.any(String), resource_id: expect.any(String), vault_id: expect.any(String), project_id: PROJECT });
    }
    const filtered = (await h.signed(`/v3/${PROJECT}/backups?vault_id=${h.sim.vaults[1]!.id}&status=available&limit=3`)).json;
    expect(filtered.backups).toHaveLength(3);
    for (const b of filtered.backups) expect([b.vault_id, b.status]).toEqual([h.sim.vaults[1]!.id, 'available']);
  });

  test('a checkpoint detail names its vault and lists its resources; skipped resources carry code and reason', async () => {
    const h = await harness({ vaults: 1, resourcesPerVault: 6, backupsPerResource: 40 });
    const tasks = (await h.signed(logs('backup'))).json.operation_logs;
    const skipped = tasks.find((t: any) => t.status === 'skipped');
    expect(skipped).toBeDefined();
    const detail = await h.signed(`/v3/${PROJECT}/checkpoints/${skipped.checkpoint_id}`);
    expect(detail.status).toBe(200);
    const cp = detail.json.checkpoint;
    expect(cp).toMatchObject({ id: skipped.checkpoint_id, project_id: PROJECT, vault: { id: h.sim.vaults[0]!.id, name: h.sim.vaults[0]!.name } });
    expect(cp.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(cp.vault.skipped_resources).toContainEqual(
      expect.objectContaining({ id: skipped.extra_info.resource.id, code: expect.stringMatching(/^BackupService\./), reason: expect.any(String) }),
    );
    expect(cp.vault.resources.map((r: { id: string }) => r.id)).not.toContain(skipped.extra_info.resource.id);
    for (const r of cp.vault.resources) expect(r.resource_size).toEqual(expect.stringMatching(/^\d+$/));
    expectCbrError(await h.signed(`/v3/${PROJECT}/checkpoints/8b0851a8-adf3-4f4c-a914-dead08bf9664`), 404);
    expectCbrError(await h.signed(`/v3/${PROJECT}/checkpoints/nonsense`), 404);
  });
});

describe('CBR simulator: faults and the demo', () => {
  test('injected 503 and 429 come in the product\'s error shapes', async () => {
    const h = await harness({ faults: { errorStatus: 503 } });
    expectCbrError(await h.signed(logs('backup')), 503);
    h.sim.faults.errorStatus = 0;
    h.sim.faults.rateLimitRetryAfter = 1;
    const limited = await h.signed(logs('backup'));
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ error_code: 'APIGW.0308' });
    expect(limited.headers['retry-after']).toBe('1');
  });

  test('the demo answers its own credentials', async () => {
    const running = await startDemo({ host: '127.0.0.1', port: 0 });
    const agent = new Agent();
    harnesses.push({ running, agent });
    const path = `/v3/${DEMO_CBR_PROJECT_ID}/operation-logs?operation_type=backup`;
    const auth = akskAuth({ accessKey: DEMO_CBR_ACCESS_KEY, secretKey: DEMO_CBR_SECRET_KEY, baseUrl: running.url });
    const res = await request(`${running.url}${path}`, { headers: await auth.headers({ method: 'GET', path, headers: {} }, undefined as never), dispatcher: agent });
    const body = (await res.body.json()) as { count: number };
    expect(res.statusCode).toBe(200);
    expect(body.count).toBeGreaterThan(0);
  });
});

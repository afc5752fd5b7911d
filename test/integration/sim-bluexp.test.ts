import { Agent, request } from 'undici';
import { BLUEXP_DEFAULTS } from '../../src/providers/bluexp';
import {
  DEMO_BLUEXP_ACCOUNT_ID,
  DEMO_BLUEXP_AGENT_ID,
  DEMO_BLUEXP_CLIENT_ID,
  DEMO_BLUEXP_CLIENT_SECRET,
  DEMO_BLUEXP_REFRESH_TOKEN,
  collapseSingletons,
  createBlueXpSimulator,
  startDemo,
  type BlueXpSimulator,
  type BlueXpSimulatorOptions,
} from '../../simulators/bluexp';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';

const ACCOUNT = 'account-Te5tAcct';
const AGENT = 'uzJbMFKEnuzi2ryLaENbCP52KBTXx0aI';
const REFRESH = 'test-refresh-token';
const SA = { clientId: 'test-sa-client', clientSecret: 'test-sa-secret' };
const T0 = Date.UTC(2024, 10, 24, 12, 0, 0);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

interface Harness {
  sim: BlueXpSimulator;
  running: RunningSimulator;
  clock: { now: number };
  send(method: 'GET' | 'POST', path: string, headers?: Record<string, string>, body?: string): Promise<Answer>;
  token(body?: Record<string, string>): Promise<Answer>;
  /** GET under the API prefix with a fresh token and the agent id. */
  api(path: string, headers?: Record<string, string>): Promise<Answer>;
}

const harnesses: Array<{ running: RunningSimulator; agent: Agent }> = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.running.close();
    await h.agent.destroy();
  }
});

const refreshGrant = { grant_type: 'refresh_token', refresh_token: REFRESH, client_id: BLUEXP_DEFAULTS.refresh_client_id };
const clientGrant = { grant_type: 'client_credentials', client_id: SA.clientId, client_secret: SA.clientSecret, audience: BLUEXP_DEFAULTS.audience };

async function harness(options: Partial<BlueXpSimulatorOptions> = {}): Promise<Harness> {
  const clock = { now: T0 };
  const sim = createBlueXpSimulator({
    accountId: ACCOUNT,
    agentId: AGENT,
    refreshToken: REFRESH,
    serviceAccount: SA,
    clock: () => clock.now,
    ...options,
  });
  const running = await startSimulator(sim.app);
  const agent = new Agent({ connect: { timeout: 2_000 } });
  harnesses.push({ running, agent });
  const send = async (method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> => {
    const res = await request(`${running.url}${path}`, { method, headers, body, dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const token = (body: Record<string, string> = refreshGrant) => send('POST', '/oauth/token', { 'content-type': 'application/json' }, JSON.stringify(body));
  let cached: string | undefined;
  return {
    sim,
    running,
    clock,
    send,
    token,
    async api(path, headers) {
      cached ??= (await token()).json.access_token as string;
      return send('GET', `${sim.apiBase}${path}`, { authorization: `Bearer ${cached}`, 'x-agent-id': `${AGENT}clients`, ...headers });
    },
  };
}

/** Lists as lists again, so tests need not care whether one element came alone. */
function list(value: unknown): any[] {
  if (Array.isArray(value)) return value;
  return value === undefined ? [] : [value];
}

describe('BlueXP simulator: token endpoint', () => {
  it('issues a token for the refresh-token grant (Console client id) and for the client-credentials grant', async () => {
    const h = await harness();
    for (const grant of [refreshGrant, clientGrant]) {
      const answer = await h.token(grant);
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expires_in: 86400, token_type: 'Bearer' });
    }
    expect(h.sim.tokens.grants).toEqual({ refresh_token: 1, client_credentials: 1 });
  });

  it('takes a form-encoded body and the API gateway path too', async () => {
    const h = await harness();
    const form = new URLSearchParams(refreshGrant).toString();
    const answer = await h.send('POST', '/auth/oauth/token', { 'content-type': 'application/x-www-form-urlencoded' }, form);
    expect(answer.status).toBe(200);
  });

  it('uses the configured expires_in', async () => {
    const h = await harness({ tokenLifetimeSeconds: 5 });
    expect((await h.token()).json.expires_in).toBe(5);
  });

  it.each([
    ['a wrong client secret', { ...clientGrant, client_secret: 'nope' }, 401, { error: 'access_denied', error_description: 'Unauthorized' }],
    ['an unknown service account', { ...clientGrant, client_id: 'other' }, 401, { error: 'access_denied', error_description: 'Unauthorized' }],
    ['an unknown refresh token', { ...refreshGrant, refresh_token: 'nope' }, 403, { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }],
    ['a refresh grant with another client id', { ...refreshGrant, client_id: 'other' }, 401, { error: 'access_denied', error_description: 'Unauthorized' }],
    ['an unknown audience', { ...refreshGrant, audience: 'https://elsewhere' }, 403, { error: 'access_denied', error_description: 'Service not found: https://elsewhere' }],
    ['client credentials without audience', { grant_type: 'client_credentials', client_id: SA.clientId, client_secret: SA.clientSecret }, 403, { error: 'access_denied', error_description: expect.stringContaining('No audience') }],
    ['no grant type', { refresh_token: REFRESH }, 400, { error: 'invalid_request', error_description: 'Missing required parameter: grant_type' }],
    ['another grant type', { grant_type: 'password' }, 403, { error: 'unauthorized_client', error_description: "Grant type 'password' not allowed for the client." }],
  ])('refuses %s the way Auth0 does', async (_what, body, status, error) => {
    const h = await harness();
    const answer = await h.token(body as Record<string, string>);
    expect(answer.status).toBe(status);
    expect(answer.json).toEqual(error);
    expect(h.sim.tokens.refused).toBe(1);
    expect(h.sim.tokens.grants).toEqual({ refresh_token: 0, client_credentials: 0 });
  });

  it('answers a body that is not JSON with invalid_request', async () => {
    const h = await harness();
    const answer = await h.send('POST', '/oauth/token', { 'content-type': 'application/json' }, '{nope');
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });
});

describe('BlueXP simulator: API authentication and headers', () => {
  it('refuses a request without or with a malformed bearer token: 401 with a JSON message', async () => {
    const h = await harness();
    const attempts: Array<Record<string, string>> = [{ 'x-agent-id': `${AGENT}clients` }, { authorization: 'Basic abc', 'x-agent-id': `${AGENT}clients` }];
    for (const headers of attempts) {
      const answer = await h.send('GET', `${h.sim.apiBase}/job`, headers);
      expect(answer.status).toBe(401);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.json).toEqual({ message: 'Missing or malformed authorization header' });
    }
    const forged = await h.send('GET', `${h.sim.apiBase}/job`, { authorization: 'Bearer a.b.c', 'x-agent-id': `${AGENT}clients` });
    expect(forged.status).toBe(401);
    expect(forged.json).toEqual({ message: 'Invalid token' });
  });

  it('rejects expired tokens (by lifetime or expireTokens) and revoked ones with 401', async () => {
    const h = await harness({ tokenLifetimeSeconds: 60 });
    expect((await h.api('/job')).status).toBe(200);
    h.clock.now += 61_000;
    const expired = await h.api('/job');
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ message: 'Token expired' });
    expect(expired.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);

    const fresh = (await h.token()).json.access_token;
    const get = () => h.send('GET', `${h.sim.apiBase}/job`, { authorization: `Bearer ${fresh}`, 'x-agent-id': `${AGENT}clients` });
    expect((await get()).status).toBe(200);
    expect(h.sim.expireTokens()).toBe(2);
    expect((await get()).json).toEqual({ message: 'Token expired' });
    const another = (await h.token()).json.access_token;
    h.sim.revokeTokens();
    const revoked = await h.send('GET', `${h.sim.apiBase}/job`, { authorization: `Bearer ${another}`, 'x-agent-id': `${AGENT}clients` });
    expect(revoked.json).toEqual({ message: 'Invalid token' });
    expect(h.sim.tokens.rejectedTokens).toBe(3);
  });

  it('requires x-agent-id with the "clients" suffix, and the token\'s account', async () => {
    const h = await harness();
    const missing = await h.api('/job', { 'x-agent-id': '' });
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({ message: 'Missing x-agent-id header' });
    const bare = await h.api('/job', { 'x-agent-id': AGENT });
    expect(bare.status).toBe(403);
    expect(bare.json).toEqual({ message: `Agent ${AGENT} is not registered in this account` });
    const token = (await h.token()).json.access_token;
    const other = await h.send('GET', `/account/account-other${h.sim.apiBase.slice(`/account/${ACCOUNT}`.length)}/job`, {
      authorization: `Bearer ${token}`,
      'x-agent-id': `${AGENT}clients`,
    });
    expect(other.status).toBe(403);
    expect(other.json).toEqual({ message: 'Action not allowed for user' });
  });

  it('accepts an agent id configured with its suffix as well', async () => {
    const h = await harness({ agentId: `${AGENT}clients` });
    expect(h.sim.agentId).toBe(`${AGENT}clients`);
    expect((await h.api('/job')).status).toBe(200);
  });

  it('answers unknown paths with a JSON message and leaves the control API open', async () => {
    const h = await harness();
    const answer = await h.api('/nope');
    expect(answer.status).toBe(404);
    expect(answer.json.message).toContain('/nope');
    expect((await h.send('GET', '/_sim/bluexp/info')).json).toMatchObject({ accountId: ACCOUNT, agentId: `${AGENT}clients` });
  });
});

describe('BlueXP simulator: jobs', () => {
  it('lists jobs newest first with the documented, hyphenated fields; /job/{id} answers the same job', async () => {
    const h = await harness({ jobs: 40, collapseSingletons: false });
    const answer = await h.api('/job');
    const jobs = answer.json.job;
    expect(jobs).toHaveLength(40);
    const times = jobs.map((j: { time: number }) => j.time);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const job of jobs) {
      expect(Object.keys(job)).toEqual(expect.arrayContaining(['id', 'working-environment-id', 'type', 'status', 'time', 'data']));
      expect(job.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(['PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED']).toContain(job.status);
      expect(job.time).toBeGreaterThan(1e12);
      if (job.status === 'FAILED') expect(job.error).toEqual(expect.any(String));
      else expect(job.error).toBeUndefined();
      if (job.type === 'backup') {
        for (const volume of job.data['multi-volume-backup'].volume) {
          expect(volume.id).toMatch(/^[0-9a-f-]{36}$/);
          expect(['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED']).toContain(volume.status);
        }
      } else {
        const restore = job.data.restore;
        expect(restore.type).toBe(job.type === 'restore-file' ? 'file' : 'volume');
        expect(Object.keys(restore.source)).toEqual(['working-environment-id', 'working-environment-name', 'bucket', 'volume-id', 'volume-name', 'snapshot']);
        expect(restore.target).toMatchObject({ 'working-environment-id': job['working-environment-id'], svm: expect.any(String), 'volume-name': expect.any(String) });
        if (job.type === 'restore-file') {
          for (const batch of restore.batch) {
            expect(batch).toMatchObject({ id: expect.any(String), status: expect.any(String), time: expect.any(Number) });
            for (const file of batch.file) expect(Object.keys(file)).toEqual(['inode', 'path', 'type', 'size', 'mtime']);
          }
        } else {
          expect(restore.batch).toBeUndefined();
          expect(restore.target['volume-size']).toEqual(expect.any(Number));
        }
      }
    }
    expect(new Set(jobs.map((j: { type: string }) => j.type))).toEqual(new Set(['backup', 'restore-volume', 'restore-file']));
    const one = await h.api(`/job/${jobs[7].id}`);
    expect(one.json).toEqual({ job: [jobs[7]] });
    expect((await h.api('/job/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee')).status).toBe(404);
    expect((await h.api('/job/not-a-uuid')).json).toEqual({ message: 'Job not-a-uuid not found' });
  });

  it('filters GET /job by type and status', async () => {
    const h = await harness({ jobs: 40, collapseSingletons: false });
    const all = (await h.api('/job')).json.job;
    const filtered = (await h.api('/job?type=backup&status=COMPLETED')).json.job;
    expect(filtered).toEqual(all.filter((j: { type: string; status: string }) => j.type === 'backup' && j.status === 'COMPLETED'));
  });

  it('has multi-volume backups where one volume failed (job FAILED, others SUCCESS), file restores with batches, volume restores', async () => {
    const h = await harness({ jobs: 200, collapseSingletons: false });
    const jobs = (await h.api('/job')).json.job as any[];
    const partly = jobs.find((j) => {
      const volumes = j.type === 'backup' ? j.data['multi-volume-backup'].volume : [];
      return volumes.length > 1 && volumes.some((v: any) => v.status === 'FAILED') && volumes.some((v: any) => v.status === 'SUCCESS');
    });
    expect(partly.status).toBe('FAILED');
    expect(partly.data['multi-volume-backup'].volume.find((v: any) => v.status === 'FAILED').error).toEqual(expect.any(String));
    expect(jobs.some((j) => j.type === 'restore-file' && j.data.restore.batch.length > 1)).toBe(true);
    expect(jobs.some((j) => j.type === 'restore-file' && j.status === 'FAILED' && j.data.restore.batch.some((b: any) => b.status === 'FAILED' && b.error))).toBe(true);
    expect(jobs.some((j) => j.type === 'restore-volume' && j.status === 'COMPLETED')).toBe(true);
    // Every job's status agrees with its parts.
    for (const job of jobs.filter((j) => j.status === 'COMPLETED' || j.status === 'FAILED')) {
      const parts = job.type === 'backup' ? job.data['multi-volume-backup'].volume : (job.data.restore.batch ?? []);
      const anyFailed = parts.some((p: any) => p.status === 'FAILED');
      if (parts.length) expect(job.status).toBe(anyFailed ? 'FAILED' : 'COMPLETED');
    }
  });

  it('moves a job through PENDING, IN_PROGRESS and COMPLETED or FAILED as the clock advances, and new jobs appear', async () => {
    const interval = 10 * 60_000;
    const h = await harness({ jobs: 5, jobIntervalMs: interval, jobDurationMs: 60_000, collapseSingletons: false });
    const newest = (await h.api('/job')).json.job[0];
    const created = newest.time;
    h.clock.now = created + 1_000;
    expect((await h.api(`/job/${newest.id}`)).json.job[0].status).toBe('PENDING');
    const states = new Set<string>();
    for (let t = created + 1_000; t <= created + 120_000; t += 1_000) {
      h.clock.now = t;
      states.add((await h.api(`/job/${newest.id}`)).json.job[0].status);
    }
    expect([...states].slice(0, 2)).toEqual(['PENDING', 'IN_PROGRESS']);
    expect(['COMPLETED', 'FAILED']).toContain([...states][2]);
    expect(states.size).toBe(3);
    h.clock.now = created + interval + 1_000;
    const after = (await h.api('/job')).json.job;
    expect(after).toHaveLength(5);
    expect(after[1].id).toBe(newest.id);
    expect(after[0].status).toBe('PENDING');
  });

  it('lists only restores on /restore/status, in the seed page\'s shape (no type, files directly under restore)', async () => {
    const h = await harness({ jobs: 60, collapseSingletons: false });
    const all = (await h.api('/job')).json.job as any[];
    const restores = (await h.api('/restore/status')).json.job as any[];
    expect(restores.map((r) => r.id)).toEqual(all.filter((j) => j.type !== 'backup').map((j) => j.id));
    for (const r of restores) {
      expect(r.type).toBeUndefined();
      expect(r['working-environment-id']).toBeUndefined();
      expect(r.data.restore.batch).toBeUndefined();
      const job = all.find((j) => j.id === r.id);
      expect(r.status).toBe(job.status);
      expect(r.data.restore.source).toEqual(job.data.restore.source);
      if (r.data.restore.type === 'file') expect(r.data.restore.file.length).toBeGreaterThan(0);
    }
  });

  it('can leave restores out of GET /job', async () => {
    const h = await harness({ jobs: 60, restoresInJobList: false, collapseSingletons: false });
    const jobs = (await h.api('/job')).json.job as any[];
    expect(jobs.every((j) => j.type === 'backup')).toBe(true);
    expect((await h.api('/restore/status')).json.job.length).toBeGreaterThan(0);
  });

  it('answers one-element lists as the element alone by default', async () => {
    const h = await harness({ jobs: 1 });
    const job = (await h.api('/job')).json.job;
    expect(Array.isArray(job)).toBe(false);
    expect(job.id).toEqual(expect.any(String));
    expect(collapseSingletons({ job: [{ data: { 'multi-volume-backup': { volume: [{ id: 'v' }] } } }] })).toEqual({
      job: { data: { 'multi-volume-backup': { volume: { id: 'v' } } } },
    });
    expect(collapseSingletons({ job: [{ id: 1 }, { id: 2 }], other: [1] })).toEqual({ job: [{ id: 1 }, { id: 2 }], other: [1] });
  });

  it('lists summaries without data when asked; /job/{id} has the data', async () => {
    const h = await harness({ jobs: 10, summaryList: true, collapseSingletons: false });
    const jobs = (await h.api('/job')).json.job as any[];
    for (const job of jobs) expect(job.data).toBeUndefined();
    expect((await h.api(`/job/${jobs[0].id}`)).json.job[0].data).toBeDefined();
  });

  it('writes time in seconds with timeUnit "s"', async () => {
    const h = await harness({ jobs: 5, timeUnit: 's', collapseSingletons: false });
    for (const job of (await h.api('/job')).json.job) {
      expect(job.time).toBeLessThan(1e11);
      expect(Math.abs(job.time * 1000 - T0)).toBeLessThan(5 * 10 * 60_000);
    }
  });

  it('is deterministic for a seed and a time; jobsAt() is what GET /job lists', async () => {
    const a = await harness({ seed: 'same', jobs: 20, collapseSingletons: false });
    const b = await harness({ seed: 'same', jobs: 20, collapseSingletons: false });
    const listed = (await a.api('/job')).json.job;
    expect((await b.api('/job')).json.job).toEqual(listed);
    expect(a.sim.jobsAt()).toEqual(listed);
    expect(a.sim.workingEnvironments).toEqual(b.sim.workingEnvironments);
  });

  it('failNext() makes the next job fail', async () => {
    const h = await harness({ jobs: 5, jobIntervalMs: 60_000, jobDurationMs: 20_000, collapseSingletons: false });
    const doomed = h.sim.failNext();
    expect(doomed.created).toBeGreaterThan(h.clock.now);
    expect((await h.api(`/job/${doomed.jobId}`)).status).toBe(404);
    h.clock.now = doomed.created + 59_000;
    const job = (await h.api(`/job/${doomed.jobId}`)).json.job[0];
    expect(job.status).toBe('FAILED');
    const again = await h.send('POST', '/_sim/bluexp/fail-next');
    expect(again.json.created).toBeGreaterThan(doomed.created);
  });
});

describe('BlueXP simulator: working environment and volume inventory', () => {
  test('the working environment list: one whose backup is OFF, counts and capacity as strings, a default policy', async () => {
    const h = await harness();
    const answer = await h.api('/backup/working-environment');
    expect(answer.status).toBe(200);
    const list = answer.json['working-environment'] as any[];
    expect(list.map((e) => [e.name, e['backup-enablement-status']])).toEqual([
      ['cvo-prod', 'ON'],
      ['onprem-dc1', 'ON'],
      ['onprem-lab', 'OFF'],
    ]);
    for (const e of list) {
      for (const field of ['backed-up-volume-count', 'total-volumes-count', 'failed-backup-volume-count', 'used-capacity-gb']) expect(e[field]).toMatch(/^\d+$/);
    }
    expect(list[0]['failed-backup-volume-count']).toBe('1');
    expect(list[2]['backed-up-volume-count']).toBe('0');
    expect(list[0]['backup-policy'].rule.map((r: any) => r.label)).toEqual(['hourly', 'daily', 'weekly']);
    expect(h.sim.environmentsAt()).toEqual(list);
  });

  test('volumes: named like real ones, ids the jobs use, a failed and a days-old one; newest backup never older than a job\'s', async () => {
    const h = await harness({ jobs: 200 });
    const [cvo] = h.sim.inventory;
    const answer = await h.api(`/backup/working-environment/${cvo!.id}/volume`);
    expect(answer.status).toBe(200);
    const volumes = answer.json.volume as any[];
    expect(volumes.map((v) => [v.name, v['backup-status']])).toEqual([
      ['vol_finance', 'ACTIVE'],
      ['vol_hr', 'ACTIVE'],
      ['vol_erp', 'ACTIVE'],
      ['vol_home', 'ACTIVE'],
      ['vol_archive', 'ACTIVE'],
      ['vol_legacy', 'FAILED'],
    ]);
    const created = new Map(volumes.map((v) => [v['file-system-id'], v['last-backup-creation-time'] as number]));
    const archive = volumes.find((v) => v.name === 'vol_archive');
    expect(T0 - archive['last-backup-creation-time']).toBeGreaterThan(2 * 86_400_000);
    expect(archive['backup-policy'].rule).toEqual([{ label: 'daily', retention: '7' }]);
    // Every volume a backup job names is in the inventory, and no successful job is newer than its newest backup.
    let checked = 0;
    for (const job of h.sim.jobsAt() as any[]) {
      if (job.type !== 'backup' || job['working-environment-id'] !== cvo!.id) continue;
      for (const v of job.data['multi-volume-backup'].volume) {
        expect(created.has(v.id)).toBe(true);
        if (v.status === 'SUCCESS') expect(created.get(v.id)).toBeGreaterThanOrEqual(job.time);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  test('a working environment with backup OFF lists its volumes without a backup-status; an unknown one is 404; the token is required', async () => {
    const h = await harness();
    const off = h.sim.inventory.find((e) => !e.enabled)!;
    const volumes = (await h.api(`/backup/working-environment/${off.id}/volume`)).json.volume as any[];
    expect(volumes.map((v) => [v.name, v['backup-status'], v['last-backup-creation-time']])).toEqual([
      ['vol_scratch', undefined, undefined],
      ['vol_test', undefined, undefined],
    ]);
    expect((await h.api('/backup/working-environment/VsaWorkingEnvironment-Nope0000/volume')).status).toBe(404);
    expect((await h.send('GET', `${h.sim.apiBase}/backup/working-environment`, { 'x-agent-id': `${AGENT}clients` })).status).toBe(401);
  });

  test('knobs: no working environment with backup OFF; backup times in seconds', async () => {
    const h = await harness({ disabledEnvironments: 0, timeUnit: 's', workingEnvironments: 1, volumesPerEnvironment: 1 });
    expect(h.sim.inventory.map((e) => e.enabled)).toEqual([true]);
    const [only] = h.sim.inventory;
    const volumes = (await h.api(`/backup/working-environment/${only!.id}/volume`)).json.volume as any[];
    expect(volumes.length).toBeGreaterThan(0);
    expect(volumes.every((v) => v['last-backup-creation-time'] < 1e11)).toBe(true);
  });
});

describe('BlueXP simulator: faults, control API and size', () => {
  it('applies framework faults with the product error shape', async () => {
    const h = await harness();
    h.sim.faults.errorStatus = 503;
    const answer = await h.send('GET', `${h.sim.apiBase}/job`);
    expect(answer.status).toBe(503);
    expect(answer.json).toEqual({ message: 'Service Unavailable' });
    h.sim.faults.errorStatus = 0;
    h.sim.faults.rateLimitRetryAfter = 2;
    const limited = await h.token();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
  });

  it('expires and revokes tokens and counts grants through /_sim/bluexp', async () => {
    const h = await harness();
    expect((await h.api('/job')).status).toBe(200);
    expect((await h.send('GET', '/_sim/bluexp/tokens')).json).toEqual({ grants: { refresh_token: 1, client_credentials: 0 }, refused: 0, rejectedTokens: 0 });
    expect((await h.send('POST', '/_sim/bluexp/expire-tokens')).json).toEqual({ expired: 1 });
    expect((await h.api('/job')).status).toBe(401);
    expect((await h.send('POST', '/_sim/bluexp/revoke-tokens')).json).toEqual({ revoked: 1 });
    expect((await h.send('POST', '/_sim/reset')).status).toBe(200);
    expect(h.sim.tokens).toEqual({ grants: { refresh_token: 0, client_credentials: 0 }, refused: 0, rejectedTokens: 0 });
  });

  it('serves a large job list (5,000 jobs)', async () => {
    const h = await harness({ jobs: 5000, workingEnvironments: 10, volumesPerEnvironment: 20, collapseSingletons: false });
    const jobs = (await h.api('/job')).json.job;
    expect(jobs).toHaveLength(5000);
    expect((await h.api(`/job/${jobs[4999].id}`)).status).toBe(200);
  });
});

describe('BlueXP demo simulator', () => {
  it('starts with the demo credentials: both grants work, jobs every two minutes', async () => {
    const demo = await startDemo({ host: '127.0.0.1', port: 0 });
    try {
      const post = async (body: Record<string, string>) => {
        const res = await request(`${demo.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), headersTimeout: 5_000, bodyTimeout: 5_000 });
        return { status: res.statusCode, json: (await res.body.json()) as any };
      };
      const refresh = await post({ grant_type: 'refresh_token', refresh_token: DEMO_BLUEXP_REFRESH_TOKEN, client_id: BLUEXP_DEFAULTS.refresh_client_id });
      expect(refresh.status).toBe(200);
      expect(refresh.json.expires_in).toBe(3600);
      const sa = await post({ grant_type: 'client_credentials', client_id: DEMO_BLUEXP_CLIENT_ID, client_secret: DEMO_BLUEXP_CLIENT_SECRET, audience: BLUEXP_DEFAULTS.audience });
      expect(sa.status).toBe(200);
      const res = await request(`${demo.url}/account/${DEMO_BLUEXP_ACCOUNT_ID}/providers/cloudmanager_cbs/api/v1/job`, {
        headers: { authorization: `Bearer ${refresh.json.access_token}`, 'x-agent-id': `${DEMO_BLUEXP_AGENT_ID}clients` },
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      expect(res.statusCode).toBe(200);
      const jobs = list(((await res.body.json()) as any).job);
      expect(jobs).toHaveLength(60);
      expect(Math.round((jobs[0].time - jobs[1].time) / 1000)).toBe(120);
      // The newest job is at most one interval old: a dashboard shows a new job every two minutes.
      expect(Date.now() - jobs[0].time).toBeLessThanOrEqual(120_000);
    } finally {
      await demo.close();
    }
  });
});

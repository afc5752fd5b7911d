import { Agent, request } from 'undici';
import { DigestSession } from '../../src/http/digest';
import { startSimulator, type RunningSimulator } from '../../simulators/framework';
import {
  createOpsManagerSimulator,
  OPS_MANAGER_API_BASE,
  type OpsManagerSimulator,
  type OpsManagerSimulatorOptions,
} from '../../simulators/opsmanager';
import { parseListen } from '../../simulators/cli';
import { DEMO_OPSMANAGER_PRIVATE_KEY, DEMO_OPSMANAGER_PUBLIC_KEY, startSimulators } from '../../simulators/demo';

const PUBLIC_KEY = 'test-public-key';
const PRIVATE_KEY = 'test-private-key';
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

interface Harness {
  sim: OpsManagerSimulator;
  running: RunningSimulator;
  clock: { now: number };
  agent: Agent;
  /** Raw GET (path relative to the API base unless it starts with /_sim or is absolute). */
  raw(path: string, headers?: Record<string, string>): Promise<Answer>;
  /** GET through a Digest session: answers the challenge once, as a real client does. */
  get(path: string, session?: DigestSession): Promise<Answer>;
  post(path: string, body: unknown): Promise<Answer>;
}

const harnesses: Harness[] = [];

afterEach(async () => {
  while (harnesses.length > 0) {
    const h = harnesses.pop()!;
    await h.running.close();
    await h.agent.destroy();
  }
});

function target(path: string): string {
  if (path.startsWith('http')) {
    const url = new URL(path);
    return url.pathname + url.search;
  }
  return path.startsWith('/_sim') ? path : `${OPS_MANAGER_API_BASE}${path}`;
}

async function harness(options: Partial<OpsManagerSimulatorOptions> = {}): Promise<Harness> {
  const clock = { now: T0 };
  const sim = createOpsManagerSimulator({ publicKey: PUBLIC_KEY, privateKey: PRIVATE_KEY, clock: () => clock.now, ...options });
  const running = await startSimulator(sim.app, { host: '127.0.0.1', port: 0 });
  const agent = new Agent({ connect: { timeout: 2_000 } });
  const defaultSession = new DigestSession(PUBLIC_KEY, PRIVATE_KEY);
  const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> => {
    const res = await request(`${running.url}${target(path)}`, {
      method: method as 'GET' | 'POST',
      headers,
      body,
      dispatcher: agent,
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const h: Harness = {
    sim,
    running,
    clock,
    agent,
    raw: (path, headers) => send('GET', path, headers),
    async get(path, session = defaultSession) {
      const uri = target(path);
      const authorize = (): Record<string, string> => {
        const value = session.authorize('GET', uri);
        return value ? { authorization: value } : {};
      };
      const first = await send('GET', path, authorize());
      if (first.status !== 401 || session.onChallenge(first.headers['www-authenticate']) !== 'retry') return first;
      return send('GET', path, authorize());
    },
    post: (path, body) => send('POST', path, { 'content-type': 'application/json' }, JSON.stringify(body)),
  };
  harnesses.push(h);
  return h;
}

const CHALLENGE = (algorithm: string, stale: boolean) =>
  new RegExp(`^Digest realm="MMS Public API", domain="", nonce="[^"]+", algorithm=${algorithm}, qop="auth", stale=${stale}$`);

const UNAUTHORIZED_BODY = { detail: 'You are not authorized for this resource.', error: 401, reason: 'Unauthorized' };

function expectErrorBody(answer: Answer, status: number, errorCode: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.json).toEqual({
    detail: expect.any(String),
    error: status,
    errorCode,
    parameters: expect.any(Array),
    reason: expect.any(String),
  });
}

function replicaSet(sim: OpsManagerSimulator) {
  return sim.clusters.find((c) => c.typeName === 'REPLICA_SET')!;
}

function sharded(sim: OpsManagerSimulator) {
  return sim.clusters.find((c) => c.typeName === 'SHARDED_REPLICA_SET')!;
}

function jobsPath(c: { groupId: string; id: string }, query = ''): string {
  return `/groups/${c.groupId}/clusters/${c.id}/restoreJobs${query}`;
}

describe('Ops Manager simulator: Digest authentication', () => {
  it.each(['MD5', 'SHA-256'] as const)('completes a %s round trip with DigestSession', async (algorithm) => {
    const h = await harness({ algorithm });
    const first = await h.raw('/groups');
    expect(first.status).toBe(401);
    expect(first.headers['www-authenticate']).toMatch(CHALLENGE(algorithm, false));
    const answer = await h.get('/groups');
    expect(answer.status).toBe(200);
    expect(answer.json.totalCount).toBe(2);
    // Later requests authenticate up front with the remembered nonce and a growing nc.
    const again = await h.get('/groups');
    expect(again.status).toBe(200);
  });

  it('answers a request without credentials with the product 401', async () => {
    const h = await harness();
    const answer = await h.raw('/groups');
    expect(answer.status).toBe(401);
    expect(answer.headers['content-type']).toBe('application/json;charset=ISO-8859-1');
    expect(answer.headers['www-authenticate']).toMatch(CHALLENGE('MD5', false));
    expect(answer.json).toEqual(UNAUTHORIZED_BODY);
  });

  it('refuses a wrong private key and an unknown public key', async () => {
    const h = await harness();
    for (const session of [new DigestSession(PUBLIC_KEY, 'wrong-private-key'), new DigestSession('someone-else', PRIVATE_KEY)]) {
      const answer = await h.get('/groups', session);
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toMatch(CHALLENGE('MD5', false));
      expect(answer.json).toEqual(UNAUTHORIZED_BODY);
    }
  });

  it('refuses Basic credentials and garbage', async () => {
    const h = await harness();
    expect((await h.raw('/groups', { authorization: `Basic ${Buffer.from(`${PUBLIC_KEY}:${PRIVATE_KEY}`).toString('base64')}` })).status).toBe(401);
    expect((await h.raw('/groups', { authorization: 'Digest garbage' })).status).toBe(401);
  });

  it('answers an expired nonce with stale=true and a fresh nonce, then accepts the retry', async () => {
    const h = await harness({ nonceLifetimeMs: 60_000 });
    const session = new DigestSession(PUBLIC_KEY, PRIVATE_KEY);
    expect((await h.get('/groups', session)).status).toBe(200);
    h.clock.now += 61_000;
    const uri = target('/groups');
    const stale = await h.raw('/groups', { authorization: session.authorize('GET', uri)! });
    expect(stale.status).toBe(401);
    expect(stale.headers['www-authenticate']).toMatch(CHALLENGE('MD5', true));
    expect(stale.json).toEqual(UNAUTHORIZED_BODY);
    expect(session.onChallenge(stale.headers['www-authenticate'])).toBe('retry');
    expect((await h.raw('/groups', { authorization: session.authorize('GET', uri)! })).status).toBe(200);
  });

  it('does not call an expired nonce stale when the answer is wrong', async () => {
    const h = await harness({ nonceLifetimeMs: 60_000 });
    const session = new DigestSession(PUBLIC_KEY, 'wrong');
    await h.get('/groups', session);
    h.clock.now += 61_000;
    const answer = await h.raw('/groups', { authorization: session.authorize('GET', target('/groups'))! });
    expect(answer.headers['www-authenticate']).toMatch(CHALLENGE('MD5', false));
  });

  it('refuses a replayed nonce count', async () => {
    const h = await harness();
    const session = new DigestSession(PUBLIC_KEY, PRIVATE_KEY);
    await h.get('/groups', session);
    const header = session.authorize('GET', target('/groups'))!;
    expect((await h.raw('/groups', { authorization: header })).status).toBe(200);
    expect((await h.raw('/groups', { authorization: header })).status).toBe(401);
  });

  it('refuses an answer computed for another URI', async () => {
    const h = await harness();
    const session = new DigestSession(PUBLIC_KEY, PRIVATE_KEY);
    await h.get('/groups', session);
    const header = session.authorize('GET', target('/groups?pageNum=1'))!;
    expect((await h.raw('/groups', { authorization: header })).status).toBe(401);
  });

  it('leaves the control API open (no Digest)', async () => {
    const h = await harness();
    expect((await h.raw('/_sim/faults')).status).toBe(200);
  });
});

describe('Ops Manager simulator: projects and clusters', () => {
  it('lists projects with ObjectId-shaped ids and names', async () => {
    const h = await harness({ projects: 3 });
    const answer = await h.get('/groups');
    expect(answer.json.totalCount).toBe(3);
    for (const p of answer.json.results) {
      expect(p.id).toMatch(/^[0-9a-f]{24}$/);
      expect(typeof p.name).toBe('string');
      expect(p.links[0].rel).toBe('self');
    }
    expect(answer.json.results.map((p: { id: string }) => p.id)).toEqual(h.sim.projectIds);
    const one = await h.get(`/groups/${h.sim.projectIds[1]}`);
    expect(one.json.id).toBe(h.sim.projectIds[1]);
  });

  it('lists a sharded cluster with its shard and config server entities', async () => {
    const h = await harness({ clustersPerProject: 3, shardedEvery: 3, shardsPerCluster: 2 });
    const group = h.sim.projectIds[0]!;
    const answer = await h.get(`/groups/${group}/clusters`);
    const types = answer.json.results.map((c: { typeName: string }) => c.typeName);
    expect(types.filter((t: string) => t === 'SHARDED_REPLICA_SET')).toHaveLength(1);
    expect(types.filter((t: string) => t === 'CONFIG_SERVER_REPLICA_SET')).toHaveLength(1);
    expect(answer.json.totalCount).toBe(3 + 2 + 1);
    const parent = answer.json.results.find((c: { typeName: string }) => c.typeName === 'SHARDED_REPLICA_SET');
    expect(parent.replicaSetName).toBeUndefined();
    const shards = answer.json.results.filter((c: { shardName?: string }) => c.shardName);
    expect(shards).toHaveLength(2);
    for (const shard of shards) {
      expect(shard).toMatchObject({ typeName: 'REPLICA_SET', clusterName: parent.clusterName, groupId: group });
      expect(shard.replicaSetName).toBe(shard.shardName);
    }
    for (const c of answer.json.results) expect(c.lastHeartbeat).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const one = await h.get(`/groups/${group}/clusters/${parent.id}`);
    expect(one.json).toEqual(parent);
  });

  it('GET /clusters answers one entry per project with top-level clusters nested', async () => {
    const h = await harness({ projects: 2, clustersPerProject: 3 });
    const answer = await h.get('/clusters');
    expect(answer.json.totalCount).toBe(2);
    const entry = answer.json.results[0];
    expect(entry).toMatchObject({ groupId: h.sim.projectIds[0], groupName: expect.any(String), orgId: expect.any(String) });
    expect(entry.clusters).toHaveLength(3);
    expect(entry.clusters.map((c: { type: string }) => c.type).sort()).toEqual(['replica set', 'replica set', 'sharded cluster']);
  });

  it('answers unknown groups, clusters, jobs and paths with the product error JSON', async () => {
    const h = await harness();
    const group = h.sim.projectIds[0]!;
    const otherGroupCluster = h.sim.clusters.find((c) => c.groupId !== group)!;
    expectErrorBody(await h.get('/groups/aaaaaaaaaaaaaaaaaaaaaaaa'), 404, 'GROUP_NOT_FOUND');
    expectErrorBody(await h.get('/groups/not-an-id/clusters'), 400, 'INVALID_GROUP_ID');
    expectErrorBody(await h.get(`/groups/${group}/clusters/bbbbbbbbbbbbbbbbbbbbbbbb`), 404, 'CLUSTER_NOT_FOUND');
    expectErrorBody(await h.get(`/groups/${group}/clusters/${otherGroupCluster.id}/restoreJobs`), 404, 'CLUSTER_NOT_FOUND');
    expectErrorBody(await h.get(`${jobsPath(replicaSet(h.sim))}/cccccccccccccccccccccccc`), 404, 'RESTORE_JOB_NOT_FOUND');
    expectErrorBody(await h.get('/grooups'), 404, 'RESOURCE_NOT_FOUND');
  });

  it('wraps answers in an envelope on request', async () => {
    const h = await harness();
    const single = await h.get(`/groups/${h.sim.projectIds[0]}?envelope=true`);
    expect(single.json).toMatchObject({ status: 200, content: { id: h.sim.projectIds[0] } });
    const list = await h.get('/groups?envelope=true');
    expect(list.json).toMatchObject({ status: 200, totalCount: 2 });
    const missing = await h.get('/groups/aaaaaaaaaaaaaaaaaaaaaaaa?envelope=true');
    expect(missing.status).toBe(200);
    expect(missing.json).toMatchObject({ status: 404, content: { errorCode: 'GROUP_NOT_FOUND' } });
  });
});

describe('Ops Manager simulator: paging', () => {
  it('pages restore jobs with self/next/previous links', async () => {
    const h = await harness({ jobsPerCluster: 23 });
    const cluster = replicaSet(h.sim);
    const all = await h.get(jobsPath(cluster, '?itemsPerPage=500'));
    expect(all.json.totalCount).toBe(23);
    expect(all.json.results).toHaveLength(23);
    expect(all.json.links.map((l: { rel: string }) => l.rel)).toEqual(['self']);

    const seen: string[] = [];
    let answer = await h.get(jobsPath(cluster, '?itemsPerPage=10'));
    const rels: string[][] = [];
    for (let page = 1; ; page++) {
      expect(answer.status).toBe(200);
      expect(answer.json.totalCount).toBe(23);
      rels.push(answer.json.links.map((l: { rel: string }) => l.rel));
      const self = answer.json.links.find((l: { rel: string }) => l.rel === 'self');
      expect(self.href).toBe(`${h.running.url}${OPS_MANAGER_API_BASE}${jobsPath(cluster)}?pageNum=${page}&itemsPerPage=10`);
      seen.push(...answer.json.results.map((j: { id: string }) => j.id));
      const next = answer.json.links.find((l: { rel: string }) => l.rel === 'next');
      if (!next) break;
      answer = await h.get(next.href);
    }
    expect(rels).toEqual([['self', 'next'], ['previous', 'self', 'next'], ['previous', 'self']]);
    expect(seen).toEqual(all.json.results.map((j: { id: string }) => j.id));
  });

  it('defaults to 100 per page and answers past the end with an empty page', async () => {
    const h = await harness({ jobsPerCluster: 150 });
    const cluster = replicaSet(h.sim);
    const first = await h.get(jobsPath(cluster));
    expect(first.json.results).toHaveLength(100);
    const beyond = await h.get(jobsPath(cluster, '?pageNum=9'));
    expect(beyond.json.results).toEqual([]);
    expect(beyond.json.totalCount).toBe(150);
  });

  it.each(['itemsPerPage=501', 'itemsPerPage=abc', 'itemsPerPage=0', 'pageNum=0', 'pageNum=-1', 'pageNum=x'])(
    'refuses %s with 400 and the product error JSON',
    async (query) => {
      const h = await harness();
      expectErrorBody(await h.get(jobsPath(replicaSet(h.sim), `?${query}`)), 400, 'INVALID_QUERY_PARAMETER');
    },
  );

  it('accepts itemsPerPage=500', async () => {
    const h = await harness();
    expect((await h.get(`/groups?itemsPerPage=500`)).status).toBe(200);
  });
});

describe('Ops Manager simulator: restore jobs', () => {
  it('lists jobs newest first with the documented fields', async () => {
    const h = await harness({ jobsPerCluster: 20 });
    const cluster = replicaSet(h.sim);
    const answer = await h.get(jobsPath(cluster));
    const jobs = answer.json.results;
    expect(jobs).toHaveLength(20);
    const created = jobs.map((j: { created: string }) => Date.parse(j.created));
    expect([...created].sort((a, b) => b - a)).toEqual(created);
    for (const job of jobs) {
      expect(job.id).toMatch(/^[0-9a-f]{24}$/);
      expect(job.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(job).toMatchObject({ clusterId: cluster.id, groupId: cluster.groupId, encryptionEnabled: expect.any(Boolean) });
      expect(job.batchId).toBeUndefined();
      expect(job.snapshotId).toMatch(/^[0-9a-f]{24}$/);
      expect(typeof job.pointInTime).toBe('boolean');
      expect(job.timestamp).toEqual({ date: expect.stringMatching(/Z$/), increment: expect.any(Number) });
      expect(job.links[0]).toEqual({ href: `${h.running.url}${OPS_MANAGER_API_BASE}${jobsPath(cluster)}/${job.id}`, rel: 'self' });
      expect(['IN_PROGRESS', 'FINISHED', 'BROKEN', 'KILLED']).toContain(job.statusName);
    }
    const one = await h.get(`${jobsPath(cluster)}/${jobs[5].id}`);
    expect(one.json).toEqual(jobs[5]);
  });

  it('keeps delivery consistent with the job state', async () => {
    const h = await harness({ jobsPerCluster: 400, jobIntervalMs: 10 * 60_000, jobDurationMs: 5 * 60_000 });
    const jobs = (await h.get(jobsPath(replicaSet(h.sim), '?itemsPerPage=500'))).json.results;
    const statuses = new Set<string>();
    const deliveryStatuses = new Set<string>();
    for (const job of jobs) {
      statuses.add(job.statusName);
      const d = job.delivery;
      deliveryStatuses.add(d.statusName);
      expect(['HTTP', 'QUERY']).toContain(d.methodName);
      if (d.methodName === 'QUERY') expect(d.url).toBeUndefined();
      else expect(d).toMatchObject({ url: expect.any(String), expirationHours: expect.any(Number), maxDownloads: expect.any(Number) });
      if (job.statusName === 'IN_PROGRESS') expect(['NOT_STARTED', 'IN_PROGRESS']).toContain(d.statusName);
      if (job.statusName === 'BROKEN') expect(d.statusName).toBe('FAILED');
      if (job.statusName === 'KILLED') expect(d.statusName).toBe('INTERRUPTED');
      if (job.statusName === 'FINISHED' && d.methodName === 'HTTP') {
        expect(['READY', 'EXPIRED', 'MAX_DOWNLOADS_EXCEEDED']).toContain(d.statusName);
        expect(d.expires).toMatch(/Z$/);
        if (d.statusName === 'EXPIRED') expect(Date.parse(d.expires)).toBeLessThanOrEqual(h.clock.now);
      } else {
        expect(d.expires).toBeUndefined();
      }
      if (job.hashes) {
        expect(job.statusName).toBe('FINISHED');
        expect(job.hashes[0]).toEqual({ fileName: expect.stringMatching(/\.tar\.gz$/), hash: expect.stringMatching(/^[0-9a-f]{40}$/), typeName: 'SHA1' });
      }
      if (job.encryptionEnabled) expect(job.masterKeyUUID).toEqual(expect.any(String));
    }
    expect([...statuses].sort()).toEqual(['BROKEN', 'FINISHED', 'IN_PROGRESS', 'KILLED']);
    expect([...deliveryStatuses]).toEqual(expect.arrayContaining(['READY', 'EXPIRED', 'FAILED', 'INTERRUPTED']));
  });

  it('gives sharded restores one job per shard plus the config server, sharing a batchId', async () => {
    const h = await harness({ jobsPerCluster: 4, shardsPerCluster: 3 });
    const parent = sharded(h.sim);
    const memberIds = h.sim.allClusters.filter((c) => c.parentId === parent.id).map((c) => c.id);
    expect(memberIds).toHaveLength(4);
    const answer = await h.get(jobsPath(parent));
    expect(answer.json.totalCount).toBe(4 * 4);
    const batches = new Map<string, any[]>();
    for (const job of answer.json.results) {
      expect(job.batchId).toMatch(/^[0-9a-f]{24}$/);
      batches.set(job.batchId, [...(batches.get(job.batchId) ?? []), job]);
    }
    expect(batches.size).toBe(4);
    for (const [batchId, jobs] of batches) {
      expect(jobs.map((j) => j.clusterId).sort()).toEqual([...memberIds].sort());
      expect(new Set(jobs.map((j) => j.created)).size).toBe(1);
      const filtered = await h.get(jobsPath(parent, `?batchId=${batchId}`));
      expect(filtered.json.results.map((j: { id: string }) => j.id)).toEqual(jobs.map((j) => j.id));
      expect(filtered.json.totalCount).toBe(4);
    }
    expect((await h.get(jobsPath(parent, '?batchId=dddddddddddddddddddddddd'))).json.totalCount).toBe(0);
    const member = answer.json.results[2];
    expect((await h.get(`${jobsPath(parent)}/${member.id}`)).json).toEqual(member);
  });

  it('moves jobs through their states as the clock advances', async () => {
    const interval = 60_000;
    const h = await harness({ jobsPerCluster: 5, jobIntervalMs: interval, jobDurationMs: 20_000 });
    const cluster = replicaSet(h.sim);
    const before = (await h.get(jobsPath(cluster))).json.results;
    // Go to one second after the newest job was created: it must be running.
    h.clock.now = Date.parse(before[0].created) + 1_000;
    const running = (await h.get(`${jobsPath(cluster)}/${before[0].id}`)).json;
    expect(running.statusName).toBe('IN_PROGRESS');
    expect(running.delivery.statusName).toBe('NOT_STARTED');
    h.clock.now += 30_000;
    const done = (await h.get(`${jobsPath(cluster)}/${before[0].id}`)).json;
    expect(['FINISHED', 'BROKEN', 'KILLED']).toContain(done.statusName);
    h.clock.now = Date.parse(before[0].created) + interval + 1_000;
    const after = (await h.get(jobsPath(cluster))).json;
    expect(after.totalCount).toBe(5);
    expect(after.results[1].id).toBe(before[0].id);
    expect(Date.parse(after.results[0].created)).toBeGreaterThan(Date.parse(before[0].created));
    expect(after.results[0].statusName).toBe('IN_PROGRESS');
  });

  it('is deterministic for a seed and a time', async () => {
    const a = await harness({ seed: 'same' });
    const b = await harness({ seed: 'same' });
    expect(a.sim.projectIds).toEqual(b.sim.projectIds);
    const jobsA = (await a.get(jobsPath(replicaSet(a.sim)))).json.results;
    const jobsB = (await b.get(jobsPath(replicaSet(b.sim)))).json.results;
    const strip = (jobs: any[]) => jobs.map(({ links, delivery, ...rest }) => ({ ...rest, method: delivery.methodName }));
    expect(strip(jobsA)).toEqual(strip(jobsB));
  });
});

describe('Ops Manager simulator: backup', () => {
  it('backup configurations, snapshots newest first with BSON created and a part per shard, schedules, open alerts', async () => {
    const h = await harness();
    const [orders, catalog, sessions] = h.sim.clusters;
    const group = orders!.groupId;
    const configs = (await h.get(`/groups/${group}/backupConfigs`)).json;
    expect(configs.results.map((c: { clusterId: string; statusName: string }) => [c.clusterId, c.statusName])).toEqual([
      [orders!.id, 'STARTED'],
      [catalog!.id, 'STOPPED'],
      [sessions!.id, 'STARTED'],
    ]);
    // The never configured cluster of the second project has no configuration, no schedule, no snapshots.
    const never = h.sim.clusters[3]!;
    expect((await h.get(`/groups/${never.groupId}/backupConfigs`)).json.results.map((c: { clusterId: string }) => c.clusterId)).not.toContain(never.id);
    expectErrorBody(await h.get(`/groups/${never.groupId}/backupConfigs/${never.id}/snapshotSchedule`), 404, 'BACKUP_CONFIG_NOT_FOUND');
    expect((await h.get(`/groups/${never.groupId}/clusters/${never.id}/snapshots`)).json.totalCount).toBe(0);

    const page = (await h.get(`/groups/${group}/clusters/${sessions!.id}/snapshots?pageNum=1&itemsPerPage=5`)).json;
    expect(page.totalCount).toBe(28);
    expect(page.results).toHaveLength(5);
    expect(page.links.map((l: { rel: string }) => l.rel)).toEqual(['self', 'next']);
    const times = page.results.map((snap: { created: { date: string } }) => Date.parse(snap.created.date));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(page.results[0].created).toEqual({ date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/), increment: 1 });
    expect(page.results[1].parts.map((part: { typeName: string }) => part.typeName)).toEqual(['REPLICA_SET', 'REPLICA_SET', 'CONFIG_SERVER_REPLICA_SET']);
    const stopped = (await h.get(`/groups/${group}/clusters/${catalog!.id}/snapshots`)).json.results[0];
    expect(h.clock.now - Date.parse(stopped.created.date)).toBeGreaterThanOrEqual(86_400_000);

    expect((await h.get(`/groups/${group}/backupConfigs/${orders!.id}/snapshotSchedule`)).json.snapshotIntervalHours).toBe(6);

    const open = (await h.get(`/groups/${group}/alerts?status=OPEN`)).json.results;
    expect(open.map((a: { eventTypeName: string; clusterId: string; status: string }) => [a.eventTypeName, a.clusterId, a.status])).toEqual([['RESYNC_REQUIRED', orders!.id, 'OPEN']]);
    await h.post('/_sim/opsmanager/close-alerts', {});
    expect((await h.get(`/groups/${group}/alerts?status=OPEN`)).json.totalCount).toBe(0);
    expect((await h.get(`/groups/${group}/alerts`)).json.results[0].status).toBe('CLOSED');
  });
});

describe('Ops Manager simulator: fail-next', () => {
  it('failNext() makes the next restore of a cluster BROKEN', async () => {
    const h = await harness({ jobIntervalMs: 60_000, jobDurationMs: 20_000 });
    const cluster = replicaSet(h.sim);
    const result = h.sim.failNext(cluster.id);
    expect(result).toMatchObject({ groupId: cluster.groupId, clusterId: cluster.id, jobIds: [expect.stringMatching(/^[0-9a-f]{24}$/)] });
    const created = Date.parse(result.created);
    expect(created).toBeGreaterThan(h.clock.now - 1_000);
    expectErrorBody(await h.get(`${jobsPath(cluster)}/${result.jobIds[0]}`), 404, 'RESTORE_JOB_NOT_FOUND');
    h.clock.now = created + 1_000;
    expect((await h.get(`${jobsPath(cluster)}/${result.jobIds[0]}`)).json.statusName).toBe('IN_PROGRESS');
    h.clock.now = created + 60_000;
    const job = (await h.get(`${jobsPath(cluster)}/${result.jobIds[0]}`)).json;
    expect(job.statusName).toBe('BROKEN');
    expect(job.delivery.statusName).toBe('FAILED');
    expect((await h.get(jobsPath(cluster))).json.results[0].id).toBe(result.jobIds[0]);
  });

  it('fails a whole sharded batch and picks a later restore when called again', async () => {
    const h = await harness({ jobIntervalMs: 60_000, jobDurationMs: 20_000 });
    const parent = sharded(h.sim);
    const first = h.sim.failNext(parent.id);
    const second = h.sim.failNext(parent.id);
    expect(first.batchId).toBeDefined();
    expect(first.jobIds).toHaveLength(3);
    expect(Date.parse(second.created)).toBeGreaterThan(Date.parse(first.created));
    h.clock.now = Date.parse(second.created) + 59_000;
    const batch = (await h.get(jobsPath(parent, `?batchId=${first.batchId}`))).json.results;
    expect(batch.map((j: { statusName: string }) => j.statusName)).toEqual(['BROKEN', 'BROKEN', 'BROKEN']);
  });

  it('POST /_sim/opsmanager/fail-next fails the soonest restore across all clusters', async () => {
    const h = await harness({ jobIntervalMs: 60_000, jobDurationMs: 20_000 });
    const answer = await h.post('/_sim/opsmanager/fail-next', {});
    expect(answer.status).toBe(200);
    const soonest = Math.min(
      ...(await Promise.all(h.sim.clusters.map(async (c) => Date.parse((await h.get(jobsPath(c))).json.results[0].created) + 60_000))),
    );
    expect(Math.abs(Date.parse(answer.json.created) - soonest)).toBeLessThanOrEqual(1_000);
    h.clock.now = Date.parse(answer.json.created) + 59_000;
    const cluster = h.sim.clusters.find((c) => c.id === answer.json.clusterId)!;
    const job = (await h.get(`${jobsPath(cluster)}/${answer.json.jobIds[0]}`)).json;
    expect(job.statusName).toBe('BROKEN');
    expect((await h.post('/_sim/opsmanager/fail-next', { clusterId: 'nope' })).status).toBe(404);
  });

  it('POST /_sim/reset forgets pending forced failures', async () => {
    const h = await harness({ jobIntervalMs: 60_000, jobDurationMs: 20_000, seed: 'reset-check' });
    const cluster = replicaSet(h.sim);
    const result = h.sim.failNext(cluster.id);
    expect((await h.post('/_sim/reset', {})).status).toBe(200);
    // Forgotten: the same restore is again the next one to fail.
    expect(h.sim.failNext(cluster.id).jobIds).toEqual(result.jobIds);
    await h.post('/_sim/reset', {});
    h.clock.now = Date.parse(result.created) + 59_000;
    const job = (await h.get(`${jobsPath(cluster)}/${result.jobIds[0]}`)).json;
    // Without the forced failure the outcome is the seeded one, which for this seed is FINISHED.
    expect(job.statusName).toBe('FINISHED');
  });
});

describe('Ops Manager simulator: faults and size', () => {
  it('applies framework faults in front of authentication, with the product error shape', async () => {
    const h = await harness();
    h.sim.faults.errorStatus = 503;
    const answer = await h.raw('/groups');
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ error: 503, reason: 'Service Unavailable' });
    h.sim.faults.errorStatus = 0;
    h.sim.faults.rateLimitRetryAfter = 3;
    const limited = await h.raw('/groups');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
  });

  it('serves a large simulator (200 clusters x 500 jobs) one page at a time', async () => {
    const h = await harness({ projects: 20, clustersPerProject: 10, shardedEvery: 0, jobsPerCluster: 500 });
    expect(h.sim.clusters).toHaveLength(200);
    const cluster = h.sim.clusters[199]!;
    const answer = await h.get(jobsPath(cluster, '?itemsPerPage=500&pageNum=1'));
    expect(answer.json.results).toHaveLength(500);
    expect(answer.json.totalCount).toBe(500);
    expect((await h.get(`${jobsPath(cluster)}/${answer.json.results[499].id}`)).status).toBe(200);
  });
});

describe('demo simulators', () => {
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:9101')).toEqual({ host: '127.0.0.1', port: 9101 });
    expect(parseListen(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen('19101')).toEqual({ host: '127.0.0.1', port: 19101 });
    expect(parseListen(':0', '0.0.0.0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(() => parseListen('nonsense')).toThrow();
  });

  it('starts Ops Manager with the demo credentials and sizes', async () => {
    const demo = await startSimulators({ opsmanager: { host: '127.0.0.1', port: 0 } });
    try {
      const url = demo.urls.opsmanager!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const session = new DigestSession(DEMO_OPSMANAGER_PUBLIC_KEY, DEMO_OPSMANAGER_PRIVATE_KEY);
      const get = async (path: string) => {
        const uri = `${OPS_MANAGER_API_BASE}${path}`;
        let res = await request(`${url}${uri}`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
        await res.body.dump();
        expect(session.onChallenge(res.headers['www-authenticate'])).toBe('retry');
        res = await request(`${url}${uri}`, { headers: { authorization: session.authorize('GET', uri)! }, headersTimeout: 5_000, bodyTimeout: 5_000 });
        return { status: res.statusCode, json: (await res.body.json()) as any };
      };
      const clusters = await get('/clusters');
      expect(clusters.status).toBe(200);
      expect(clusters.json.totalCount).toBe(2);
      for (const project of clusters.json.results) {
        expect(project.clusters).toHaveLength(3);
        expect(project.clusters.filter((c: { type: string }) => c.type === 'sharded cluster')).toHaveLength(1);
      }
      const rs = clusters.json.results[0].clusters.find((c: { type: string }) => c.type === 'replica set');
      const jobs = await get(`/groups/${clusters.json.results[0].groupId}/clusters/${rs.clusterId}/restoreJobs`);
      expect(jobs.json.totalCount).toBe(20);
      const gaps = jobs.json.results.slice(0, 3).map((j: { created: string }) => Date.parse(j.created));
      expect(Math.round((gaps[0] - gaps[1]) / 1000)).toBeGreaterThanOrEqual(119);
      expect(Math.round((gaps[0] - gaps[1]) / 1000)).toBeLessThanOrEqual(121);
    } finally {
      await demo.close();
    }
  });
});

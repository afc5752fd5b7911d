/**
 * The Atlas simulator against the Atlas Admin API v2 reference and the atlas-sdk-go models: Digest
 * challenge and refusal, OAuth client credentials, versioned Accept headers, paging with and without
 * totalCount, the error shape, and the world's clusters (backup off, failed snapshot, stale, a
 * restore in progress, a sharded cluster whose snapshots are only in the sharded list).
 */
import { request } from 'undici';
import { createAtlasSimulator, type AtlasSimulator } from '../../simulators/atlas';
import { startSimulator } from '../../simulators/framework';
import { closedAfterEach } from '../helpers/exporter';

const track = closedAfterEach();
const V2023 = 'application/vnd.atlas.2023-01-01+json';
const V2024 = 'application/vnd.atlas.2024-08-05+json';
const CLIENT = { clientId: 'mdb_sa_id_sim', clientSecret: 'mdb_sa_sk_sim-secret' };

async function start(): Promise<{ sim: AtlasSimulator; url: string; now: number }> {
  const now = Date.UTC(2024, 7, 5, 12, 5, 0);
  const sim = createAtlasSimulator({ publicKey: 'pub', privateKey: 'priv', serviceAccount: CLIENT, projects: 1, clustersPerProject: 7, clock: () => now });
  const server = track(await startSimulator(sim.app));
  return { sim, url: server.url, now };
}

async function token(url: string, secret = CLIENT.clientSecret): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${url}/api/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function get(url: string, path: string, bearer: string, accept = V2023): Promise<{ status: number; body: any }> {
  const res = await request(`${url}${path}`, { headers: { authorization: `Bearer ${bearer}`, accept } });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('Atlas simulator', () => {
  test('Digest: a request without credentials gets the challenge and the API error shape', async () => {
    const { url } = await start();
    const res = await request(`${url}/api/atlas/v2/groups`, { headers: { accept: V2023 } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Digest realm="MMS Public API", domain="", nonce="[^"]+", algorithm=MD5, qop="auth", stale=false$/);
    expect(await res.body.json()).toEqual({ detail: 'You are not authorized for this resource.', error: 401, errorCode: 'NOT_AUTHORIZED', parameters: [], reason: 'Unauthorized' });
  });

  test('OAuth: client credentials give an hour-long bearer token; a wrong secret is invalid_client; a revoked token is refused', async () => {
    const { sim, url } = await start();
    expect(await token(url, 'wrong')).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'Invalid client credentials.' } });
    const { status, body } = await token(url);
    expect(status).toBe(200);
    expect(body).toMatchObject({ expires_in: 3600, token_type: 'Bearer' });
    expect((await get(url, '/api/atlas/v2/groups', body.access_token as string)).status).toBe(200);
    sim.revokeTokens();
    expect((await get(url, '/api/atlas/v2/groups', body.access_token as string)).status).toBe(401);
  });

  test('a version date the resource does not have is refused with 406; each resource serves its own', async () => {
    const { sim, url } = await start();
    const bearer = (await token(url)).body.access_token as string;
    const group = sim.projects[0]!.id;
    expect((await get(url, '/api/atlas/v2/groups', bearer, 'application/json')).status).toBe(406);
    expect((await get(url, '/api/atlas/v2/groups', bearer, V2024)).status).toBe(406);
    const clusters = await get(url, `/api/atlas/v2/groups/${group}/clusters`, bearer, V2024);
    expect(clusters.status).toBe(200);
    expect(clusters.body.results.map((c: any) => [c.name, c.backupEnabled, c.clusterType])).toEqual([
      ['orders', true, 'REPLICASET'],
      ['catalog', false, 'REPLICASET'],
      ['sessions', true, 'REPLICASET'],
      ['billing', true, 'REPLICASET'],
      ['inventory', true, 'REPLICASET'],
      ['events', true, 'REPLICASET'],
      ['profiles', true, 'SHARDED'],
    ]);
    // The older shape names the cloud backup flag providerBackupEnabled.
    const legacy = await get(url, `/api/atlas/v2/groups/${group}/clusters`, bearer, 'application/vnd.atlas.2023-02-01+json');
    expect(legacy.body.results[1]).toMatchObject({ backupEnabled: false, providerBackupEnabled: false });
    expect(legacy.body.results[0]).toMatchObject({ providerBackupEnabled: true });
  });

  test('paging: pageNum and itemsPerPage (at most 500), totalCount unless includeCount=false, 400 beyond', async () => {
    const { sim, url } = await start();
    const bearer = (await token(url)).body.access_token as string;
    const base = `/api/atlas/v2/groups/${sim.projects[0]!.id}/clusters/orders/backup/snapshots`;
    const page = await get(url, `${base}?pageNum=2&itemsPerPage=3`, bearer);
    expect(page.body.results).toHaveLength(3);
    expect(page.body.totalCount).toBe(8);
    expect((await get(url, `${base}?includeCount=false`, bearer)).body.totalCount).toBeUndefined();
    const refused = await get(url, `${base}?itemsPerPage=501`, bearer);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 400, errorCode: 'INVALID_QUERY_PARAMETER', reason: 'Bad Request' });
  });

  test('the world: a failed snapshot, a stale cluster, a restore in progress, a schedule from policy items', async () => {
    const { sim, url, now } = await start();
    const bearer = (await token(url)).body.access_token as string;
    const group = sim.projects[0]!.id;
    const snapshots = async (name: string) => (await get(url, `/api/atlas/v2/groups/${group}/clusters/${name}/backup/snapshots`, bearer)).body.results as any[];
    const statuses = (await snapshots('sessions')).map((s) => s.status);
    expect(statuses).toContain('failed');
    for (const s of await snapshots('orders')) expect(Object.keys(s)).toEqual(expect.arrayContaining(['createdAt', 'expiresAt', 'id', 'status', 'storageSizeBytes', 'type']));
    const staleNewest = Date.parse((await snapshots('billing'))[0].createdAt);
    expect(now - staleNewest).toBeGreaterThan(3 * 86_400_000);
    expect(await snapshots('catalog')).toEqual([]);
    const restores = (await get(url, `/api/atlas/v2/groups/${group}/clusters/orders/backup/restoreJobs`, bearer)).body.results as any[];
    expect(restores[0]).toMatchObject({ cancelled: false, failed: false, expired: false });
    expect(restores[0].finishedAt).toBeUndefined();
    expect(restores.filter((r) => r.finishedAt !== undefined).length).toBeGreaterThan(0);
    const schedule = (await get(url, `/api/atlas/v2/groups/${group}/clusters/orders/backup/schedule`, bearer, V2024)).body;
    expect(schedule.policies[0].policyItems.map((i: any) => [i.frequencyType, i.frequencyInterval])).toEqual([
      ['hourly', 6],
      ['daily', 1],
      ['weekly', 6],
      ['monthly', 40],
    ]);
    const daily = (await get(url, `/api/atlas/v2/groups/${group}/clusters/inventory/backup/schedule`, bearer, V2024)).body;
    expect(daily.policies[0].policyItems.map((i: any) => i.frequencyType)).toEqual(['daily', 'weekly', 'monthly']);
  });

  test('a sharded cluster\'s snapshots are only in the sharded list, whole, with their members; a replica set\'s only in its own', async () => {
    const { sim, url, now } = await start();
    const bearer = (await token(url)).body.access_token as string;
    const group = sim.projects[0]!.id;
    const list = async (name: string, sharded: boolean, query = '') =>
      (await get(url, `/api/atlas/v2/groups/${group}/clusters/${name}/backup/snapshots${sharded ? '/shardedClusters' : ''}${query}`, bearer)).body;
    expect((await list('profiles', false)).results).toEqual([]);
    expect((await list('orders', true)).results).toEqual([]);
    const sharded = await list('profiles', true, '?itemsPerPage=3');
    expect(sharded.totalCount).toBe(8);
    expect(sharded.results).toHaveLength(8);
    for (const snapshot of sharded.results) {
      expect(snapshot).toMatchObject({ type: 'shardedCluster', snapshotType: 'scheduled' });
      expect(snapshot.members.map((m: any) => m.replicaSetName)).toEqual([expect.stringMatching(/-shard-0$/), expect.stringMatching(/-shard-1$/), expect.stringMatching(/-config-0$/)]);
      expect(snapshot.snapshotIds).toEqual(snapshot.members.map((m: any) => m.id));
    }
    expect(now - Date.parse(sharded.results[0].createdAt)).toBeLessThan(6 * 3_600_000);
    expect((await get(url, `/api/atlas/v2/groups/${group}/clusters/profiles/backup/snapshots/shardedClusters`, bearer, V2024)).status).toBe(406);
  });

  test('a second project\'s sharded cluster is a global one (GEOSHARDED)', async () => {
    const sim = createAtlasSimulator({ publicKey: 'pub', privateKey: 'priv', projects: 2, clustersPerProject: 7 });
    expect(sim.clusters.filter((c) => c.role === 'sharded').map((c) => c.clusterType)).toEqual(['SHARDED', 'GEOSHARDED']);
  });
});

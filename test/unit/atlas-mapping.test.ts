/** Atlas mapping, table-tested from the fixture answers (test/fixtures/atlas, each saying where its shape comes from). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job, RestorePoint } from '../../src/model';
import {
  ATLAS_API_VERSIONS,
  acceptHeader,
  mapClusters,
  mapRestoreJobs,
  mapSnapshots,
  policyItemSeconds,
  protectionOf,
  scheduleIntervalSeconds,
  snapshotsPath,
  versionFor,
} from '../../src/providers/atlas';
import { recordingSink } from '../helpers/collect';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(__dirname, '../fixtures/atlas', name), 'utf8'));
const results = (name: string) => (fixture(name) as { results: unknown[] }).results;
const t = (iso: string) => Date.parse(iso) / 1000;

describe('clusters', () => {
  test('each cluster is <project>/<cluster>, protected when backupEnabled or providerBackupEnabled, sharded by clusterType; one without a name is a problem', () => {
    const sink = recordingSink();
    const clusters = mapClusters(results('clusters-page.json'), 'Production', sink);
    expect(clusters).toEqual([
      { name: 'orders', resource: 'Production/orders', backup: true, sharded: false },
      { name: 'scratch', resource: 'Production/scratch', backup: false, sharded: false },
      { name: 'legacy', resource: 'Production/legacy', backup: true, sharded: false },
      { name: 'events', resource: 'Production/events', backup: true, sharded: true },
      { name: 'global', resource: 'Production/global', backup: true, sharded: true },
      { name: 'odd', resource: 'Production/odd', backup: false, sharded: false },
    ]);
    expect(sink.problems).toEqual([
      'cluster of project Production without a name',
      'cluster Production/odd: clusterType "CONSTELLATION" is not REPLICASET, SHARDED or GEOSHARDED; its snapshots are read as a replica set\'s',
    ]);
    expect(clusters.map((c) => protectionOf(c))).toEqual([
      { resource: 'Production/orders', protected: true, status: 'enabled' },
      { resource: 'Production/scratch', protected: false, status: 'disabled' },
      { resource: 'Production/legacy', protected: true, status: 'enabled' },
      { resource: 'Production/events', protected: true, status: 'enabled' },
      { resource: 'Production/global', protected: true, status: 'enabled' },
      { resource: 'Production/odd', protected: false, status: 'disabled' },
    ]);
    expect(protectionOf(clusters[0]!, 21600)).toEqual({ resource: 'Production/orders', protected: true, status: 'enabled', scheduleIntervalSeconds: 21600 });
  });
});

describe('snapshots', () => {
  test('restore points and backup runs with state, creation time and size; odd entries are named problems', () => {
    const sink = recordingSink();
    const { restorePoints, jobs } = mapSnapshots(results('snapshots-page.json'), 'Production/orders', sink);
    expect(restorePoints.map((p) => [p.id.slice(-1), p.state, p.createdAt, p.bytes])).toEqual<Array<[string, RestorePoint['state'], number, number | undefined]>>([
      ['6', 'creating', t('2024-08-05T12:00:00Z'), 0],
      ['5', 'creating', t('2024-08-05T06:00:00Z'), undefined],
      ['4', 'error', t('2024-08-05T00:00:00Z'), 0],
      ['3', 'available', t('2024-08-04T18:00:00Z'), 1843200000],
      ['2', 'available', t('2024-08-04T12:00:00Z'), 1835008000],
      ['1', 'unknown', t('2024-08-04T06:00:00Z'), 1800000000],
    ]);
    expect(restorePoints.every((p) => p.vault === '' && p.resource === 'Production/orders')).toBe(true);
    expect(jobs.map((j) => [j.kind, j.state, j.status, j.startedAt, j.endedAt])).toEqual([
      ['backup', 'pending', 'queued', t('2024-08-05T12:00:00Z'), undefined],
      ['backup', 'running', 'inProgress', t('2024-08-05T06:00:00Z'), undefined],
      ['backup', 'failed', 'failed', t('2024-08-05T00:00:00Z'), undefined],
      ['backup', 'succeeded', 'completed', t('2024-08-04T18:00:00Z'), undefined],
      ['backup', 'succeeded', 'completed', t('2024-08-04T12:00:00Z'), undefined],
      ['backup', 'unknown', 'archived', t('2024-08-04T06:00:00Z'), undefined],
    ]);
    expect(sink.unknown).toEqual(['archived']);
    expect(sink.problems).toEqual([
      'snapshot 66b0c0000000000000000000 of Production/orders: createdAt "2024-08-04 00:00:00" is not an ISO-8601 time',
      'snapshot of Production/orders without an id',
    ]);
  });

  test('a sharded cluster\'s snapshots (one per cluster, its shards in members) map the same way', () => {
    const sink = recordingSink();
    const { restorePoints, jobs } = mapSnapshots(results('sharded-snapshots-page.json'), 'Production/events', sink);
    expect(restorePoints.map((p) => [p.id.slice(-1), p.state, p.createdAt, p.bytes])).toEqual<Array<[string, RestorePoint['state'], number, number | undefined]>>([
      ['4', 'creating', t('2024-08-05T09:00:00Z'), undefined],
      ['3', 'available', t('2024-08-05T03:00:00Z'), 5242880000],
      ['2', 'error', t('2024-08-04T21:00:00Z'), 0],
    ]);
    expect(restorePoints.every((p) => p.vault === '' && p.resource === 'Production/events')).toBe(true);
    expect(jobs.map((j) => [j.kind, j.state, j.status])).toEqual([
      ['backup', 'running', 'inProgress'],
      ['backup', 'succeeded', 'completed'],
      ['backup', 'failed', 'failed'],
    ]);
    expect(sink.unknown).toEqual([]);
    expect(sink.problems).toEqual(['snapshot 66b0e0000000000000000001 of Production/events: createdAt undefined is not an ISO-8601 time']);
  });

  test.each([
    [{ sharded: false }, '/api/atlas/v2/groups/g/clusters/orders/backup/snapshots'],
    [{ sharded: true }, '/api/atlas/v2/groups/g/clusters/orders/backup/snapshots/shardedClusters'],
  ])('snapshots of %j are listed at %s', (cluster, path) => {
    expect(snapshotsPath('/api/atlas/v2/groups/g/clusters/orders/backup', cluster)).toBe(path);
  });

  test('a list that is not of objects gives problems, never a throw', () => {
    const sink = recordingSink();
    expect(mapSnapshots([null, 3, 'x', []], 'p/c', sink)).toEqual({ restorePoints: [], jobs: [] });
    expect(sink.problems).toEqual(Array(4).fill('snapshot of p/c is not an object'));
  });
});

describe('restore jobs', () => {
  test('state from the flags, real start and end, download expiry while the link is usable', () => {
    const sink = recordingSink();
    const jobs = mapRestoreJobs(results('restore-jobs-page.json'), 'Production/orders', sink);
    expect(jobs.map((j) => [j.id.slice(-2), j.state, j.status, j.startedAt, j.endedAt, j.deliveryExpiresAt])).toEqual<
      Array<[string, Job['state'], string, number | undefined, number | undefined, number | undefined]>
    >([
      ['06', 'running', 'inProgress', t('2024-08-05T11:50:00Z'), undefined, undefined],
      ['05', 'succeeded', 'finished', t('2024-08-05T09:00:00Z'), t('2024-08-05T09:42:30Z'), undefined],
      ['04', 'succeeded', 'finished', t('2024-08-05T08:00:00Z'), t('2024-08-05T08:10:00Z'), t('2024-08-05T12:10:00Z')],
      ['03', 'failed', 'failed', t('2024-08-04T20:00:00Z'), undefined, undefined],
      ['02', 'cancelled', 'cancelled', t('2024-08-04T19:00:00Z'), undefined, undefined],
      ['01', 'failed', 'expired', t('2024-08-03T08:00:00Z'), undefined, undefined],
      ['00', 'succeeded', 'finished', undefined, t('2024-08-03T07:30:00Z'), undefined],
      ['ff', 'running', 'inProgress', t('2024-08-02T07:00:00Z'), undefined, undefined],
    ]);
    expect(jobs.every((j) => j.kind === 'restore' && j.resource === 'Production/orders')).toBe(true);
    expect(sink.problems).toEqual(['restore job 66b0d00000000000000000ff: finishedAt "yesterday" is not an ISO-8601 time']);
  });
});

describe('schedule', () => {
  test('the most frequent policy item gives the interval', () => {
    const sink = recordingSink();
    expect(scheduleIntervalSeconds(fixture('schedule.json'), sink, 'p/c')).toBe(6 * 3600);
    expect(sink.problems).toEqual([]);
  });

  test.each([
    [{ frequencyType: 'hourly', frequencyInterval: 1 }, 3600],
    [{ frequencyType: 'hourly', frequencyInterval: 12 }, 12 * 3600],
    [{ frequencyType: 'daily', frequencyInterval: 1 }, 86400],
    [{ frequencyType: 'weekly', frequencyInterval: 7 }, 7 * 86400],
    [{ frequencyType: 'monthly', frequencyInterval: 40 }, 31 * 86400],
    [{ frequencyType: 'yearly', frequencyInterval: 12 }, 366 * 86400],
    [{ frequencyType: 'hourly', frequencyInterval: 0 }, undefined],
    [{ frequencyType: 'hourly', frequencyInterval: '6' }, undefined],
    [{ frequencyType: 'fortnightly', frequencyInterval: 1 }, undefined],
    ['daily', undefined],
  ])('%j: %s s', (item, seconds) => {
    expect(policyItemSeconds(item)).toBe(seconds);
  });

  test('a schedule without usable items says nothing, and says why', () => {
    const sink = recordingSink();
    expect(scheduleIntervalSeconds({ policies: [] }, sink, 'p/c')).toBeUndefined();
    expect(scheduleIntervalSeconds({ policies: [{ policyItems: [{ frequencyType: 'x' }] }] }, sink, 'p/c')).toBeUndefined();
    expect(scheduleIntervalSeconds('nonsense', sink, 'p/c')).toBeUndefined();
    expect(sink.problems).toEqual([
      'backup schedule of p/c has no policy items',
      'backup schedule of p/c: policy item {"frequencyType":"x"} has no known frequency',
      'backup schedule of p/c has no policy items',
    ]);
  });
});

describe('versions', () => {
  test.each([
    ['/api/atlas/v2/groups', ATLAS_API_VERSIONS.groups],
    ['/api/atlas/v2/groups/32b6e34b3d91647abb20e7b8', ATLAS_API_VERSIONS.groups],
    ['/api/atlas/v2/groups/g/clusters', '2024-08-05'],
    ['/api/atlas/v2/groups/g/clusters/orders/backup/schedule', '2024-08-05'],
    ['/api/atlas/v2/groups/g/clusters/orders/backup/snapshots', '2023-01-01'],
    ['/api/atlas/v2/groups/g/clusters/orders/backup/snapshots/shardedClusters?pageNum=1', ATLAS_API_VERSIONS.shardedSnapshots],
    ['/api/atlas/v2/groups/g/clusters/orders/backup/restoreJobs?pageNum=2', '2023-01-01'],
  ])('%s is read in %s', (path, version) => {
    expect(versionFor(path)).toBe(version);
    expect(acceptHeader(version)).toBe(`application/vnd.atlas.${version}+json`);
  });
});

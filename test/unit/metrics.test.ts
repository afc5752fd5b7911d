import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_DURATION_BUCKETS, JobHistory, RENDER_SLICE_LINES, SummaryBuilder, TARGET_METRICS, createExporterMetrics, escapeLabelValue, finishedJob, joinRendered, NewestJobs, newestJobs, renderTarget, renderTargetInSlices, renderTargets, summarizeNow } from '../../src/metrics';
import { stringField } from '../../src/providers/util';
import type { TargetSnapshot } from '../../src/metrics';
import type { Job, RestorePoint } from '../../src/model';

import { job, snapshot } from '../helpers/snapshots';

const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

describe('renderTargets', () => {
  test('backup_jobs has every state, zeros included', () => {
    const text = renderTargets([{ snapshot: snapshot({ jobs: [job({ id: 'a' }), job({ id: 'b', state: 'failed', status: 'BROKEN' })] }) }]);
    const jobs = lines(text).filter((l) => l.startsWith('backup_jobs{'));
    expect(jobs).toEqual([
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="pending"} 0',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="running"} 0',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="succeeded"} 1',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="warning"} 0',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="failed"} 1',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="cancelled"} 0',
      'backup_jobs{target="ops",provider="opsmanager",kind="restore",state="unknown"} 0',
    ]);
  });

  test('per-job series, last success and failure per resource, delivery expiry', () => {
    const text = renderTargets([
      {
        snapshot: snapshot({
          jobs: [
            job({ id: 'a', startedAt: 100, endedAt: 160, bytes: 2048, deliveryExpiresAt: 999 }),
            job({ id: 'b', startedAt: 200 }),
            job({ id: 'c', startedAt: 300, state: 'failed', status: 'BROKEN' }),
          ],
        }),
      },
    ]);
    const l = lines(text);
    expect(l).toContain('backup_job_state{target="ops",provider="opsmanager",kind="restore",job_id="a",resource="r",state="succeeded",status="FINISHED"} 1');
    expect(l).toContain('backup_job_start_timestamp_seconds{target="ops",provider="opsmanager",kind="restore",job_id="a",resource="r"} 100');
    expect(l).toContain('backup_job_end_timestamp_seconds{target="ops",provider="opsmanager",kind="restore",job_id="a",resource="r"} 160');
    expect(l).toContain('backup_job_size_bytes{target="ops",provider="opsmanager",kind="restore",job_id="a",resource="r"} 2048');
    expect(l).toContain('backup_restore_delivery_expiry_timestamp_seconds{target="ops",provider="opsmanager",job_id="a",resource="r"} 999');
    // Newest succeeded: b (start 200, no end) beats a (end 160).
    expect(l).toContain('backup_last_success_timestamp_seconds{target="ops",provider="opsmanager",kind="restore",resource="r"} 200');
    expect(l).toContain('backup_last_failure_timestamp_seconds{target="ops",provider="opsmanager",kind="restore",resource="r"} 300');
    expect(l.filter((x) => x.startsWith('backup_job_end_timestamp_seconds'))).toHaveLength(1);
  });

  test('max_jobs keeps the newest jobs for per-job series; backup_jobs still counts all', () => {
    const jobs = Array.from({ length: 10 }, (_, i) => job({ id: `j${i}`, startedAt: i }));
    const text = renderTargets([{ snapshot: snapshot({ jobs, maxJobs: 3 }) }]);
    const ids = lines(text)
      .filter((l) => l.startsWith('backup_job_state'))
      .map((l) => /job_id="(\w+)"/.exec(l)?.[1]);
    expect(ids).toEqual(['j9', 'j8', 'j7']);
    expect(lines(text)).toContain('backup_jobs{target="ops",provider="opsmanager",kind="restore",state="succeeded"} 10');
    expect(newestJobs([job({ id: 'x' }), job({ id: 'y', startedAt: 5 })], 1).map((j) => j.id)).toEqual(['y']);
  });

  test('a failed target has backup_up 0 and no job series, and other targets are unaffected', () => {
    const text = renderTargets([
      { snapshot: snapshot({ target: 'down', ok: false }) },
      { snapshot: snapshot({ target: 'fine', jobs: [job({})] }) },
    ]);
    expect(lines(text)).toContain('backup_up{target="down",provider="opsmanager"} 0');
    expect(lines(text)).toContain('backup_up{target="fine",provider="opsmanager"} 1');
    expect(lines(text).filter((l) => l.includes('target="down"') && l.startsWith('backup_jobs'))).toEqual([]);
    // One HELP and TYPE per family, even with two targets.
    expect(text.match(/# TYPE backup_up gauge/g)).toHaveLength(1);
  });

  test('restore points: counts per vault and state, newest available per resource', () => {
    const text = renderTargets([
      {
        snapshot: snapshot({
          provider: 'cbr',
          restorePointsSupported: true,
          restorePoints: [
            { id: '1', resource: 'vm1', vault: 'v', state: 'available', createdAt: 10 },
            { id: '2', resource: 'vm1', vault: 'v', state: 'available', createdAt: 20 },
            { id: '3', resource: 'vm1', vault: 'v', state: 'error', createdAt: 30 },
          ],
        }),
      },
    ]);
    expect(lines(text)).toContain('backup_restore_points{target="ops",provider="cbr",vault="v",state="available"} 2');
    expect(lines(text)).toContain('backup_restore_points{target="ops",provider="cbr",vault="v",state="error"} 1');
    expect(lines(text)).toContain('backup_restore_points{target="ops",provider="cbr",vault="v",state="deleting"} 0');
    expect(lines(text)).toContain('backup_last_restore_point_timestamp_seconds{target="ops",provider="cbr",vault="v",resource="vm1"} 20');
  });

  test('label values are escaped and bounded', () => {
    const text = renderTargets([{ snapshot: snapshot({ jobs: [job({ resource: 'a"b\\c\nd' + 'x'.repeat(500) })] }) }]);
    const line = lines(text).find((l) => l.startsWith('backup_job_state')) as string;
    expect(line).toContain('resource="a\\"b\\\\c\\nd');
    expect(line.length).toBeLessThan(600);
  });

  test("the exposition: process metrics, the exporter's (with what the collection counted), then the targets", async () => {
    const own = createExporterMetrics('0.0.0-test');
    own.initTarget('ops', 'opsmanager');
    const text = await own.exposition(async () => {
      own.collectErrors.inc({ target: 'ops', provider: 'opsmanager', reason: 'timeout' });
      return 'backup_up{target="ops"} 0\n';
    });
    // Counted during the collection, so served by this scrape.
    expect(text).toContain('backup_exporter_collect_errors_total{target="ops",provider="opsmanager",reason="timeout"} 1');
    expect(text.indexOf('\nprocess_cpu_user_seconds_total ')).toBeGreaterThan(0);
    expect(text.indexOf('\nprocess_cpu_user_seconds_total ')).toBeLessThan(text.indexOf('\nbackup_exporter_build_info{'));
    expect(text.endsWith('backup_up{target="ops"} 0\n')).toBe(true);
  });

  test('a collection that fails fails the exposition, with no stray rejection', async () => {
    const own = createExporterMetrics('0.0.0-test');
    await expect(own.exposition(() => Promise.reject(new Error('broken')))).rejects.toThrow('broken');
  });
});

describe('JobHistory', () => {
  test('counts each job once, when first seen in a terminal state, and observes durations once', () => {
    const history = new JobHistory(['restore']);
    [job({ id: 'a', state: 'running', status: 'IN_PROGRESS', startedAt: 0 })].forEach((j) => history.record(j));
    expect(history.finished.get('restore\u0000succeeded')).toBe(0);
    [job({ id: 'a', startedAt: 0, endedAt: 120 }), job({ id: 'b', state: 'failed', status: 'BROKEN' })].forEach((j) => history.record(j));
    [job({ id: 'a', startedAt: 0, endedAt: 120 }), job({ id: 'b', state: 'failed', status: 'BROKEN' })].forEach((j) => history.record(j));
    expect(history.finished.get('restore\u0000succeeded')).toBe(1);
    expect(history.finished.get('restore\u0000failed')).toBe(1);
    const histogram = history.durations.get('restore\u0000succeeded');
    expect(histogram?.count).toBe(1);
    expect(histogram?.sum).toBe(120);
    expect(histogram?.buckets[JOB_DURATION_BUCKETS.indexOf(300)]).toBe(1);
    expect(histogram?.buckets[JOB_DURATION_BUCKETS.indexOf(60)]).toBe(0);
  });

  test('remembers a bounded number of ids', () => {
    const history = new JobHistory(['restore'], 10);
    Array.from({ length: 50 }, (_, i) => job({ id: String(i) })).forEach((j) => history.record(j));
    // The first ids were forgotten: seeing them again counts them again, memory stays bounded.
    [job({ id: '0' })].forEach((j) => history.record(j));
    expect(history.finished.get('restore\u0000succeeded')).toBe(51);
    expect(history.remembered()).toEqual({ ids: 10, resources: 1 });
    // The newest ten (41..49 and 0 again) are still known: seeing them again counts nothing.
    ['0', '41', '49'].forEach((id) => history.record(job({ id })));
    expect(history.finished.get('restore\u0000succeeded')).toBe(51);
  });

  test('a window with more finished jobs than the history remembers counts the newest once, then only new ones', async () => {
    const capacity = 100;
    const history = new JobHistory(['restore'], capacity);
    const finishedCount = () => history.finished.get('restore\u0000succeeded');
    // 1,000 finished jobs in the window, listed in no particular order, on every collection.
    const window = Array.from({ length: 1000 }, (_, i) => job({ id: `j${(i * 7919) % 1000}`, startedAt: 1_000_000 + ((i * 7919) % 1000) * 60 }));
    const collect = async (jobs: Job[]) => {
      const batch = history.begin();
      jobs.forEach((j) => batch.add(j));
      await batch.commit();
    };
    await collect(window);
    expect(finishedCount()).toBe(capacity);
    for (let n = 0; n < 5; n++) await collect(window);
    // Forgotten jobs are older than what is remembered: they do not count again.
    expect(finishedCount()).toBe(capacity);
    // A job that finished since counts once, even though the history is full.
    const newer = job({ id: 'new', startedAt: 1_000_000 + 1000 * 60 });
    await collect([...window, newer]);
    await collect([...window, newer]);
    expect(finishedCount()).toBe(capacity + 1);
    expect(history.remembered().ids).toBe(capacity);
  });

  test('a resource whose only remembered id is the oldest keeps the id that pushes it out', () => {
    const seen = (resource: string, id: string) => job({ resource, id });
    const two = new JobHistory(['restore'], 2);
    [seen('r', '1'), seen('s', '1'), seen('r', '2'), seen('r', '2')].forEach((j) => two.record(j));
    expect(two.finished.get('restore\u0000succeeded')).toBe(3);
    const one = new JobHistory(['restore'], 1);
    [seen('r', '1'), seen('r', '2'), seen('r', '2')].forEach((j) => one.record(j));
    expect(one.finished.get('restore\u0000succeeded')).toBe(2);
    expect(one.remembered()).toEqual({ ids: 1, resources: 1 });
  });

  test('counts exactly what one set of the newest `capacity` ids would count, for any sequence', () => {
    const sighting = fc.record({
      kind: fc.constantFrom<'backup' | 'restore'>('backup', 'restore'),
      resource: fc.constantFrom('r', 's', 't'),
      id: fc.constantFrom('1', '2', '3', '4'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.array(sighting, { maxLength: 60 }), (capacity, sightings) => {
        const history = new JobHistory(['backup', 'restore'], capacity);
        // The definition: one insertion-ordered set of joined keys, the oldest dropped past capacity.
        const remembered = new Set<string>();
        let expected = 0;
        for (const { kind, resource, id } of sightings) {
          history.record(job({ kind, resource, id }));
          const key = `${kind}/${resource}/${id}`;
          if (remembered.has(key)) continue;
          expected++;
          remembered.add(key);
          if (remembered.size > capacity) remembered.delete(remembered.values().next().value as string);
        }
        const counted = (history.finished.get('backup\u0000succeeded') ?? 0) + (history.finished.get('restore\u0000succeeded') ?? 0);
        expect(counted).toBe(expected);
        expect(history.remembered().ids).toBe(remembered.size);
        expect(history.remembered().resources).toBe(new Set([...remembered].map((key) => key.slice(0, key.lastIndexOf('/')))).size);
      }),
      { numRuns: 500 },
    );
  });

  test('forgets the oldest ids across resources and kinds, and keeps nothing of a resource whose ids are all forgotten', () => {
    const history = new JobHistory(['backup', 'restore'], 4);
    const seen = (kind: 'backup' | 'restore', resource: string, id: string) => job({ kind, resource, id });
    [seen('backup', 'r1', 'a'), seen('restore', 'r1', 'a'), seen('backup', 'r2', 'a'), seen('backup', 'r1', 'b')].forEach((j) => history.record(j));
    // Same id, other kind or resource: a different job.
    expect(history.finished.get('backup\u0000succeeded')).toBe(3);
    expect(history.finished.get('restore\u0000succeeded')).toBe(1);
    // Four more on a new resource push out all four earlier ones (the ring turns over once).
    ['1', '2', '3', '4'].forEach((id) => history.record(seen('backup', 'r3', id)));
    expect(history.remembered()).toEqual({ ids: 4, resources: 1 });
    history.record(seen('restore', 'r1', 'a'));
    expect(history.finished.get('restore\u0000succeeded')).toBe(2);
    expect(history.remembered()).toEqual({ ids: 4, resources: 2 });
  });
});

test('docs/metrics.md documents every metric the exporter serves', async () => {
  const docs = readFileSync(join(__dirname, '../../docs/metrics.md'), 'utf8');
  const own = createExporterMetrics('0');
  const names = [
    ...Object.values(TARGET_METRICS).map((f) => f.name),
    ...(await own.registry.getMetricsAsJSON()).map((m) => m.name),
  ];
  for (const name of names) expect(docs).toContain(`\`${name}\``);
});

test('newestJobs agrees with a full sort, for any limit', () => {
  const jobs = Array.from({ length: 500 }, (_, i) => job({ id: String(i), startedAt: i % 7 === 0 ? undefined : (i * 7919) % 1000 }));
  const sorted = [...jobs].sort((a, b) => (b.startedAt ?? -Infinity) - (a.startedAt ?? -Infinity));
  for (const limit of [0, 1, 2, 10, 99, 499, 500, 501]) {
    expect(newestJobs(jobs, limit).map((j) => j.startedAt)).toEqual(sorted.slice(0, limit).map((j) => j.startedAt));
  }
});

test('a finished job the batch dropped for newer ones is taken again when listed with a newer start', async () => {
  const history = new JobHistory(['restore'], 2);
  const batch = history.begin();
  for (const [id, startedAt] of [['j1', 1], ['j2', 2], ['j3', 3], ['j1', 4]] as const) batch.add(job({ id, startedAt }));
  await batch.commit();
  expect(history.has(finishedJob(job({ id: 'j1', startedAt: 4 }))!)).toBe(true);
  expect(history.has(finishedJob(job({ id: 'j3', startedAt: 3 }))!)).toBe(true);
  expect(history.finished.get('restore\u0000succeeded')).toBe(2);
});

test('NewestJobs: takeOldest gives the kept jobs oldest first, and onDrop hears of every job not kept', () => {
  const jobs = Array.from({ length: 300 }, (_, i) => job({ id: String(i), startedAt: i % 11 === 0 ? undefined : (i * 7919) % 1000 }));
  const dropped: string[] = [];
  const newest = new NewestJobs<Job>(100, (j) => dropped.push(j.id));
  jobs.forEach((j) => newest.add(j));
  const taken: Job[] = [];
  while (newest.size > 0) taken.push(newest.takeOldest()!);
  expect(taken.map((j) => j.id).reverse()).toEqual(newestJobs(jobs, 100).map((j) => j.id));
  expect(new Set([...dropped, ...taken.map((j) => j.id)]).size).toBe(300);
  expect(dropped).toHaveLength(200);
  expect(newest.takeOldest()).toBeUndefined();
});

describe('summaries', () => {
  test('jobs that started before the lookback window are left out; jobs without a start are kept', () => {
    const summary = summarizeNow(
      { jobs: [job({ id: 'old', startedAt: 99 }), job({ id: 'edge', startedAt: 100 }), job({ id: 'new', startedAt: 200 }), job({ id: 'none' })], restorePoints: [] },
      10,
      100,
    );
    expect(summary.jobCount).toBe(3);
    expect(summary.newest.map((j) => j.id)).toEqual(['new', 'edge', 'none']);
  });

  test('finished jobs count only when the collection\'s batch is committed, each once', async () => {
    const jobs = Array.from({ length: 1_234 }, (_, i) => job({ id: String(i), resource: `r${i % 17}`, state: i % 5 === 0 ? 'failed' : 'succeeded', startedAt: i }));
    const history = new JobHistory(['restore']);
    const failedCollection = new SummaryBuilder(50, -Infinity, history.begin());
    jobs.forEach((j) => failedCollection.addJob(j));
    expect(history.finished.get('restore\u0000failed')).toBe(0);
    const batch = history.begin();
    const builder = new SummaryBuilder(50, -Infinity, batch);
    // Listed twice in one collection (a page that moved): still one job.
    [...jobs, ...jobs.slice(0, 100)].forEach((j) => builder.addJob(j));
    expect(history.finished.get('restore\u0000failed')).toBe(0);
    await batch.commit();
    await batch.commit();
    expect(history.finished.get('restore\u0000failed')).toBe(247);
    expect(history.finished.get('restore\u0000succeeded')).toBe(987);
    const next = history.begin();
    jobs.forEach((j) => next.add(j));
    await next.commit();
    expect(history.finished.get('restore\u0000failed')).toBe(247);
  });

  test('commit counts a slice per turn of the event loop, once', async () => {
    const jobs = Array.from({ length: 1_234 }, (_, i) => job({ id: String(i), resource: `r${i % 17}`, state: i % 5 === 0 ? 'failed' : 'succeeded', startedAt: i }));
    const history = new JobHistory(['restore']);
    const batch = history.begin();
    jobs.forEach((j) => batch.add(j));
    const counted = () => history.finished.get('restore\u0000failed')! + history.finished.get('restore\u0000succeeded')!;
    const committing = batch.commit(500);
    // Nothing in the caller's turn, then a slice per turn.
    expect(counted()).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted()).toBe(500);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted()).toBe(1000);
    // A second call ends when the first has counted everything; neither counts twice.
    await batch.commit();
    expect(counted()).toBe(1_234);
    await committing;
    await batch.commit(500);
    expect(history.finished.get('restore\u0000failed')).toBe(247);
    expect(history.finished.get('restore\u0000succeeded')).toBe(987);
  });
});

describe('values an upstream controls stay bounded and distinct', () => {
  const long = (tail: string) => `${'x'.repeat(300)}${tail}`;

  test('label values: at most 256 characters, a cut value keeps a hash of the whole', () => {
    const a = escapeLabelValue(long('a'));
    const b = escapeLabelValue(long('b'));
    expect(a.length).toBe(256);
    expect(a).not.toBe(b);
    expect(a.startsWith('x'.repeat(200))).toBe(true);
    expect(escapeLabelValue('short')).toBe('short');
  });

  test('label values: control characters replaced, the format\'s escapes applied', () => {
    expect(escapeLabelValue('a\u0000b\u001bc\rd\u007fe\u0085f')).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf');
    expect(escapeLabelValue('say "hi"\\\n')).toBe('say \\"hi\\"\\\\\\n');
  });

  test('the series of two long ids that share their first 256 characters are two series', () => {
    const jobs = [job({ id: long('1') }), job({ id: long('2') })];
    const text = renderTargets([{ snapshot: snapshot({ summary: summarizeNow({ jobs }, 10) }) }]);
    const states = text.split('\n').filter((line) => line.startsWith('backup_job_state{'));
    expect(new Set(states).size).toBe(2);
  });

  test('the history keeps bounded keys: a 1 MiB id is remembered in 128 characters, and still once', () => {
    const huge = job({ id: 'i'.repeat(1 << 20), resource: 'r'.repeat(1 << 20) });
    const kept = finishedJob(huge)!;
    expect([kept.id.length, kept.resource.length]).toEqual([128, 128]);
    const history = new JobHistory(['restore']);
    history.record(huge);
    history.record({ ...huge });
    expect(history.finished.get('restore\u0000succeeded')).toBe(1);
    history.record(job({ id: `${'i'.repeat(1 << 20)}2`, resource: huge.resource }));
    expect(history.finished.get('restore\u0000succeeded')).toBe(2);
  });

  test('providers read string fields bounded to 1024 characters, distinct values staying distinct', () => {
    const a = stringField({ id: long('a'.repeat(2000)) }, 'id')!;
    const b = stringField({ id: long('b'.repeat(2000)) }, 'id')!;
    expect(a.length).toBe(1024);
    expect(a).not.toBe(b);
    expect(stringField({ id: 'abc' }, 'id')).toBe('abc');
  });
});

test('a target removed by a reload leaves none of the exporter\'s own series behind', async () => {
  const own = createExporterMetrics('0');
  for (let reload = 0; reload < 50; reload++) {
    own.initTarget(`t${reload}`, 'cbr');
    for (const code of ['200', '401', 'timeout']) own.observeUpstream(`t${reload}`, 'cbr', code, 0.1);
    own.retainTargets([{ name: `t${reload}`, provider: 'cbr' }]);
  }
  const text = await own.registry.metrics();
  const targets = new Set([...text.matchAll(/target="([^"]+)"/g)].map((m) => m[1]));
  expect([...targets]).toEqual(['t49']);
});

test('max_resources: each per-resource family keeps the worst resources and says how many it left out', () => {
  const jobs = Array.from({ length: 50 }, (_, i) => job({ id: `s${i}`, resource: `r${i}`, startedAt: 1000 + i, endedAt: 2000 + i }));
  const failures = Array.from({ length: 30 }, (_, i) => job({ id: `f${i}`, resource: `r${i}`, state: 'failed', status: 'BROKEN', startedAt: 3000 + i }));
  const points: RestorePoint[] = Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, resource: `r${i}`, vault: 'v', state: 'available', createdAt: 5000 + i }));
  const summary = summarizeNow({ jobs: [...jobs, ...failures], restorePoints: points }, 0);
  const text = renderTargets([{ snapshot: snapshot({ summary, maxResources: 10, restorePointsSupported: true }) }]);
  const values = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  // The stalest successes and restore points, the newest failures.
  expect(values('backup_last_success_timestamp_seconds').sort()).toEqual(Array.from({ length: 10 }, (_, i) => 2000 + i));
  expect(values('backup_last_failure_timestamp_seconds').sort()).toEqual(Array.from({ length: 10 }, (_, i) => 3020 + i));
  expect(values('backup_last_restore_point_timestamp_seconds').sort()).toEqual(Array.from({ length: 10 }, (_, i) => 5000 + i));
  expect(text).toContain('backup_resource_series_omitted{target="ops",provider="opsmanager",metric="backup_last_success_timestamp_seconds"} 40');
  expect(text).toContain('backup_resource_series_omitted{target="ops",provider="opsmanager",metric="backup_last_failure_timestamp_seconds"} 20');
  expect(text).toContain('backup_resource_series_omitted{target="ops",provider="opsmanager",metric="backup_last_restore_point_timestamp_seconds"} 10');
});

describe('renderTargetInSlices', () => {
  test('renders what renderTarget does, a slice of lines per turn of the event loop', async () => {
    const resources = 5 * RENDER_SLICE_LINES;
    const found = {
      resources: Array.from({ length: resources }, (_, i) => ({ resource: `p/r${i}`, protected: i % 3 > 0, status: 'STARTED', scheduleIntervalSeconds: 3600 })),
      storage: Array.from({ length: resources }, (_, i) => ({ vault: `v${i}`, usedBytes: i })),
      alerts: [],
    };
    const input = snapshot({ summary: summarizeNow(found, 0), reports: { protection: true, storage: true, alerts: true }, maxResources: Infinity });
    // Turns of the event loop taken while the target renders: another setImmediate chain counts them.
    let turns = 0;
    let rendering = true;
    const count = () => {
      if (!rendering) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const sliced = await renderTargetInSlices(input);
    rendering = false;
    const text = joinRendered([sliced]);
    expect(text).toBe(joinRendered([renderTarget(input)]));
    const samples = lines(text).length;
    expect(samples).toBeGreaterThan(3 * resources);
    // One turn at least per full slice of lines: no turn renders more than a slice.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(samples / RENDER_SLICE_LINES) - 1);
  });
});

describe('inventory: protection, storage, product alerts', () => {
  const all = { protection: true, storage: true, alerts: true };
  const found = {
    resources: [
      { resource: 'p/a', protected: true, status: 'STARTED', scheduleIntervalSeconds: 21600 },
      { resource: 'p/b', protected: false, status: 'STOPPED' },
      { resource: 'p/c', protected: false, status: 'NONE' },
    ],
    storage: [{ vault: 'v1', usedBytes: 0 }, { vault: 'v2', usedBytes: 100, capacityBytes: 1000 }],
    alerts: [
      { resource: 'p/a', type: 'RESYNC_REQUIRED' },
      { resource: 'p/a', type: 'RESYNC_REQUIRED' },
      { resource: 'p', type: 'BACKUP_AGENT_DOWN' },
    ],
  };
  const render = (over: Partial<TargetSnapshot>) => lines(renderTargets([{ snapshot: snapshot({ summary: summarizeNow(found, 0), ...over }) }]));

  test('renders what the product said, and nothing it did not: absent, never a made-up zero', () => {
    const out = render({ reports: all });
    const base = 'target="ops",provider="opsmanager"';
    expect(out.filter((l) => l.startsWith('backup_resource_protected{'))).toEqual([
      `backup_resource_protected{${base},resource="p/a",status="STARTED"} 1`,
      `backup_resource_protected{${base},resource="p/b",status="STOPPED"} 0`,
      `backup_resource_protected{${base},resource="p/c",status="NONE"} 0`,
    ]);
    // Only the resource whose schedule is known has an interval.
    expect(out.filter((l) => l.startsWith('backup_resource_schedule_interval_seconds{'))).toEqual([`backup_resource_schedule_interval_seconds{${base},resource="p/a"} 21600`]);
    // A used size of 0 is a value the product gave; a capacity it did not give is absent.
    expect(out.filter((l) => l.startsWith('backup_storage_'))).toEqual([
      `backup_storage_used_bytes{${base},vault="v1"} 0`,
      `backup_storage_used_bytes{${base},vault="v2"} 100`,
      `backup_storage_capacity_bytes{${base},vault="v2"} 1000`,
    ]);
    expect(out.filter((l) => l.startsWith('backup_product_alerts{'))).toEqual([
      `backup_product_alerts{${base},resource="p/a",type="RESYNC_REQUIRED"} 2`,
      `backup_product_alerts{${base},resource="p",type="BACKUP_AGENT_DOWN"} 1`,
    ]);
  });

  test('families are rendered only for providers that report them, and not for a failed collection', () => {
    const none = render({});
    expect(none.filter((l) => /^backup_(resource_protected|resource_schedule|storage_|product_alerts)/.test(l))).toEqual([]);
    const storageOnly = render({ reports: { protection: false, storage: true, alerts: false } });
    expect(storageOnly.some((l) => l.startsWith('backup_storage_used_bytes{'))).toBe(true);
    expect(storageOnly.some((l) => l.startsWith('backup_resource_protected{') || l.startsWith('backup_product_alerts{'))).toBe(false);
    expect(storageOnly.some((l) => l.includes('metric="backup_resource_protected"'))).toBe(false);
    const failed = render({ reports: all, ok: false, summary: undefined });
    expect(failed.some((l) => l.startsWith('backup_resource_protected{'))).toBe(false);
  });

  test('an open alert that closed leaves no series (no zero for a type no longer open)', () => {
    const out = lines(renderTargets([{ snapshot: snapshot({ summary: summarizeNow({ resources: found.resources }, 0), reports: all }) }]));
    expect(out.filter((l) => l.startsWith('backup_product_alerts{'))).toEqual([]);
    expect(out).toContain('backup_resource_series_omitted{target="ops",provider="opsmanager",metric="backup_product_alerts"} 0');
  });

  test('max_resources bounds each per-resource family, unprotected resources and the most alerts first', () => {
    const resources = Array.from({ length: 30 }, (_, i) => ({ resource: `r${String(i).padStart(2, '0')}`, protected: i % 3 !== 0, status: i % 3 ? 'STARTED' : 'STOPPED', scheduleIntervalSeconds: 3600 }));
    const alerts = Array.from({ length: 20 }, (_, i) => Array.from({ length: i + 1 }, () => ({ resource: `r${i}`, type: 'LATE_SNAPSHOT' }))).flat();
    const out = lines(renderTargets([{ snapshot: snapshot({ summary: summarizeNow({ resources, alerts }, 0), reports: all, maxResources: 12 }) }]));
    const protectedLines = out.filter((l) => l.startsWith('backup_resource_protected{'));
    expect(protectedLines).toHaveLength(12);
    // All ten unprotected resources are kept, then the first protected ones by name.
    expect(protectedLines.filter((l) => l.endsWith(' 0'))).toHaveLength(10);
    expect(protectedLines.filter((l) => l.endsWith(' 1')).map((l) => /resource="([^"]+)"/.exec(l)?.[1])).toEqual(['r01', 'r02']);
    // The intervals served are those of the resources served.
    const intervals = out.filter((l) => l.startsWith('backup_resource_schedule_interval_seconds{')).map((l) => /resource="([^"]+)"/.exec(l)?.[1]);
    expect(intervals.sort()).toEqual(protectedLines.map((l) => /resource="([^"]+)"/.exec(l)?.[1]).sort());
    const alertValues = out.filter((l) => l.startsWith('backup_product_alerts{')).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    expect(alertValues.sort((a, b) => b - a)).toEqual(Array.from({ length: 12 }, (_, i) => 20 - i));
    const omitted = (metric: string) => out.find((l) => l.includes(`metric="${metric}"`));
    expect(omitted('backup_resource_protected')).toMatch(/ 18$/);
    expect(omitted('backup_resource_schedule_interval_seconds')).toMatch(/ 18$/);
    expect(omitted('backup_product_alerts')).toMatch(/ 8$/);
  });
  test('max_resources bounds the vaults too (a vault is a user on some products): the fullest and those with restore points in error first', () => {
    const storage = Array.from({ length: 40 }, (_, i) => ({ vault: `u${String(i).padStart(2, '0')}`, usedBytes: i * 10, capacityBytes: 1000 }));
    const restorePoints = Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, resource: `u${i}/set`, vault: `u${String(i).padStart(2, '0')}`, state: i >= 35 ? 'error' : 'available', createdAt: 1700000000 } as const));
    const out = lines(renderTargets([{ snapshot: snapshot({ summary: summarizeNow({ storage, restorePoints }, 0), reports: all, restorePointsSupported: true, maxResources: 5 }) }]));
    const vaultsOf = (prefix: string) => [...new Set(out.filter((l) => l.startsWith(prefix)).map((l) => /vault="([^"]+)"/.exec(l)?.[1]))].sort();
    expect(vaultsOf('backup_storage_used_bytes{')).toEqual(['u35', 'u36', 'u37', 'u38', 'u39']);
    expect(vaultsOf('backup_storage_capacity_bytes{')).toEqual(['u35', 'u36', 'u37', 'u38', 'u39']);
    expect(vaultsOf('backup_restore_points{')).toEqual(['u35', 'u36', 'u37', 'u38', 'u39']);
    const omitted = (metric: string) => out.find((l) => l.includes(`metric="${metric}"`));
    expect(omitted('backup_storage_used_bytes')).toMatch(/ 35$/);
    expect(omitted('backup_restore_points')).toMatch(/ 35$/);
  });
});

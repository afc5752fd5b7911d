/** The exposition with every kind of series in it, checked by promtool (a separate process). */
import { JobHistory, createExporterMetrics, renderTargets } from '../../src/metrics';
import { promtoolCheckMetrics } from '../helpers/promtool';

import { job, snapshot } from '../helpers/snapshots';

test('the exposition with everything in it passes promtool check metrics', async () => {
  const history = new JobHistory(['backup', 'restore']);
  const jobs = [
    job({ id: 'a', startedAt: 100, endedAt: 400, bytes: 1 }),
    job({ id: 'b', kind: 'backup', state: 'failed', status: 'FAILED', startedAt: 50, endedAt: 5000 }),
  ];
  jobs.forEach((j) => history.record(j));
  const own = createExporterMetrics('0.0.0-test');
  own.initTarget('ops', 'opsmanager');
  own.upstreamDuration.observe({ target: 'ops', provider: 'opsmanager', code: '200' }, 0.1);
  const text = await own.exposition(async () =>
    renderTargets([
      {
        snapshot: snapshot({
          kinds: ['backup', 'restore'],
          restorePointsSupported: true,
          jobs: [...jobs, job({ id: 'c', deliveryExpiresAt: 5 })],
          restorePoints: [{ id: '1', resource: 'vm1', vault: 'v', state: 'available', createdAt: 10 }],
        }),
        history,
      },
      { snapshot: snapshot({ target: 'down', ok: false }), history: new JobHistory(['restore']) },
    ]),
  );
  expect(text).toContain('\nprocess_cpu_user_seconds_total ');
  expect(text).toContain('\nbackup_exporter_build_info{');
  expect(promtoolCheckMetrics(text)).toBe('');
});

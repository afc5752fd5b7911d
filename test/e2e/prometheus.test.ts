/**
 * A real Prometheus (Debian's package) scrapes the exporter, through /metrics and through the
 * multi-target /probe pattern, and the series are read back through Prometheus' HTTP API.
 *
 * The checks read what Prometheus recorded over the run (max_over_time, last_over_time), not the
 * newest sample alone: on a loaded machine one scrape may miss its deadline (a timeout, which the
 * exporter reports as such), and that is not what this test is about.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { MAIN, freePort, startProcess, waitFor } from '../helpers/process';
import type { Child } from '../helpers/process';
import { startSimulators } from '../../simulators/demo';

jest.setTimeout(90_000);

const SCRAPE_INTERVAL_SECONDS = 2;
/** Everything recorded since Prometheus started. */
const RUN = '[10m]';

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

const children: Child[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all([...children.map((c) => c.stop()), ...closers.map((close) => close())]);
});

async function query(promUrl: string, promql: string): Promise<PromSample[]> {
  const res = await request(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.body.json()) as { status: string; data: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

test('Prometheus scrapes /metrics and /probe and the series come back through its API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-e2e-'));
  const [exporterPort, promPort] = [await freePort(), await freePort()];
  const demo = await startSimulators({ opsmanager: { host: '127.0.0.1', port: 0 } });
  closers.push(() => demo.close());
  writeFileSync(
    join(dir, 'exporter.yml'),
    `targets:
  - name: ops-e2e
    provider: opsmanager
    url: ${demo.urls.opsmanager}
    opsmanager: { public_key: demo-public-key, private_key: demo-private-key }
  - name: ops-wrong-key
    provider: opsmanager
    url: ${demo.urls.opsmanager}
    opsmanager: { public_key: demo-public-key, private_key: not-the-key }
`,
  );
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: ${SCRAPE_INTERVAL_SECONDS}s
  scrape_timeout: ${SCRAPE_INTERVAL_SECONDS}s
scrape_configs:
  - job_name: backup-exporter
    static_configs:
      - targets: ['127.0.0.1:${exporterPort}']
  - job_name: backup-targets
    metrics_path: /probe
    static_configs:
      - targets: [ops-e2e, ops-wrong-key]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:${exporterPort}
${[0, 1]
  .map(
    (shard) => `  - job_name: backup-sd-shard-${shard}
    metrics_path: /probe
    honor_labels: true
    http_sd_configs:
      - url: http://127.0.0.1:${exporterPort}/sd
        refresh_interval: 5s
    relabel_configs:
      - source_labels: [__address__]
        modulus: 2
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: '${shard}'
        action: keep
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:${exporterPort}
`,
  )
  .join('')}`,
  );
  const exporter = startProcess(process.execPath, [MAIN, `--config.file=${join(dir, 'exporter.yml')}`, `--web.listen-address=127.0.0.1:${exporterPort}`]);
  children.push(exporter);
  const prometheus = startProcess('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  children.push(prometheus);
  const promUrl = `http://127.0.0.1:${promPort}`;

  const everUp = `max_over_time(backup_up{job=~"backup-exporter|backup-targets"}${RUN})`;
  const valueIn = (result: PromSample[], job: string, target: string) => result.find((s) => s.metric.job === job && s.metric.target === target)?.value[1];
  const up = await waitFor(
    'ops-e2e up through both jobs, and ops-wrong-key scraped through both',
    async () => {
      const result = await query(promUrl, everUp);
      const seen = ['backup-exporter', 'backup-targets'].every((job) => valueIn(result, job, 'ops-e2e') === '1' && valueIn(result, job, 'ops-wrong-key') !== undefined);
      return seen ? result : undefined;
    },
    60_000,
    500,
  ).catch(async (err: Error) => {
    const why = await query(promUrl, `last_over_time(backup_exporter_collect_errors_total${RUN}) > 0`).catch(() => []);
    throw new Error(
      `${err.message}\n${everUp}: ${JSON.stringify(await query(promUrl, everUp).catch(() => []))}\ncollection errors: ${JSON.stringify(why.map((s) => [s.metric.target, s.metric.reason, s.value[1]]))}\nexporter: ${exporter.output().slice(-2000)}\nprometheus: ${prometheus.output().slice(-2000)}`,
    );
  });
  // Never up with the wrong key, for the reason that it is wrong.
  expect(valueIn(up, 'backup-exporter', 'ops-wrong-key')).toBe('0');
  expect(valueIn(up, 'backup-targets', 'ops-wrong-key')).toBe('0');

  // Prometheus' own view: the scrapes succeeded, even those of a target with bad credentials.
  const scrapes = await query(promUrl, `max_over_time(up{job=~"backup-exporter|backup-targets"}${RUN})`);
  expect(scrapes.map((s) => s.value[1])).toEqual(['1', '1', '1']);

  // Targets discovered through /sd, sharded over two jobs (as two replicas would be): each target is
  // scraped by exactly one shard, and together they cover every target, without exported_* labels.
  const shards = `max_over_time(backup_up{job=~"backup-sd-shard-.*"}${RUN})`;
  const sharded = await waitFor(
    'both targets through the /sd shards',
    async () => {
      const result = await query(promUrl, shards);
      return result.length === 2 ? result : undefined;
    },
    30_000,
    500,
  );
  // Three more scrape intervals: still one series per target (no shard took both).
  await new Promise((r) => setTimeout(r, 3 * SCRAPE_INTERVAL_SECONDS * 1000));
  expect((await query(promUrl, shards)).length).toBe(2);
  expect(sharded.map((s) => s.metric.target).sort()).toEqual(['ops-e2e', 'ops-wrong-key']);
  for (const sample of sharded) {
    expect(sample.metric.instance).toBe(sample.metric.target);
    expect(sample.metric.provider).toBe('opsmanager');
    expect(Object.keys(sample.metric).filter((k) => k.startsWith('exported_'))).toEqual([]);
  }

  const states = await query(promUrl, `last_over_time(backup_jobs{job="backup-targets", target="ops-e2e"}${RUN})`);
  expect(states.map((s) => s.metric.state).sort()).toEqual(['cancelled', 'failed', 'pending', 'running', 'succeeded', 'unknown', 'warning']);
  const total = states.reduce((sum, s) => sum + Number(s.value[1]), 0);
  expect(total).toBeGreaterThan(0);

  const authErrors = await query(promUrl, `last_over_time(backup_exporter_collect_errors_total{target="ops-wrong-key", reason="auth"}${RUN})`);
  expect(Number(authErrors[0]?.value[1])).toBeGreaterThan(0);
});

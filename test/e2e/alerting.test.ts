/**
 * The alert path end to end: the Ops Manager simulator breaks a restore (fail-next), the exporter
 * reports it, a real Prometheus evaluates the real rules (a copy whose time windows are shortened,
 * made by rewriting only the durations of alerts/*.yml) and sends the alert to a real
 * Alertmanager, which shows it in its API and notifies a webhook; when the failure leaves the
 * alert's window the alert resolves in Alertmanager and the webhook hears that too.
 *
 * The simulator runs in this test's process with a fast schedule (a restore every few seconds per
 * cluster, each taking ~2 s), so the broken restore shows up within seconds instead of the demo's
 * two-minute schedule; the exporter reads it as an ordinary target from its own exporter.yml.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { createOpsManagerSimulator } from '../../simulators/opsmanager';
import { startSimulator } from '../../simulators/framework';
import type { RunningSimulator } from '../../simulators/framework';
import { MAIN, ROOT, freePort, startProcess, waitFor } from '../helpers/process';
import type { Child } from '../helpers/process';

jest.setTimeout(180_000);

/** Real windows are divided by this: 15m -> 20s, 6h -> 8m, 10m -> 13s, for: 5m -> 7s. */
const TIME_SCALE = 45;
const TARGET = 'ops-alerting';

// ---------------------------------------------------------------------------------------------
// The test copy of the rules: only durations change.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION = /(?:\d+(?:ms|[smhdwy]))+/g;

function durationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|[smhdwy])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

function shorten(text: string): string {
  const ms = durationMs(text);
  return ms === 0 ? text : `${Math.max(1, Math.ceil(ms / TIME_SCALE / 1000))}s`;
}

/** Shortens range selectors (`[15m]`, `[1h:5m]`) and offsets (`offset 15m`) of a PromQL expression. */
function shortenExpr(expr: string): string {
  return expr
    .replace(/\[([^\]]*)\]/g, (_m, inner: string) => `[${inner.replace(DURATION, shorten)}]`)
    .replace(/\boffset\s+(-?)((?:\d+(?:ms|[smhdwy]))+)/g, (_m, sign: string, d: string) => `offset ${sign}${shorten(d)}`);
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  [key: string]: unknown;
}

function shortenedRules(text: string): string {
  const doc = parse(text) as { groups: Array<{ name: string; interval?: string; rules: Rule[] }> };
  for (const group of doc.groups) {
    if (group.interval) group.interval = shorten(group.interval);
    for (const rule of group.rules) {
      rule.expr = shortenExpr(rule.expr);
      if (rule.for) rule.for = shorten(rule.for);
    }
  }
  return stringify(doc);
}

test('the test copy of the rules differs from the real ones in durations only', () => {
  expect(shortenExpr('increase(x{state="failed"}[15m]) > 0 unless max_over_time(y[6h] offset 15m)')).toBe(
    'increase(x{state="failed"}[20s]) > 0 unless max_over_time(y[480s] offset 20s)',
  );
  for (const file of ruleFiles()) {
    const real = parse(readFileSync(file, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
    const copy = parse(shortenedRules(readFileSync(file, 'utf8'))) as { groups: Array<{ rules: Rule[] }> };
    const strip = (doc: typeof real) =>
      JSON.stringify(doc.groups.map((g) => g.rules.map((r) => ({ ...r, expr: r.expr.replace(DURATION, 'D').trim(), for: r.for && 'D' }))));
    expect(strip(copy)).toBe(strip(real));
  }
});

function ruleFiles(): string[] {
  const dir = join(ROOT, 'alerts');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
}

// ---------------------------------------------------------------------------------------------
// The stack

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}
interface WebhookMessage {
  status: 'firing' | 'resolved';
  alerts: Array<{ status: 'firing' | 'resolved'; labels: Record<string, string> }>;
}

const children: Child[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await Promise.all(closers.map((close) => close()));
});

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode} ${body}`);
  return JSON.parse(body) as T;
}

async function promQuery(promUrl: string, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const body = await getJson<{ data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }>(
    `${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`,
  );
  return body.data.result;
}

/** A webhook receiver for Alertmanager's notifications, on 127.0.0.1. */
async function startWebhook(): Promise<{ url: string; messages: WebhookMessage[]; close(): Promise<void> }> {
  const messages: WebhookMessage[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        messages.push(JSON.parse(body) as WebhookMessage);
      } catch {
        // not a notification; ignore
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('a broken restore reaches Alertmanager as BackupJobFailed with its target and resource, then resolves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-alerting-'));
  const sim = createOpsManagerSimulator({
    publicKey: 'alerting-public',
    privateKey: 'alerting-private',
    projects: 1,
    clustersPerProject: 3,
    shardedEvery: 3,
    jobsPerCluster: 30,
    jobIntervalMs: 6000,
    jobDurationMs: 2000,
  });
  const running: RunningSimulator = await startSimulator(sim.app, { host: '127.0.0.1', port: 0 });
  closers.push(() => running.close());
  const webhook = await startWebhook();
  closers.push(() => webhook.close());
  const [exporterPort, promPort, amPort] = [await freePort(), await freePort(), await freePort()];

  writeFileSync(
    join(dir, 'exporter.yml'),
    `targets:
  - name: ${TARGET}
    provider: opsmanager
    url: ${running.url}
    opsmanager: { public_key: alerting-public, private_key: alerting-private }
`,
  );
  const ruleFileNames = ruleFiles().map((file, i) => {
    const name = join(dir, `rules-${i}.yml`);
    writeFileSync(name, shortenedRules(readFileSync(file, 'utf8')));
    return name;
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ruleFileNames,
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [{ job_name: 'backup-exporter', static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
    }),
  );
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    stringify({
      route: {
        receiver: 'webhook',
        group_by: ['alertname', 'target', 'job_id'],
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
      },
      receivers: [{ name: 'webhook', webhook_configs: [{ url: webhook.url, send_resolved: true }] }],
    }),
  );

  const exporter = startProcess(process.execPath, [MAIN, `--config.file=${join(dir, 'exporter.yml')}`, `--web.listen-address=127.0.0.1:${exporterPort}`]);
  const alertmanager = startProcess('prometheus-alertmanager', [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'am-data')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=',
  ]);
  const prometheus = startProcess('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'prom-data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  children.push(exporter, alertmanager, prometheus);
  const promUrl = `http://127.0.0.1:${promPort}`;
  const amUrl = `http://127.0.0.1:${amPort}`;
  const logs = () =>
    `\nexporter: ${exporter.output().slice(-1500)}\nprometheus: ${prometheus.output().slice(-2500)}\nalertmanager: ${alertmanager.output().slice(-1500)}`;
  const explain = (err: Error): never => {
    throw new Error(`${err.message}${logs()}`);
  };

  // Everything up, and Prometheus has a few samples of the failed-jobs counter before the failure.
  await waitFor(
    'Alertmanager ready',
    async () => ((await request(`${amUrl}/-/ready`, { headersTimeout: 5000, bodyTimeout: 5000 })).statusCode === 200 ? true : undefined),
    30_000,
    250,
  ).catch(explain);
  await waitFor(
    'the failed-jobs counter in Prometheus',
    async () => {
      const r = await promQuery(promUrl, `count_over_time(backup_jobs_finished_total{target="${TARGET}", state="failed"}[1m])`);
      return Number(r[0]?.value[1] ?? 0) >= 3 ? true : undefined;
    },
    45_000,
    250,
  ).catch(explain);

  const failed = (await (
    await request(`${running.url}/_sim/opsmanager/fail-next`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      headersTimeout: 5000,
      bodyTimeout: 5000,
    })
  ).body.json()) as { groupId: string; clusterId: string; jobIds: string[]; batchId?: string; created: string };
  // A sharded cluster's restore is one job named by its batch.
  const jobId = failed.batchId ?? failed.jobIds[0]!;
  const project = sim.projects.find((p) => p.id === failed.groupId)!;
  const cluster = sim.clusters.find((c) => c.id === failed.clusterId)!;
  const resource = `${project.name}/${cluster.clusterName}`;

  const amAlerts = async (): Promise<AmAlert[]> =>
    getJson<AmAlert[]>(`${amUrl}/api/v2/alerts?filter=${encodeURIComponent('alertname="BackupJobFailed"')}&filter=${encodeURIComponent(`job_id="${jobId}"`)}`);

  const [alert] = await waitFor(`BackupJobFailed for job ${jobId} in Alertmanager`, async () => {
    const found = await amAlerts();
    return found.length ? found : undefined;
  }, 60_000, 250).catch(explain);
  expect(alert!.labels).toMatchObject({
    alertname: 'BackupJobFailed',
    target: TARGET,
    provider: 'opsmanager',
    kind: 'restore',
    resource,
    job_id: jobId,
    state: 'failed',
    status: 'BROKEN',
    severity: 'critical',
  });
  expect(alert!.annotations.description).toContain(resource);
  expect(alert!.annotations.description).toContain(TARGET);
  const runbookBase = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config: { runbook_base_url: string } }).config.runbook_base_url;
  expect(alert!.annotations.runbook_url).toBe(`${runbookBase}#backupjobfailed`);
  expect(alert!.status.state).toBe('active');

  const notified = (status: 'firing' | 'resolved') =>
    webhook.messages.some((m) => m.alerts.some((a) => a.status === status && a.labels.job_id === jobId && a.labels.alertname === 'BackupJobFailed'));
  await waitFor('the firing notification at the webhook', async () => (notified('firing') ? true : undefined), 20_000, 250).catch(explain);

  // The failure leaves the (shortened) 15-minute window: resolved in Alertmanager and notified.
  const firedAt = Date.now();
  await waitFor(`BackupJobFailed for job ${jobId} to resolve`, async () => ((await amAlerts()).length === 0 ? true : undefined), 90_000, 500).catch(explain);
  await waitFor('the resolved notification at the webhook', async () => (notified('resolved') ? true : undefined), 20_000, 250).catch(explain);
  // Resolved by the window, not by the job's series going away: the job is still listed as failed.
  expect(Date.now() - firedAt).toBeGreaterThan(5_000);
  const stillListed = await promQuery(promUrl, `backup_job_state{job_id="${jobId}", state="failed"}`);
  expect(stillListed.length).toBe(1);

  // Every rule of the real files evaluated without an error against live data.
  const rules = await getJson<{ data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } }>(`${promUrl}/api/v1/rules`);
  const unhealthy = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
  expect(unhealthy).toEqual([]);
});

/**
 * The Grafana dashboards and the docker compose stack.
 *
 * Static: every dashboard is Grafana JSON of the expected shape (datasource variable, the filter
 * variables, every panel on ${datasource}), every query parses (promtool), the provisioning files
 * and docker-compose.yml agree with each other and with the repository, and the Prometheus and
 * Alertmanager configurations compose mounts pass promtool and amtool.
 *
 * Live: the bundled demo (exporter.yml, pointed at the simulators program on free ports) is
 * scraped every second by a real Prometheus that loads alerts/*.yml (the dashboards read its
 * threshold recording rules); every query of every panel, with Grafana's variables substituted,
 * must return data within about a minute of scraping.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { MAIN, ROOT, freePort, startDemoSimulators, startProcess, waitFor } from '../helpers/process';
import type { Child } from '../helpers/process';

jest.setTimeout(150_000);

const DASHBOARD_DIR = join(ROOT, 'grafana', 'dashboards');
/** How long the live test scrapes, at most, before every panel must have data. */
const SCRAPE_BUDGET_MS = 75_000;

interface Target {
  refId: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid?: string }; allValue?: string }> };
}

const dashboardFiles = readdirSync(DASHBOARD_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const dashboards: Array<[string, Dashboard]> = dashboardFiles.map((f) => [f, JSON.parse(readFileSync(join(DASHBOARD_DIR, f), 'utf8')) as Dashboard]);

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

interface Query {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

const queries: Query[] = dashboards.flatMap(([file, d]) =>
  allPanels(d.panels).flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ dashboard: file, panel: p.title, refId: t.refId, expr: t.expr! }))),
);

/** Grafana's variables as a test can fill them: every filter to "All", the intervals to fixed ranges. */
function substitute(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m')
    .replace(/\$__interval|\$\{__interval\}/g, '15s')
    .replace(/\$__range|\$\{__range\}/g, '5m')
    .replace(/\$\{(provider|target|kind)(?::[a-z]+)?\}|\$(provider|target|kind)\b/g, '.*');
}

const readYaml = <T>(file: string): T => parse(readFileSync(file, 'utf8')) as T;

// ---------------------------------------------------------------------------------------------
// The dashboards' JSON

describe.each(dashboards)('%s', (_file, d) => {
  const panels = allPanels(d.panels);
  const variables = new Map(d.templating.list.map((v) => [v.name, v]));

  test('is a Grafana dashboard of schema version 39 with a uid and a title', () => {
    expect(d.schemaVersion).toBe(39);
    expect(d.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(d.title).toBeTruthy();
  });

  test('has the variables datasource, provider, target and kind', () => {
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['provider', 'target', 'kind']) {
      const v = variables.get(name);
      expect(v).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
      expect(String(v!.query)).toMatch(/^label_values\(/);
    }
  });

  test('every panel queries the ${datasource} variable and has a unique id and a place on the grid', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.title).toBeTruthy();
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(t.expr).toBeTruthy();
      }
    }
  });

  test('panels do not overlap', () => {
    const placed = panels.filter((p) => p.type !== 'row' || !p.panels?.length);
    for (let i = 0; i < placed.length; i++) {
      for (let j = i + 1; j < placed.length; j++) {
        const [a, b] = [placed[i]!.gridPos, placed[j]!.gridPos];
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        if (!apart) throw new Error(`"${placed[i]!.title}" and "${placed[j]!.title}" overlap`);
      }
    }
  });

  test('queries use only variables the dashboard defines or Grafana provides', () => {
    const builtIn = new Set(['__rate_interval', '__interval', '__range']);
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        for (const [, name] of (t.expr ?? '').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
          expect(builtIn.has(name!) || variables.has(name!)).toBe(true);
        }
      }
    }
  });
});

test('every dashboard query parses (promtool check rules on the queries as recording rules)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-dashboard-queries-'));
  const file = join(dir, 'queries.yml');
  writeFileSync(
    file,
    stringify({ groups: [{ name: 'dashboard-queries', rules: queries.map((q, i) => ({ record: `dashboard_query_${i}`, expr: substitute(q.expr) })) }] }),
  );
  const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`${result.stdout}${result.stderr}`);
  expect(queries.length).toBeGreaterThan(20);
});

// ---------------------------------------------------------------------------------------------
// Provisioning and docker compose

interface ComposeService {
  build?: string | { context: string; target?: string };
  image?: string;
  depends_on?: string[];
  command?: string[];
  volumes?: string[];
  ports?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
}

const compose = readYaml<Compose>(join(ROOT, 'docker-compose.yml'));

/** Bind mounts of a service: host path (resolved in the repository) -> container path. */
function bindMounts(service: ComposeService): Array<{ host: string; container: string }> {
  return (service.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([source]) => source!.startsWith('.') || source!.startsWith('/'))
    .map(([source, container]) => ({ host: resolve(ROOT, source!), container: container! }));
}

/** Where a container path of a service comes from in the repository, through its bind mounts. */
function hostPathOf(service: ComposeService, containerPath: string): string | undefined {
  for (const { host, container } of bindMounts(service)) {
    if (containerPath === container) return host;
    if (containerPath.startsWith(`${container}/`)) return join(host, containerPath.slice(container.length + 1));
  }
  return undefined;
}

test('docker-compose.yml runs the simulators and the exporter (built here, apart), Prometheus, Alertmanager and Grafana', () => {
  expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'exporter', 'grafana', 'prometheus', 'simulators']);
  expect(compose.services.exporter!.build).toEqual({ context: '.', target: 'runtime' });
  expect(compose.services.simulators!.build).toEqual({ context: '.', target: 'simulators' });
  const stages = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
  expect(stages).toEqual(expect.arrayContaining(['runtime', 'simulators']));
  expect(compose.services.exporter!.depends_on).toContain('simulators');
  // A folder, not a single file: an editor's replaced file would not show through a file mount.
  expect(compose.services.exporter!.volumes).toEqual(['./deploy/compose/exporter:/etc/backup-exporter:ro']);
  for (const name of ['prometheus', 'alertmanager', 'grafana']) expect(compose.services[name]!.image).toMatch(/^[a-z/-]+:v?\d+\.\d+\.\d+$/);
});

test("compose's exporter.yml is the demo's exporter.yml with the targets at the simulators service", () => {
  const mounted = hostPathOf(compose.services.exporter!, '/etc/backup-exporter/exporter.yml')!;
  expect(relative(ROOT, mounted)).toBe(join('deploy', 'compose', 'exporter', 'exporter.yml'));
  const settings = (file: string) => parse(readFileSync(file, 'utf8')) as { targets: unknown[] };
  const demo = JSON.stringify(settings(join(ROOT, 'exporter.yml'))).replace(/http:\/\/127\.0\.0\.1:(\d+)/g, 'http://simulators:$1');
  expect(JSON.stringify(settings(mounted))).toBe(demo);
  const targets = settings(mounted).targets.length;
  const check = spawnSync(process.execPath, [MAIN, '--config.check', `--config.file=${mounted}`], { encoding: 'utf8', timeout: 20_000 });
  expect(`${check.stdout}${check.stderr}`).toContain(`valid (${targets} targets)`);
});

test('every file docker-compose.yml mounts exists in the repository', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const { host } of bindMounts(service)) {
      expect(relative(ROOT, host).startsWith('..')).toBe(false);
      if (!existsSync(host)) throw new Error(`${name} mounts ${relative(ROOT, host)}, which does not exist`);
    }
  }
});

test('the Prometheus configuration compose mounts passes promtool check config, rules included', () => {
  const prometheus = compose.services.prometheus!;
  const configPath = (prometheus.command ?? []).find((a) => a.startsWith('--config.file='))?.split('=')[1] ?? '/etc/prometheus/prometheus.yml';
  const hostConfig = hostPathOf(prometheus, configPath)!;
  expect(hostConfig).toBeDefined();
  const config = readYaml<{
    rule_files: string[];
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  }>(hostConfig);
  // The rule files as the container sees them are the repository's alerts/*.yml.
  const ruleFiles = config.rule_files.map((pattern) => hostPathOf(prometheus, pattern));
  expect(ruleFiles).toEqual([join(ROOT, 'alerts', '*.yml')]);
  expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
  expect(config.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets))).toContain('exporter:9877');

  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-compose-'));
  const copy = join(dir, 'prometheus.yml');
  writeFileSync(copy, stringify({ ...config, rule_files: ruleFiles }));
  const result = spawnSync('promtool', ['check', 'config', copy], { encoding: 'utf8', timeout: 30_000 });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(output);
  expect(output).toMatch(/SUCCESS: \d+ rules found/);
});

test('the Alertmanager configuration compose mounts passes amtool check-config', () => {
  const host = hostPathOf(compose.services.alertmanager!, '/etc/alertmanager/alertmanager.yml');
  expect(host).toBeDefined();
  const result = spawnSync('amtool', ['check-config', host!], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`${result.stdout}${result.stderr}`);
});

test('Grafana provisioning: a Prometheus data source, and a dashboard provider reading the mounted dashboards', () => {
  const grafana = compose.services.grafana!;
  const datasourceDir = hostPathOf(grafana, '/etc/grafana/provisioning/datasources')!;
  const providerDir = hostPathOf(grafana, '/etc/grafana/provisioning/dashboards')!;
  expect(datasourceDir).toBe(join(ROOT, 'grafana', 'provisioning', 'datasources'));
  expect(providerDir).toBe(join(ROOT, 'grafana', 'provisioning', 'dashboards'));

  const datasources = readdirSync(datasourceDir).flatMap(
    (f) => readYaml<{ apiVersion: number; datasources: Array<{ type: string; url: string; access: string }> }>(join(datasourceDir, f)).datasources,
  );
  expect(datasources).toEqual([expect.objectContaining({ type: 'prometheus', access: 'proxy', url: 'http://prometheus:9090' })]);

  const providers = readdirSync(providerDir).flatMap(
    (f) => readYaml<{ apiVersion: number; providers: Array<{ type: string; options: { path: string } }> }>(join(providerDir, f)).providers,
  );
  expect(providers).toHaveLength(1);
  expect(providers[0]!.type).toBe('file');
  expect(isAbsolute(providers[0]!.options.path)).toBe(true);
  expect(hostPathOf(grafana, providers[0]!.options.path)).toBe(DASHBOARD_DIR);

  const environment = (grafana as { environment?: Record<string, string> }).environment ?? {};
  const home = hostPathOf(grafana, environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '');
  expect(home && existsSync(home)).toBe(true);
});

// ---------------------------------------------------------------------------------------------
// Live: every query returns data from the demo

const children: Child[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
});

interface PromAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function instantQuery(promUrl: string, expr: string): Promise<PromAnswer> {
  const res = await request(`${promUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }).toString(),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return (await res.body.json()) as PromAnswer;
}

/** undefined when the query returned at least one finite sample, else why not. */
async function problemWith(promUrl: string, q: Query): Promise<string | undefined> {
  const answer = await instantQuery(promUrl, substitute(q.expr));
  if (answer.status !== 'success') return `error: ${answer.error}`;
  const result = answer.data!.result;
  if (result.length === 0) return 'no data';
  if (!result.some((s) => Number.isFinite(Number(s.value[1])))) return 'only NaN';
  return undefined;
}

test('every query of every panel returns data from the demo after about a minute of scraping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-dashboards-'));
  const [exporterPort, promPort] = [await freePort(), await freePort()];
  const ruleFiles = readdirSync(join(ROOT, 'alerts'))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(ROOT, 'alerts', f));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      // 2 s: on a loaded 2-core machine a collection of the four demo products (1.5 s budget after
      // the exporter's margin) must fit, or every scrape is lost and no panel has data.
      global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'backup-exporter', static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
    }),
  );
  const simulators = await startDemoSimulators();
  children.push(simulators.child);
  writeFileSync(join(dir, 'exporter.yml'), simulators.config());
  const exporter = startProcess(process.execPath, [MAIN, `--config.file=${join(dir, 'exporter.yml')}`, `--web.listen-address=127.0.0.1:${exporterPort}`]);
  const prometheus = startProcess('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  children.push(exporter, prometheus);
  const promUrl = `http://127.0.0.1:${promPort}`;
  const logs = () => `\nexporter: ${exporter.output().slice(-2000)}\nprometheus: ${prometheus.output().slice(-2000)}`;

  await waitFor(
    'the first scrape of the demo',
    async () => {
      const answer = await instantQuery(promUrl, 'backup_up');
      return answer.data?.result.length ? true : undefined;
    },
    30_000,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}${logs()}`);
  });
  const firstScrape = Date.now();

  // Parse errors do not get better with time: report them at once.
  const broken = (await Promise.all(queries.map(async (q) => [q, await problemWith(promUrl, q)] as const))).filter(([, p]) => p?.startsWith('error'));
  expect(broken.map(([q, p]) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${p}`)).toEqual([]);

  // Then every query must have data; rates and increases need a few samples, so poll.
  let problems: string[] = [];
  while (Date.now() - firstScrape < SCRAPE_BUDGET_MS) {
    const answers = await Promise.all(queries.map(async (q) => [q, await problemWith(promUrl, q)] as const));
    problems = answers.filter(([, p]) => p).map(([q, p]) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${p}`);
    if (problems.length === 0 && Date.now() - firstScrape >= 15_000) break;
    await new Promise((r) => setTimeout(r, 5000));
  }
  const targets = (await instantQuery(promUrl, 'count by (provider) (backup_up)')).data?.result.map((s) => s.metric.provider);
  if (problems.length) {
    throw new Error(`after ${Math.round((Date.now() - firstScrape) / 1000)} s of scraping the demo (providers: ${targets?.join(', ')}), ${problems.length} of ${queries.length} queries have no data:\n  ${problems.join('\n  ')}${logs()}`);
  }

  // The rules the dashboards lean on evaluate cleanly against the demo's data.
  const rules = (await (await request(`${promUrl}/api/v1/rules`, { headersTimeout: 10_000, bodyTimeout: 10_000 })).body.json()) as {
    data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
  };
  expect(rules.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok')).toEqual([]);
});

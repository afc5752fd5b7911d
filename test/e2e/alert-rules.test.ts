/**
 * The Prometheus rules in alerts/: promtool accepts every rule file and passes every unit test in
 * alerts/tests/, every alert has a unit test case in which it fires and one in which it must not,
 * and every alert carries what a person paged by it needs (severity, summary, a description naming
 * the target and resource, a runbook section that exists).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/process';

jest.setTimeout(60_000);

const ALERTS_DIR = join(ROOT, 'alerts');
const TESTS_DIR = join(ALERTS_DIR, 'tests');
const RUNBOOKS = join(ROOT, 'docs', 'runbooks.md');
/** The one runbook base URL (scripts/generate-prometheusrule.mjs writes every runbook_url from it). */
const RUNBOOK_BASE = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config: { runbook_base_url: string } }).config.runbook_base_url;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface AlertCase {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[] | null;
}
interface TestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: AlertCase[] }>;
}

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));

const ruleFiles = yamlFiles(ALERTS_DIR);
const testFiles = yamlFiles(TESTS_DIR);
const readYaml = <T>(file: string): T => parse(readFileSync(file, 'utf8')) as T;
const alerts: Rule[] = ruleFiles.flatMap((f) => readYaml<RuleFile>(f).groups.flatMap((g) => g.rules)).filter((r) => r.alert);

function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 45_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * For each alert name, whether the unit tests hold a case in which it fires (exp_alerts not empty)
 * and one in which it must stay silent (exp_alerts empty or left out). Returns what is missing.
 */
function missingAlertCases(alertNames: readonly string[], tests: ReadonlyArray<{ file: string; content: TestFile }>): string[] {
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const { content } of tests) {
    for (const group of content.tests ?? []) {
      for (const c of group.alert_rule_test ?? []) {
        if (Array.isArray(c.exp_alerts) && c.exp_alerts.length > 0) fires.add(c.alertname);
        else silent.add(c.alertname);
      }
    }
  }
  const missing: string[] = [];
  for (const name of alertNames) {
    if (!fires.has(name)) missing.push(`${name}: no unit test case in which it fires`);
    if (!silent.has(name)) missing.push(`${name}: no unit test case in which it must not fire`);
  }
  return missing;
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

test('there are rule files and unit test files', () => {
  expect(ruleFiles.length).toBeGreaterThan(0);
  expect(testFiles.length).toBeGreaterThan(0);
  expect(alerts.length).toBeGreaterThan(0);
});

test('alerts/*.yml holds only Prometheus rule files (each is turned into a PrometheusRule)', () => {
  for (const file of ruleFiles) {
    const content = readYaml<Record<string, unknown>>(file);
    expect(Object.keys(content)).toEqual(['groups']);
  }
});

test.each(ruleFiles.map((f) => [f.slice(ROOT.length + 1), f]))('promtool check rules %s', (_name, file) => {
  const { status, output } = promtool(['check', 'rules', file]);
  expect(output).toContain('SUCCESS');
  expect(status).toBe(0);
});

test('promtool test rules passes every unit test file', () => {
  const { status, output } = promtool(['test', 'rules', ...testFiles]);
  if (status !== 0) throw new Error(output);
  expect(output.match(/SUCCESS/g)?.length).toBe(testFiles.length);
});

test('the unit tests load the real rule files', () => {
  const real = new Set(ruleFiles.map((f) => resolve(f)));
  for (const file of testFiles) {
    const { rule_files: loaded } = readYaml<TestFile>(file);
    expect(loaded.length).toBeGreaterThan(0);
    for (const ruleFile of loaded) expect(real.has(resolve(TESTS_DIR, ruleFile))).toBe(true);
  }
});

test('every alert has a unit test case in which it fires and one in which it must not', () => {
  const tests = testFiles.map((file) => ({ file, content: readYaml<TestFile>(file) }));
  expect(missingAlertCases(alerts.map((a) => a.alert!), tests)).toEqual([]);
});

test('the coverage check finds an alert without a silent case and one without any case', () => {
  const tests = [
    {
      file: 'synthetic.yml',
      content: {
        rule_files: [],
        tests: [{ alert_rule_test: [{ eval_time: '1m', alertname: 'A', exp_alerts: [{ exp_labels: {} }] }] }],
      },
    },
  ];
  expect(missingAlertCases(['A', 'B'], tests)).toEqual([
    'A: no unit test case in which it must not fire',
    'B: no unit test case in which it fires',
    'B: no unit test case in which it must not fire',
  ]);
});

test('the alerts the issue asks for exist, on the metrics it names', () => {
  const byName = new Map(alerts.map((a) => [a.alert!, a]));
  const expected: Record<string, RegExp> = {
    BackupTargetDown: /backup_up\b/,
    BackupCollectionErrors: /backup_exporter_collect_errors_total/,
    BackupTargetAuthFailing: /backup_exporter_collect_errors_total\{reason="auth"\}/,
    BackupJobFailed: /increase\(backup_jobs_finished_total\{state="failed"\}\[/,
    BackupJobRunningTooLong: /backup_job_start_timestamp_seconds/,
    BackupRPOMissed: /backup_last_success_timestamp_seconds/,
    BackupRestorePointTooOld: /backup_last_restore_point_timestamp_seconds/,
    BackupRestoreDownloadExpiring: /backup_restore_delivery_expiry_timestamp_seconds/,
    BackupResourceUnprotected: /backup_resource_protected == 0/,
    BackupStorageFillingUp: /backup_storage_used_bytes \/ \(backup_storage_capacity_bytes > 0\)[\s\S]*storage_used_ratio_warning/,
    BackupStorageFull: /backup_storage_used_bytes \/ \(backup_storage_capacity_bytes > 0\)[\s\S]*storage_used_ratio_critical/,
    BackupProductAlertOpen: /backup_product_alerts > 0/,
    BackupResourceSeriesOmitted: /backup_resource_series_omitted > 0/,
    BackupProbeFailed: /up\{job="backup-targets"\} == 0/,
  };
  for (const [name, metric] of Object.entries(expected)) {
    expect(byName.get(name)?.expr).toMatch(metric);
  }
});

test('the probe alert watches the /probe job that the README and deploy/kubernetes/probe.yaml name', () => {
  const probe = parse(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'probe.yaml'), 'utf8')) as { spec: { jobName: string } };
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const job = probe.spec.jobName;
  expect(readme).toMatch(new RegExp(`job_name: ${job}\\n\\s+metrics_path: /probe`));
  expect(alerts.find((a) => a.alert === 'BackupProbeFailed')?.expr).toContain(`up{job="${job}"}`);
});

test('the restore point limit is twice the schedule interval, else the RPO, joined on (target, resource)', () => {
  const records = ruleFiles.flatMap((f) => readYaml<RuleFile>(f).groups.flatMap((g) => g.rules));
  const limit = records.find((r) => r.record === 'backup_exporter:restore_point_max_age_seconds')?.expr ?? '';
  expect(limit).toMatch(/max by \(target, resource\) \(backup_resource_schedule_interval_seconds\)/);
  expect(limit).toMatch(/or\s+backup_exporter:rpo_seconds\s*$/);
  expect(alerts.find((a) => a.alert === 'BackupRestorePointTooOld')?.expr).toMatch(
    /> on \(target, resource\) group_left \(\)\s+backup_exporter:restore_point_max_age_seconds/,
  );
});

describe('every alert says what a person paged by it needs', () => {
  const runbooks = readFileSync(RUNBOOKS, 'utf8');
  const anchors = new Set([...runbooks.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchorOf(m[1]!)));
  // Metrics whose series name a resource: an alert on them must name it too.
  const perResource = /backup_job_state|backup_job_start_timestamp_seconds|backup_last_(success|failure|restore_point)_timestamp_seconds|backup_restore_delivery_expiry_timestamp_seconds|backup_resource_protected|backup_product_alerts/;
  // Alerts about the exporter itself have no target.
  const perTarget = /\bbackup_up\b|backup_exporter_collect_errors_total|backup_storage_used_bytes|backup_resource_series_omitted/;

  test.each(alerts.map((a) => [a.alert!, a]))('%s', (name, rule) => {
    const severity = rule.labels?.severity ?? '';
    expect(severity).toMatch(/critical|warning|info/);
    expect(severity.replace(/\{\{.*?\}\}|critical|warning|info/g, '')).toBe('');
    const { summary, description, runbook_url: runbook } = rule.annotations ?? {};
    expect(summary).toBeTruthy();
    expect(description).toBeTruthy();
    expect(runbook).toBe(`${RUNBOOK_BASE}#${name.toLowerCase()}`);
    expect(anchors.has(name.toLowerCase())).toBe(true);
    if (perResource.test(rule.expr)) expect(description).toContain('$labels.resource');
    if (perResource.test(rule.expr) || perTarget.test(rule.expr)) {
      expect(description).toContain('$labels.target');
      expect(summary).toContain('$labels.target');
    }
  });
});

test('every threshold is a recording rule described in docs/runbooks.md', () => {
  const runbooks = readFileSync(RUNBOOKS, 'utf8');
  const records = ruleFiles
    .flatMap((f) => readYaml<RuleFile>(f).groups.flatMap((g) => g.rules))
    .map((r) => r.record)
    .filter((r): r is string => !!r);
  const defaults = records.filter((r) => r.endsWith(':default') || r.endsWith('_max') || r.endsWith('_warning_seconds'));
  expect(defaults.length).toBeGreaterThanOrEqual(4);
  for (const record of records) expect(runbooks).toContain(`\`${record}\``);
});

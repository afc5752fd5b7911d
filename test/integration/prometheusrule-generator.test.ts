/**
 * scripts/generate-prometheusrule.mjs (`npm run rules`), run as a process: every runbook_url of
 * alerts/*.yml and alerts/tests/*.yml from the one base URL, and deploy/kubernetes/prometheusrule.yaml
 * from alerts/*.yml.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ROOT } from '../helpers/process';

const DIR = join(ROOT, 'deploy', 'kubernetes');
const GENERATOR = join(ROOT, 'scripts', 'generate-prometheusrule.mjs');

type Manifest = Record<string, any>;

const validate = (rule: Manifest) => new PrometheusRule(structuredClone(rule) as never).validate();

describe('prometheusrule.yaml, generated from alerts/*.yml', () => {
  const generate = (...args: string[]) => spawnSync(process.execPath, [GENERATOR, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

  test('is what the generator makes of alerts/ today (else run: npm run rules)', () => {
    const result = generate('--stdout');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(join(DIR, 'prometheusrule.yaml'), 'utf8')).toBe(result.stdout);
  });

  test('alerts/, alerts/tests/ and prometheusrule.yaml are up to date with the runbook base URL (--check)', () => {
    const result = generate('--check');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('a missing or empty alerts directory gives groups: []', () => {
    const empty = mkdtempSync(join(tmpdir(), 'backup-exporter-alerts-'));
    for (const dir of [empty, join(empty, 'missing')]) {
      const result = generate('--stdout', `--alerts-dir=${dir}`);
      expect(result.status).toBe(0);
      const rule = parse(result.stdout) as Manifest;
      expect(rule.spec).toEqual({ groups: [] });
      expect(() => validate(rule)).not.toThrow();
    }
  });

  test('a file that is not a rule file, or a duplicate group name, is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-alerts-'));
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules: []\n');
    writeFileSync(join(dir, 'b.yml'), 'rule_files: [a.yml]\ntests: []\n');
    let result = generate('--stdout', `--alerts-dir=${dir}`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('b.yml: not a Prometheus rule file');
    writeFileSync(join(dir, 'b.yml'), 'groups:\n  - name: g\n    rules: []\n');
    result = generate('--stdout', `--alerts-dir=${dir}`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('group "g" is also in');
  });

  /** A scratch copy of alerts/ (with its tests) and an output file beside it. */
  function scratch() {
    const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-rule-'));
    cpSync(join(ROOT, 'alerts'), join(dir, 'alerts'), { recursive: true });
    return { alerts: join(dir, 'alerts'), out: join(dir, 'prometheusrule.yaml') };
  }

  test('--check fails while the output file is out of date', () => {
    const { alerts, out } = scratch();
    writeFileSync(out, 'stale\n');
    const args = [`--alerts-dir=${alerts}`, `--out=${out}`];
    const stale = generate('--check', ...args);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain(out);
    expect(generate(...args).status).toBe(0);
    expect(generate('--check', ...args).status).toBe(0);
  });

  test('--check fails on a stale runbook_url in a rule file or a unit test; a run rewrites only that value', () => {
    const { alerts, out } = scratch();
    const args = [`--alerts-dir=${alerts}`, `--out=${out}`];
    expect(generate(...args).status).toBe(0);
    for (const file of [join(alerts, 'backup-exporter.rules.yml'), join(alerts, 'tests', 'targets.test.yml')]) {
      const good = readFileSync(file, 'utf8');
      const url = /runbook_url: (\S+#backuptargetdown)\n/.exec(good)![1];
      writeFileSync(file, good.replace(url, 'docs/runbooks.md#backuptargetdown'));
      const result = generate('--check', ...args);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(file);
      expect(generate(...args).status).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe(good); // comments, quoting and layout as they were
    }
  });

  test('--runbook-base-url sets every runbook_url to <base>#<alert in lower case>; a bad base is refused', () => {
    const { alerts, out } = scratch();
    const base = 'https://wiki.example.com/ops/backup-runbooks';
    const args = [`--alerts-dir=${alerts}`, `--out=${out}`, `--runbook-base-url=${base}`];
    expect(generate(...args).status).toBe(0);
    const rule = parse(readFileSync(out, 'utf8')) as Manifest;
    const alertRules = rule.spec.groups.flatMap((g: Manifest) => g.rules).filter((r: Manifest) => r.alert);
    expect(alertRules.length).toBeGreaterThan(5);
    for (const r of alertRules) expect(r.annotations.runbook_url).toBe(`${base}#${r.alert.toLowerCase()}`);
    expect(readFileSync(join(alerts, 'tests', 'jobs.test.yml'), 'utf8')).toContain(`runbook_url: ${base}#backupjobfailed\n`);
    expect(generate('--check', ...args).status).toBe(0);
    // The package.json setting differs from this base: without the flag the copy is stale.
    expect(generate('--check', `--alerts-dir=${alerts}`, `--out=${out}`).status).toBe(1);

    for (const [bad, why] of [
      ['docs/runbooks.md', 'is not an absolute URL'],
      ['ftp://wiki.example.com/runbooks', 'must start with http:// or https://'],
      ['https://wiki.example.com/runbooks#top', 'must not hold a "#"'],
      ['https://wiki.example.com/run books', 'holds characters'],
    ]) {
      const result = generate('--stdout', `--runbook-base-url=${bad}`);
      expect({ bad, status: result.status }).toEqual({ bad, status: 1 });
      expect(result.stderr).toContain(why);
    }
  });

  test('an alert without a runbook_url is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-alerts-'));
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: NoRunbook\n        expr: vector(1)\n');
    const result = generate('--stdout', `--alerts-dir=${dir}`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('alert NoRunbook has no annotations.runbook_url');
  });
});

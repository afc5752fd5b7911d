/** scripts/generate-prometheusrule.mjs, run as a process: deploy/kubernetes/prometheusrule.yaml from alerts/*.yml. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

  test('is what the generator makes of alerts/ today (else run: node scripts/generate-prometheusrule.mjs)', () => {
    const result = generate('--stdout');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(join(DIR, 'prometheusrule.yaml'), 'utf8')).toBe(result.stdout);
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

  test('--check fails while the output file is out of date', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'backup-exporter-rule-')), 'prometheusrule.yaml');
    writeFileSync(out, 'stale\n');
    expect(generate('--check', `--out=${out}`).status).toBe(1);
    expect(generate(`--out=${out}`).status).toBe(0);
    expect(generate('--check', `--out=${out}`).status).toBe(0);
  });
});

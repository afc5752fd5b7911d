#!/usr/bin/env node
// `npm run rules`: keeps every alert's runbook_url and the Kubernetes PrometheusRule in step with one
// setting, the runbook base URL (package.json "config": { "runbook_base_url": ... }).
//
// 1. In every Prometheus rule file alerts/*.yml, each alert's `annotations.runbook_url` becomes
//    `<base>#<alert name in lower case>`, and so does each expected runbook_url in the promtool unit
//    tests alerts/tests/*.yml. Only those values are replaced, in place: comments and layout stay.
// 2. deploy/kubernetes/prometheusrule.yaml is written: a Prometheus Operator PrometheusRule holding
//    every group of every alerts/*.yml, in file-name order (a missing or empty alerts/ gives
//    `groups: []`).
// Unit tests (test/unit/deploy-manifests.test.ts, test/integration/prometheusrule-generator.test.ts)
// fail while a committed file differs from what this script makes of it.
//
// The default base is the exporter's own documentation (/docs/runbooks.html, rendered at build time),
// so the links work for `npm start` and the compose stack as they are; docs/runbooks.md ("Pointing
// runbook_url at your wiki") says how to point them elsewhere.
//
//   npm run rules                                  rewrite alerts/ and write the PrometheusRule
//   npm run rules -- --check                       exit 1 if any of those files is out of date
//   npm run rules -- --stdout                      print the PrometheusRule; write nothing
//   npm run rules -- --runbook-base-url=URL        another base than package.json's, this once
//   --alerts-dir=DIR / --out=FILE                  other rule folder (its tests in DIR/tests) / output file
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, parse, parseDocument, stringify } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND = 'npm run rules';
const SETTING = 'package.json "config": { "runbook_base_url" }';

const HEADER = `# GENERATED from alerts/*.yml by scripts/generate-prometheusrule.mjs: do not edit. Change the rule
# files in alerts/, then run \`${COMMAND}\`. The runbook_url base is one setting, ${SETTING}
# (docs/runbooks.md, "Pointing runbook_url at your wiki").
# Your Prometheus selects PrometheusRules by label (its ruleSelector): add that label in the script.
`;

/** Characters a base URL may hold: those of a URL, less `#` (the anchor is ours) and what YAML would need quoted. */
const URL_CHARACTERS = /^[A-Za-z0-9\-._~:/?@!$&'()*+;=%]+$/;

/** `url` if it can be the runbook base (an absolute http(s) URL without a fragment), else throws saying why. */
export function checkBaseUrl(url, source) {
  const problem = (why) => new Error(`runbook base URL ${JSON.stringify(url)} (${source}) ${why}`);
  if (typeof url !== 'string' || url === '') throw problem('is not set');
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw problem('is not an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw problem('must start with http:// or https://');
  if (url.includes('#')) throw problem('must not hold a "#": the alert name in lower case is appended as the anchor');
  if (!URL_CHARACTERS.test(url)) throw problem('holds characters that a URL does not (percent-encode them)');
  return url;
}

/** The base URL configured in package.json. */
export function configuredBaseUrl(root = ROOT) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return checkBaseUrl(pkg.config?.runbook_base_url, SETTING);
}

export const runbookUrl = (base, alertName) => `${base}#${alertName.toLowerCase()}`;

const yamlFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => /\.ya?ml$/.test(name) && statSync(join(dir, name)).isFile())
        .sort()
        .map((name) => join(dir, name))
    : [];

const display = (path) => {
  const rel = relative(ROOT, path);
  return rel && !rel.startsWith('..') ? rel : path;
};

function parseYaml(text, where) {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`${where}: ${doc.errors[0].message}`);
  return doc;
}

/** `text` with the scalars at `edits` ({ node, value }) replaced; everything else stays byte for byte. */
function applyEdits(text, edits) {
  let out = text;
  for (const { node, value } of [...edits].sort((a, b) => b.node.range[0] - a.node.range[0])) {
    out = out.slice(0, node.range[0]) + value + out.slice(node.range[1]);
  }
  return out;
}

/** The runbook_url scalar of a mapping's `annotations`, or undefined; throws when it is there but not a string. */
function runbookNode(annotations, where) {
  if (!isMap(annotations)) return undefined;
  const node = annotations.get('runbook_url', true);
  if (node === undefined) return undefined;
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) throw new Error(`${where}: runbook_url is not a plain string`);
  return node;
}

/** A rule file's text with every alert's runbook_url set; throws on a file that is not a rule file or an alert without one. */
export function rewriteRuleFile(text, where, base) {
  const doc = parseYaml(text, where);
  const groups = doc.get('groups', true);
  if (!isSeq(groups)) throw new Error(`${where}: not a Prometheus rule file (expected a top-level "groups" list)`);
  const edits = [];
  for (const [i, group] of groups.items.entries()) {
    const rules = isMap(group) ? group.get('rules', true) : undefined;
    if (!isMap(group) || typeof group.get('name') !== 'string' || !isSeq(rules)) {
      throw new Error(`${where}: groups[${i}]: expected a mapping with "name" and a "rules" list`);
    }
    for (const rule of rules.items) {
      const alert = isMap(rule) ? rule.get('alert') : undefined;
      if (typeof alert !== 'string') continue;
      const node = runbookNode(rule.get('annotations', true), `${where}: alert ${alert}`);
      if (!node) throw new Error(`${where}: alert ${alert} has no annotations.runbook_url: add one (\`${COMMAND}\` sets its value) and a section "## ${alert}" in docs/runbooks.md`);
      edits.push({ node, value: runbookUrl(base, alert) });
    }
  }
  return applyEdits(text, edits);
}

/** A promtool unit test file's text with every expected runbook_url set from its case's alertname. */
export function rewriteTestFile(text, where, base) {
  const doc = parseYaml(text, where);
  const tests = doc.get('tests', true);
  const edits = [];
  for (const test of isSeq(tests) ? tests.items : []) {
    const cases = isMap(test) ? test.get('alert_rule_test', true) : undefined;
    for (const item of isSeq(cases) ? cases.items : []) {
      const alert = isMap(item) ? item.get('alertname') : undefined;
      const expected = isMap(item) ? item.get('exp_alerts', true) : undefined;
      if (typeof alert !== 'string' || !isSeq(expected)) continue;
      for (const exp of expected.items) {
        const node = isMap(exp) ? runbookNode(exp.get('exp_annotations', true), `${where}: ${alert}`) : undefined;
        if (node) edits.push({ node, value: runbookUrl(base, alert) });
      }
    }
  }
  return applyEdits(text, edits);
}

/** The groups of the rule files (already rewritten), in order; throws on a repeated group name. */
function groupsOf(ruleFiles) {
  const groups = [];
  const firstFile = new Map();
  for (const { where, text } of ruleFiles) {
    for (const group of parse(text).groups) {
      if (firstFile.has(group.name)) {
        throw new Error(`${where}: group "${group.name}" is also in ${firstFile.get(group.name)}; group names must be unique`);
      }
      firstFile.set(group.name, where);
      groups.push(group);
    }
  }
  return groups;
}

function prometheusRule(groups) {
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'backup-exporter',
      labels: { 'app.kubernetes.io/name': 'backup-exporter', 'app.kubernetes.io/component': 'exporter' },
    },
    spec: { groups },
  };
  return HEADER + stringify(rule, { lineWidth: 0 });
}

/**
 * Every file this script owns, with its current and its wanted text: the rule files and their tests
 * in `alertsDir`, and the PrometheusRule at `out`.
 */
export function plan({ alertsDir = join(ROOT, 'alerts'), out = join(ROOT, 'deploy', 'kubernetes', 'prometheusrule.yaml'), base = configuredBaseUrl() } = {}) {
  const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const rules = yamlFiles(alertsDir).map((path) => {
    const current = read(path);
    return { path, where: display(path), current, text: rewriteRuleFile(current, display(path), base) };
  });
  const tests = yamlFiles(join(alertsDir, 'tests')).map((path) => {
    const current = read(path);
    return { path, where: display(path), current, text: rewriteTestFile(current, display(path), base) };
  });
  const rule = { path: out, where: display(out), current: read(out), text: prometheusRule(groupsOf(rules)) };
  return [...rules, ...tests, rule];
}

function main(argv) {
  const options = { check: false, stdout: false };
  let base;
  for (const arg of argv) {
    if (arg === '--check') options.check = true;
    else if (arg === '--stdout') options.stdout = true;
    else if (arg.startsWith('--alerts-dir=')) options.alertsDir = resolve(arg.slice('--alerts-dir='.length));
    else if (arg.startsWith('--out=')) options.out = resolve(arg.slice('--out='.length));
    else if (arg.startsWith('--runbook-base-url=')) base = arg.slice('--runbook-base-url='.length);
    else {
      process.stderr.write(
        `unknown argument ${JSON.stringify(arg)}\nusage: ${COMMAND} -- [--check] [--stdout] [--runbook-base-url=URL] [--alerts-dir=DIR] [--out=FILE]\n`,
      );
      return 2;
    }
  }
  let files;
  try {
    options.base = base === undefined ? configuredBaseUrl() : checkBaseUrl(base, '--runbook-base-url');
    files = plan(options);
  } catch (err) {
    process.stderr.write(`generate-prometheusrule: ${err.message}\n`);
    return 1;
  }
  if (options.stdout) {
    process.stdout.write(files[files.length - 1].text);
    return 0;
  }
  const stale = files.filter((f) => f.current !== f.text);
  if (options.check) {
    if (stale.length === 0) return 0;
    process.stderr.write(
      `out of date with alerts/ and the runbook base URL ${options.base}:\n${stale.map((f) => `  ${f.where}\n`).join('')}run \`${COMMAND}\`\n`,
    );
    return 1;
  }
  for (const f of stale) {
    writeFileSync(f.path, f.text);
    process.stdout.write(`wrote ${f.where}\n`);
  }
  if (stale.length === 0) process.stdout.write(`up to date: ${files.length} files (runbook base URL ${options.base})\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}

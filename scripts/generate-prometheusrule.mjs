#!/usr/bin/env node
// Writes deploy/kubernetes/prometheusrule.yaml: a Prometheus Operator PrometheusRule holding every
// group of every Prometheus rule file alerts/*.yml, in file-name order. alerts/ is the one source;
// the PrometheusRule is generated from it and a unit test (test/unit/deploy-manifests.test.ts) fails
// while the committed file differs from what this script generates. A missing or empty alerts/ gives
// `groups: []`. alerts/tests/ (promtool unit tests) is not read.
//
//   node scripts/generate-prometheusrule.mjs            write the file
//   node scripts/generate-prometheusrule.mjs --check    exit 1 if the committed file is out of date
//   node scripts/generate-prometheusrule.mjs --stdout   print instead of writing
//   --alerts-dir=DIR / --out=FILE                       other input directory / output file
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND = 'node scripts/generate-prometheusrule.mjs';

const HEADER = `# GENERATED from alerts/*.yml by scripts/generate-prometheusrule.mjs: do not edit. Change the rule
# files in alerts/, then run \`${COMMAND}\`.
# Your Prometheus selects PrometheusRules by label (its ruleSelector): add that label in the script.
`;

/** The rule groups of every alerts/*.yml, in file-name order; throws on a file that is not a rule file. */
function readGroups(alertsDir) {
  if (!existsSync(alertsDir)) return [];
  const files = readdirSync(alertsDir)
    .filter((name) => /\.ya?ml$/.test(name) && statSync(join(alertsDir, name)).isFile())
    .sort();
  const groups = [];
  const firstFile = new Map();
  for (const name of files) {
    const where = relative(ROOT, join(alertsDir, name)) || name;
    let doc;
    try {
      doc = parse(readFileSync(join(alertsDir, name), 'utf8'));
    } catch (err) {
      throw new Error(`${where}: ${err.message}`);
    }
    if (doc === null || typeof doc !== 'object' || !Array.isArray(doc.groups)) {
      throw new Error(`${where}: not a Prometheus rule file (expected a top-level "groups" list)`);
    }
    for (const [i, group] of doc.groups.entries()) {
      if (group === null || typeof group !== 'object' || typeof group.name !== 'string' || !Array.isArray(group.rules)) {
        throw new Error(`${where}: groups[${i}]: expected a mapping with "name" and a "rules" list`);
      }
      if (firstFile.has(group.name)) {
        throw new Error(`${where}: group "${group.name}" is also in ${firstFile.get(group.name)}; group names must be unique`);
      }
      firstFile.set(group.name, where);
      groups.push(group);
    }
  }
  return groups;
}

/** The text of prometheusrule.yaml for the rule files in `alertsDir`. */
export function generate(alertsDir = join(ROOT, 'alerts')) {
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'backup-exporter',
      labels: { 'app.kubernetes.io/name': 'backup-exporter', 'app.kubernetes.io/component': 'exporter' },
    },
    spec: { groups: readGroups(alertsDir) },
  };
  return HEADER + stringify(rule, { lineWidth: 0 });
}

function main(argv) {
  const options = { check: false, stdout: false, alertsDir: join(ROOT, 'alerts'), out: join(ROOT, 'deploy', 'kubernetes', 'prometheusrule.yaml') };
  for (const arg of argv) {
    if (arg === '--check') options.check = true;
    else if (arg === '--stdout') options.stdout = true;
    else if (arg.startsWith('--alerts-dir=')) options.alertsDir = resolve(arg.slice('--alerts-dir='.length));
    else if (arg.startsWith('--out=')) options.out = resolve(arg.slice('--out='.length));
    else {
      process.stderr.write(`unknown argument ${JSON.stringify(arg)}\nusage: ${COMMAND} [--check] [--stdout] [--alerts-dir=DIR] [--out=FILE]\n`);
      return 2;
    }
  }
  let text;
  try {
    text = generate(options.alertsDir);
  } catch (err) {
    process.stderr.write(`generate-prometheusrule: ${err.message}\n`);
    return 1;
  }
  if (options.stdout) {
    process.stdout.write(text);
    return 0;
  }
  if (options.check) {
    const current = existsSync(options.out) ? readFileSync(options.out, 'utf8') : '';
    if (current === text) return 0;
    process.stderr.write(`${relative(ROOT, options.out)} is out of date with alerts/: run \`${COMMAND}\`\n`);
    return 1;
  }
  writeFileSync(options.out, text);
  process.stdout.write(`wrote ${relative(ROOT, options.out)} (${text.length} bytes)\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}

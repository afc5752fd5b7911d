/**
 * scripts/generate-docs.mjs (`npm run docs`), run as a process: the generated blocks of README.md,
 * docs/ and simulators/README.md are what it makes of the provider registry, exporter.schema.json,
 * the simulators' demo list and the provider pages today; a stale block, a missing marker or a
 * provider page without a required section fails `--check`, naming the file.
 *
 * Needs the builds (dist/ and build/simulators/): npm test and npm run test:integration make them.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/process';

const GENERATOR = join(ROOT, 'scripts', 'generate-docs.mjs');
const FILES = ['README.md', 'docs', 'simulators/README.md'];

const generate = (...args: string[]) => spawnSync(process.execPath, [GENERATOR, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

/** A copy of the documents the generator reads and writes, to break on purpose. */
function copyDocs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-docs-'));
  mkdirSync(join(dir, 'simulators'));
  for (const file of FILES) cpSync(join(ROOT, file), join(dir, file), { recursive: true });
  return dir;
}

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});
const scratch = () => {
  const dir = copyDocs();
  dirs.push(dir);
  return dir;
};

test('every generated block is up to date (else run: npm run docs)', () => {
  const result = generate('--check');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
});

test('a stale block fails --check naming its file; writing mends it', () => {
  const dir = scratch();
  const metrics = join(dir, 'docs', 'metrics.md');
  const original = readFileSync(metrics, 'utf8');
  writeFileSync(metrics, original.replace(/^\| \[`atlas`\]\(providers\/atlas\.md#what-is-reported\).*\n/m, ''));
  expect(readFileSync(metrics, 'utf8')).not.toBe(original);

  const stale = generate('--check', `--docs-root=${dir}`);
  expect(stale.status).toBe(1);
  expect(stale.stderr).toContain('docs/metrics.md');
  expect(stale.stderr).not.toContain('README.md');

  const write = generate(`--docs-root=${dir}`);
  expect(write.status).toBe(0);
  expect(write.stdout).toBe('wrote docs/metrics.md\n');
  expect(readFileSync(metrics, 'utf8')).toBe(original);
  expect(generate('--check', `--docs-root=${dir}`).status).toBe(0);
});

test('a provider page without a required section is refused, naming the page and the section', () => {
  const dir = scratch();
  const page = join(dir, 'docs', 'providers', 'atlas.md');
  writeFileSync(page, readFileSync(page, 'utf8').replace('\n## Resource naming\n', '\n## Naming\n'));
  const result = generate('--check', `--docs-root=${dir}`);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('docs/providers/atlas.md');
  expect(result.stderr).toContain('"## Resource naming"');
});

test('a file whose markers are gone is refused, not silently left alone', () => {
  const dir = scratch();
  const security = join(dir, 'docs', 'security.md');
  writeFileSync(security, readFileSync(security, 'utf8').replace('<!-- end generated: permissions -->', ''));
  const result = generate('--check', `--docs-root=${dir}`);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('docs/security.md: no "<!-- generated: permissions');
});

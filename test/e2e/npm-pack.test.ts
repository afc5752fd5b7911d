/**
 * The npm package as a user gets it: `npm pack` the project, install the tarball with production
 * dependencies only into an empty folder, run the installed `backup-exporter` command, scrape it and
 * read its documentation at /docs/.
 * Catches a `files` list that leaves out what the installed program needs, a missing shebang or bin,
 * and a runtime dependency declared as a dev dependency.
 *
 * Needs the build (`npm run build`; `npm test` does it) and the npm registry: the install fetches
 * the production dependencies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { MAIN, ROOT, freePort, startProcess, waitWhileRunning } from '../helpers/process';

const INSTALL_TIMEOUT_MS = 180_000;
jest.setTimeout(INSTALL_TIMEOUT_MS + 90_000);

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), 'backup-exporter-pack-'));
const installDir = join(work, 'install');

/** npm without the npm_* variables of an enclosing `npm test` (npm_config_local_prefix would send it to the project). */
function npm(args: string[], cwd: string, timeout: number) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  const result = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`npm ${args.join(' ')}: ${result.error.message}\n${result.stderr}`);
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

let tarball = '';
let packedFiles: string[] = [];

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  // --ignore-scripts: `prepare` would rebuild dist/, which the other test files are using.
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', `--pack-destination=${work}`], ROOT, 60_000)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = join(work, packed[0].filename);
  packedFiles = packed[0].files.map((f) => f.path);
  mkdirSync(installDir);
  writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'pack-install-test', version: '0.0.0', private: true }));
  npm(['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', tarball], installDir, INSTALL_TIMEOUT_MS);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds the program, its rendered documentation, its configuration files and package.json, and no sources or tests', () => {
  for (const file of ['package.json', pkg.bin['backup-exporter'], 'exporter.yml', 'exporter.schema.json', 'dist/docs/index.html', 'dist/docs/runbooks.html']) {
    expect(packedFiles).toContain(file);
  }
  // The documentation as HTML only: no Markdown sources or build script.
  expect(packedFiles.filter((f) => f.startsWith('dist/docs/') && !f.endsWith('.html'))).toEqual([]);
  expect(packedFiles.filter((f) => /^(docs|scripts)\//.test(f))).toEqual([]);
  expect(packedFiles.filter((f) => /^(src|test|bench|deploy|node_modules)\//.test(f))).toEqual([]);
});

test('the tarball holds no product simulator: no file of theirs, and no code that serves their control API', () => {
  // The simulators are a program of their own (simulators/, built to build/), never the exporter's.
  expect(packedFiles.filter((f) => /^(simulators|build)\/|(^|\/)simulators?\b|digest-server|huawei-gateway/.test(f))).toEqual([]);
  const installed = join(installDir, 'node_modules', pkg.name);
  const serving = packedFiles
    .filter((f) => f.endsWith('.js'))
    .filter((f) => /['"`]\/_sim\b|createOpsManagerSimulator|verifyDigestAuthorization/.test(readFileSync(join(installed, f), 'utf8')));
  expect(serving).toEqual([]);
});

test('the install has the bin with its shebang, and no dev dependencies', () => {
  const installed = join(installDir, 'node_modules', pkg.name);
  const main = join(installed, pkg.bin['backup-exporter']);
  expect(readFileSync(main, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  const bin = join(installDir, 'node_modules', '.bin', 'backup-exporter');
  expect(statSync(bin).mode & 0o111).not.toBe(0);
  for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(installDir, 'node_modules', dev))).toBe(false);
});

test('the installed backup-exporter serves /metrics (build info, the unreachable target down) and /docs/; SIGTERM exits 0', async () => {
  const bin = join(installDir, 'node_modules', '.bin', 'backup-exporter');
  const version = spawnSync(bin, ['--version'], { cwd: installDir, encoding: 'utf8', timeout: 20_000 });
  expect(version.stdout).toContain(`backup-exporter ${pkg.version}`);
  expect(version.status).toBe(0);

  const unused = await freePort(); // free a moment ago: nothing listens there
  const port = await freePort();
  const config = join(work, 'exporter.yml');
  writeFileSync(
    config,
    `targets:
  - name: pack-target
    provider: opsmanager
    url: http://127.0.0.1:${unused}
    timeout: 5s
    opsmanager:
      public_key: k
      private_key: p
`,
  );
  const child = startProcess(bin, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { cwd: installDir });
  let text: string;
  let runbooks: { status: number; type: string; body: string };
  let code: number | null;
  try {
    text = await waitWhileRunning(
      child,
      'the installed exporter to serve /metrics',
      async () => {
        const res = await request(`http://127.0.0.1:${port}/metrics`);
        const body = await res.body.text();
        return res.statusCode === 200 ? body : undefined;
      },
      30_000,
    );
    const res = await request(`http://127.0.0.1:${port}/docs/runbooks.html`);
    runbooks = { status: res.statusCode, type: String(res.headers['content-type']), body: await res.body.text() };
  } finally {
    code = await child.stop(15_000);
  }
  expect(text).toMatch(new RegExp(`^backup_exporter_build_info\\{[^}]*version="${pkg.version.replace(/\./g, '\\.')}"[^}]*\\} 1$`, 'm'));
  expect(text).toMatch(/^backup_up\{target="pack-target",provider="opsmanager"\} 0$/m);
  expect(runbooks).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
  expect(runbooks.body).toContain('id="backuptargetdown"');
  expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
});

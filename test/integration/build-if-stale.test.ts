/** `npm start` builds only what is stale: scripts/build-if-stale.mjs compares sources with outputs by modification time. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/process';

function staleIn(root: string): string[] {
  const script = join(ROOT, 'scripts', 'build-if-stale.mjs');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', `import { staleBuilds } from ${JSON.stringify(script)}; console.log(JSON.stringify(staleBuilds(${JSON.stringify(root)})))`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as string[];
}

function file(path: string, secondsAgo: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  const at = Date.now() / 1000 - secondsAgo;
  utimesSync(path, at, at);
}

test('nothing built: both builds; outputs newer than every source: none; one newer source: the builds that read it', () => {
  const root = mkdtempSync(join(tmpdir(), 'build-if-stale-'));
  file(join(root, 'src', 'main.ts'), 100);
  file(join(root, 'simulators', 'main.ts'), 100);
  file(join(root, 'package.json'), 100);
  expect(staleIn(root)).toEqual(['build', 'build:simulators']);
  file(join(root, 'dist', 'main.js'), 50);
  file(join(root, 'build', 'simulators', 'main.js'), 50);
  expect(staleIn(root)).toEqual([]);
  file(join(root, 'simulators', 'opsmanager.ts'), 10);
  expect(staleIn(root)).toEqual(['build:simulators']);
  file(join(root, 'src', 'text.ts'), 5);
  expect(staleIn(root)).toEqual(['build', 'build:simulators']);
});

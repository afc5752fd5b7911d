// `npm start`'s build step: compiles the exporter and the simulators only when a source is newer than
// what was built from it, so a second start answers in seconds instead of waiting for tsc.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The newest modification time (ms) of the files below `paths` (files or folders); 0 when none exist. */
export function newestMtime(paths) {
  let newest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules') visit(join(path, entry));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of paths) visit(path);
  return newest;
}

/** The builds whose output is missing or older than one of their inputs. */
export function staleBuilds(root = ROOT) {
  const at = (...parts) => join(root, ...parts);
  const builds = [
    {
      script: 'build',
      output: at('dist', 'main.js'),
      // The build also renders docs/ into dist/docs (served at /docs/).
      inputs: [at('src'), at('docs'), at('scripts', 'build-docs.mjs'), at('tsconfig.json'), at('tsconfig.build.json'), at('package.json')],
    },
    {
      script: 'build:simulators',
      output: at('build', 'simulators', 'main.js'),
      // The simulators import a few helpers from src/.
      inputs: [at('simulators'), at('src'), at('tsconfig.json'), at('package.json')],
    },
  ];
  return builds.filter(({ output, inputs }) => !existsSync(output) || newestMtime(inputs) > statSync(output).mtimeMs).map(({ script }) => script);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const script of staleBuilds()) {
    const run = spawnSync('npm', ['run', script, '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

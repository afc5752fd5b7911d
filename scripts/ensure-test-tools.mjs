#!/usr/bin/env node
// The end-to-end tests run a real Prometheus (and Alertmanager). Where the binaries are missing and we
// are root, install Debian's packages; otherwise fail with the command to run.
import { execFileSync, spawnSync } from 'node:child_process';

const TOOLS = { prometheus: 'prometheus', promtool: 'prometheus', 'prometheus-alertmanager': 'prometheus-alertmanager' };

const missing = () => Object.keys(TOOLS).filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

let absent = missing();
if (absent.length === 0) process.exit(0);

const packages = [...new Set(absent.map((tool) => TOOLS[tool]))];
const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.error(`The end-to-end tests need ${absent.join(', ')}. Install them with:\n  sudo ${command}`);
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env, timeout: 600_000 }).status === 0;
console.error(`installing ${packages.join(', ')} for the end-to-end tests`);
const installArgs = ['install', '-y', '--no-install-recommends', ...packages];
// A fresh machine may have no package lists yet: update once and try again.
if (!run(installArgs) && !(run(['update']) && run(installArgs))) {
  console.error(`could not install ${packages.join(', ')}; run as root:\n  apt-get update && ${command}`);
  process.exit(1);
}
absent = missing();
if (absent.length) {
  console.error(`still missing after the install: ${absent.join(', ')}`);
  process.exit(1);
}
console.error(execFileSync('prometheus', ['--version'], { encoding: 'utf8' }).split('\n')[0]);

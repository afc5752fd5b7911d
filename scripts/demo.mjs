#!/usr/bin/env node
// The demo in one command (`npm start`, after the build): the product simulators
// (build/simulators/main.js, one port per product from 127.0.0.1:19101) and, once they listen, the exporter
// (dist/main.js --config.file=exporter.yml, on :9877), each in a child process of its own, with
// their output forwarded line by line behind the name of the process that wrote it.
//
// Ctrl-C or SIGTERM stops both. If one of them ends on its own, the other is stopped too and this
// script exits non-zero: half a demo would only mislead. Arguments go to the exporter:
//   npm start -- --web.listen-address=127.0.0.1:9900 --log.level=debug
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIMULATORS = join(ROOT, 'build', 'simulators', 'main.js');
const EXPORTER = join(ROOT, 'dist', 'main.js');
const CONFIG = join(ROOT, 'exporter.yml');
// Past this, a child that ignored SIGTERM is killed, so the demo never outlives its terminal.
const STOP_GRACE_MS = 15_000;

/** @type {Map<string, import('node:child_process').ChildProcess>} */
const children = new Map();
let stopping = false;
let exitCode = 0;

function start(name, args, onLine) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(name, child);
  const prefix = `[${name}] `;
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stdout.write(`${prefix}${line}\n`);
    onLine?.(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`${prefix}${line}\n`));
  child.on('error', (err) => {
    process.stderr.write(`demo: cannot start the ${name}: ${err.message}\n`);
    ended(name, 1);
  });
  child.on('exit', (code, signal) => ended(name, code ?? (signal ? 1 : 0), signal));
  return child;
}

function ended(name, code, signal) {
  if (!children.delete(name)) return;
  if (!stopping) {
    process.stderr.write(`demo: the ${name} ended (${signal ?? `exit ${code}`}); stopping the demo\n`);
    exitCode = code === 0 ? 1 : code;
    stop();
  } else if (code !== 0 && exitCode === 0) {
    exitCode = code;
  }
  if (children.size === 0) process.exit(exitCode);
}

function stop() {
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, STOP_GRACE_MS).unref();
  if (children.size === 0) process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (!stopping) process.stderr.write(`demo: ${signal}: stopping the simulators and the exporter\n`);
    stop();
  });
}

start('simulators', [SIMULATORS], (line) => {
  // The exporter starts once every simulator listens, so its first scrape finds them.
  if (line === 'ready' && !stopping && !children.has('exporter')) {
    start('exporter', [EXPORTER, `--config.file=${CONFIG}`, ...process.argv.slice(2)]);
  }
});

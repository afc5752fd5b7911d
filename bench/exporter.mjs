// The exporter under measurement: dist/main.js in a child process with bench/probe.cjs preloaded,
// so that CPU time, memory and event-loop delay are the exporter's own, not the simulators'.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { request } = require('undici');
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startExporter(configYaml) {
  const dir = mkdtempSync(join(os.tmpdir(), 'backup-exporter-bench-'));
  writeFileSync(join(dir, 'exporter.yml'), configYaml);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []),
      '--require',
      join(ROOT, 'bench', 'probe.cjs'),
      join(ROOT, 'dist', 'main.js'),
      `--config.file=${join(dir, 'exporter.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  let nextId = 0;
  const sample = (reset = false) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error('exporter did not answer the probe')), 10_000);
      const onMessage = (m) => {
        if (m?.bench === 'sample' && m.id === id) {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.send({ bench: 'sample', id, reset });
    });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await request(`${url}/-/ready`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid: child.pid,
    sample,
    /** Open sockets of the exporter process (Linux: /proc/<pid>/fd). */
    openSockets: () => {
      try {
        return readdirSync(`/proc/${child.pid}/fd`).filter((fd) => {
          try {
            return readlinkSync(`/proc/${child.pid}/fd/${fd}`).startsWith('socket:');
          } catch {
            return false;
          }
        }).length;
      } catch {
        return NaN;
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

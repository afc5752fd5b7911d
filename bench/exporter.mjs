// The exporter under measurement: dist/main.js (of this checkout, or of `root`) in a child process
// with bench/probe.cjs preloaded, so that CPU time, memory, event-loop delay and what it saw at its
// sockets are the exporter's own, not the simulators'.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
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

/** Every exporter started and not yet stopped: killed, and its folder removed, on any way out. */
const running = new Set();
process.on('exit', () => {
  for (const { child, dir } of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Starts dist/main.js of `root` (this checkout by default) with `configYaml`; `dir` is its own
 * temporary folder (configuration, recorded answers), removed when it stops.
 */
export async function startExporter(configYaml, { root = ROOT } = {}) {
  const dir = mkdtempSync(join(os.tmpdir(), 'backup-exporter-bench-'));
  writeFileSync(join(dir, 'exporter.yml'), configYaml);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []),
      '--require',
      join(ROOT, 'bench', 'probe.cjs'),
      join(root, 'dist', 'main.js'),
      `--config.file=${join(dir, 'exporter.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const entry = { child, dir };
  running.add(entry);
  let nextId = 0;
  /** Asks the probe (bench/probe.cjs); parsing a million jobs' recorded answers takes seconds. */
  const ask = (bench, fields = {}, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error(`exporter did not answer the probe's "${bench}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m) => {
        if (m?.bench === bench && m.id === id) {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.send({ bench, id, ...fields });
    });
  const sample = (reset = false, gc = false) => ask('sample', { reset, gc });
  const recordings = join(dir, 'answers.bin');
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
    dir,
    sample,
    /** Records the answer bodies of the scrapes until stopRecording() (see bench/probe.cjs). */
    record: () => ask('record', { file: recordings }),
    stopRecording: () => ask('record', { file: undefined }),
    /** Moves the exporter's wall clock forward by `ms` (see bench/probe.cjs); only between scrapes. */
    advanceClock: (ms) => ask('advance', { ms }),
    /** Writes a V8 heap snapshot of the exporter to `file`. */
    heapSnapshot: (file) => ask('heapsnapshot', { file }, 120_000),
    /** CPU of UTF-8 decoding and JSON.parse of the recorded bodies, in the exporter's process. */
    floor: () => ask('floor', { file: recordings }, 600_000),
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
        const done = () => {
          running.delete(entry);
          // The recorded answers, kept for bench/hotpath.mjs when asked to.
          if (process.env.BENCH_KEEP_ANSWERS && existsSync(recordings)) copyFileSync(recordings, process.env.BENCH_KEEP_ANSWERS);
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

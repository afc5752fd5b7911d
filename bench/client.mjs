// What the one-off bench scripts share (hostile.mjs, large-answer.mjs): bounded HTTP helpers, and
// the child processes and temporary folders that are removed on every way out.
import { rmSync } from 'node:fs';
import http from 'node:http';

export { freePort } from './exporter.mjs';

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** GET with a bound; resolves { status, body, bytes, ms }. */
export function get(url, { headers = {}, agent, timeoutMs = 60_000 } = {}) {
  return new Promise((resolveGet, reject) => {
    const started = performance.now();
    const req = http.get(url, { headers, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolveGet({ status: res.statusCode, body: buffer.toString('utf8'), bytes: buffer.length, ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Child processes to kill and folders to remove when the script ends, however it ends. */
export const children = new Set();
export const tempDirs = new Set();

export function cleanup() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

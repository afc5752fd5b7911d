/** The Dockerfile's HEALTHCHECK command, run with node against a local HTTP server. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../helpers/process';

const PORT = 9877;

/** The exec-form command of the Dockerfile's HEALTHCHECK (its form is checked in test/unit/dockerfile.test.ts). */
function healthcheckScript(): string {
  const joined = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const line = joined.split('\n').find((l) => /^HEALTHCHECK\s/.test(l));
  const command = JSON.parse(/CMD\s+(\[.*\])\s*$/.exec(line ?? '')?.[1] ?? 'null') as string[] | null;
  if (!command || command[0] !== 'node' || command[1] !== '-e') throw new Error(`no node -e HEALTHCHECK in the Dockerfile: ${line}`);
  return command[2];
}

test('the HEALTHCHECK script exits 0 on 200, 1 on another status and 1 when nothing listens', async () => {
  const script = healthcheckScript();
  let status = 200;
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/-/healthy' ? status : 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const run = (p: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script.replace(`:${PORT}/`, `:${p}/`)], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  try {
    expect(await run(port)).toBe(0);
    status = 503;
    expect(await run(port)).toBe(1);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(await run(port)).toBe(1);
});

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { DEFAULT_PORTS, PRODUCTS, type Product } from '../../simulators/demo';

export const ROOT = join(__dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'main.js');

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  process: ChildProcess;
  output(): string;
  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    output: () => output,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Thrown by a probe of waitFor to end the wait at once (other errors are retried). */
export class GiveUp extends Error {}

/** Polls `probe` until it returns a value (not undefined), at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** waitFor while `child` runs: if it exits first, fails at once with its exit code and output. */
export function waitWhileRunning<T>(child: Child, what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  return waitFor(
    what,
    async () => {
      const { exitCode, signalCode } = child.process;
      if (exitCode !== null || signalCode !== null) {
        throw new GiveUp(`waiting for ${what}: the process exited (${exitCode ?? signalCode}) first; its output:\n${child.output().slice(-4000)}`);
      }
      return probe();
    },
    timeoutMs,
    everyMs,
  );
}

/** The simulators program, as `npm run build:simulators` builds it. */
export const SIMULATORS_MAIN = join(ROOT, 'build', 'simulators', 'main.js');

const DEMO_PRODUCTS = PRODUCTS;
/** The ports of exporter.yml's demo targets, which a test must never bind: `npm start` may hold them. */
const DEMO_PORTS = DEFAULT_PORTS;

export interface DemoSimulators {
  child: Child;
  /** Base URL per product, e.g. urls.opsmanager = "http://127.0.0.1:40123". */
  urls: Record<Product, string>;
  /** exporter.yml (the demo configuration) with its targets pointed at these simulators. */
  config(): string;
}

/** The simulators program with every product on a free port, started and ready. */
export async function startDemoSimulators(): Promise<DemoSimulators> {
  const child = startProcess(process.execPath, [SIMULATORS_MAIN, ...DEMO_PRODUCTS.map((p) => `--${p}=127.0.0.1:0`)]);
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 15_000);
    child.process.stdout?.on('data', () => {
      if (/^ready$/m.test(child.output())) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void child.exited.then(() => resolve(false));
  });
  if (!ready) {
    await child.stop();
    throw new Error(`the simulators did not start: ${child.output()}`);
  }
  const urls = Object.fromEntries(
    DEMO_PRODUCTS.map((p) => [p, new RegExp(`^${p} listening on (\\S+)$`, 'm').exec(child.output())![1]!]),
  ) as DemoSimulators['urls'];
  const config = () => {
    let text = readFileSync(join(ROOT, 'exporter.yml'), 'utf8');
    for (const p of DEMO_PRODUCTS) text = text.replaceAll(`http://127.0.0.1:${DEMO_PORTS[p]}`, urls[p]);
    const settings = text.split('\n').filter((line) => !/^\s*#/.test(line));
    if (settings.some((line) => /:1910[1-4]\b/.test(line))) throw new Error('exporter.yml names a demo port this helper does not know');
    return text;
  };
  return { child, urls, config };
}

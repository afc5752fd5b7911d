/** The simulators program (build/simulators/main.js): products, addresses, a busy port, signals. */
import net from 'node:net';
import { request } from 'undici';
import { parseArgs } from '../../simulators/cli';
import { DEFAULT_PORTS, DEMOS, PRODUCTS } from '../../simulators/demo';
import { SIMULATORS_MAIN, startProcess } from '../helpers/process';

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startProcess(process.execPath, [SIMULATORS_MAIN, ...args]);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 20_000);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

/** Starts the program and waits for "ready"; the caller stops it. */
async function serve(args: string[]) {
  const child = startProcess(process.execPath, [SIMULATORS_MAIN, ...args]);
  await new Promise<void>((resolve, reject) => {
    child.process.stdout!.on('data', () => /^ready$/m.test(child.output()) && resolve());
    void child.exited.then(() => reject(new Error(`exited early: ${child.output()}`)));
  });
  return child;
}

describe('parseArgs', () => {
  test('every product on 127.0.0.1 and its demo port by default, without binding anything', () => {
    expect(parseArgs([]).listen).toEqual(Object.fromEntries(DEMOS.map((d) => [d.product, { host: '127.0.0.1', port: d.port }])));
    expect(DEFAULT_PORTS.opsmanager).toBe(19101);
    expect(new Set(Object.values(DEFAULT_PORTS)).size).toBe(DEMOS.length);
  });

  test('named products alone; flags move them; --host moves the defaults', () => {
    const args = parseArgs(['cbr', 'opsmanager', '--opsmanager=0', '--host=0.0.0.0']);
    expect(args.listen).toEqual({ opsmanager: { host: '0.0.0.0', port: 0 }, cbr: { host: '0.0.0.0', port: 19104 } });
    expect(args.flags).toEqual({ opsmanager: '--opsmanager=0', cbr: '--cbr=0.0.0.0:19104' });
    expect(parseArgs(['--bluexp=[::1]:0']).listen.bluexp).toEqual({ host: '::1', port: 0 });
  });

  test.each([
    [['netbackup'], 'unknown product "netbackup"'],
    [['--port=1'], 'unknown flag --port'],
    [['--cbr'], '--cbr needs a value'],
    [['--cbr=nonsense'], '--cbr=nonsense: invalid listen address'],
    [['ahsay', '--cbr=0'], '--cbr given, but cbr is not among the products to serve (ahsay)'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

test('a usage error exits 2 with the message and the usage', async () => {
  const { code, output } = await run(['netbackup']);
  expect(code).toBe(2);
  expect(output).toMatch(/^backup-simulators: unknown product "netbackup"/);
  expect(output).toContain('--opsmanager=ADDR');
});

test('a busy port: exit 1 and one line naming the flag, no stack trace', async () => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    const { code, output } = await run(PRODUCTS.map((p) => (p === 'bluexp' ? `--bluexp=127.0.0.1:${port}` : `--${p}=127.0.0.1:0`)));
    expect(code).toBe(1);
    expect(output).toBe(`backup-simulators: --bluexp=127.0.0.1:${port}: cannot listen: address already in use (EADDRINUSE)\n`);
  } finally {
    busy.close();
  }
});

test.each(['SIGTERM', 'SIGINT'] as const)('serves the named product on the given address until %s, then exits 0', async (signal) => {
  const child = await serve(['opsmanager', '--opsmanager=127.0.0.1:0']);
  try {
    const lines = child.output().trim().split('\n');
    expect(lines).toHaveLength(2);
    const url = /^opsmanager listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0]!)![1]!;
    expect(lines[1]).toBe('ready');
    // The demo's Ops Manager asks for Digest credentials.
    const res = await request(`${url}/api/public/v1.0/groups`);
    await res.body.dump();
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Digest /);
    // A connection left open must not keep the program from stopping.
    const open = net.connect(Number(new URL(url).port), '127.0.0.1');
    await new Promise((resolve) => open.once('connect', resolve));
    child.process.kill(signal);
    expect(await child.exited).toBe(0);
    open.destroy();
  } finally {
    await child.stop();
  }
});

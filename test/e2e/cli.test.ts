/** The built command line (dist/main.js): --config.check, the bundled demo, flags, signals. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { PROVIDER_NAMES } from '../../src/providers';
import { MAIN, ROOT, freePort, startDemoSimulators, startProcess, waitWhileRunning } from '../helpers/process';
import { promtoolCheckMetrics } from '../helpers/promtool';
import { samples, series } from '../helpers/exporter';

const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-cli-'));

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startProcess(process.execPath, [MAIN, ...args]);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 20_000);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

const opsTarget = (name: string, extra = '') => `  - name: ${name}
    provider: opsmanager
    url: http://127.0.0.1:1
    opsmanager:
      public_key: k
${extra || '      private_key: p\n'}`;

describe('--config.check', () => {
  test.each([
    ['a duplicate target name', `targets:\n${opsTarget('a')}${opsTarget('a')}`, 'targets[1].name: duplicate target name "a" (first at targets[0])'],
    ['an unknown key', `targets:\n${opsTarget('a')}    colour: blue\n`, 'targets[0]: unknown key "colour"'],
    ['a missing secret file', `targets:\n${opsTarget('a', '      private_key_file: /nonexistent/secret\n')}`, 'targets[0].opsmanager.private_key_file'],
  ])('rejects %s: exit 1 and a message that names it', async (_what, text, expected) => {
    const file = configFile(`bad-${Math.random()}.yml`, text);
    const { code, output } = await run(['--config.check', `--config.file=${file}`]);
    expect(code).toBe(1);
    expect(output).toContain(expected);
  });

  test('checks --web.config.file too, and names the problems of both files in one run', async () => {
    const web = configFile(`web-${Math.random()}.yml`, 'tls_server_config:\n  cert: not-a-certificate\n  key_file: missing.key\n');
    const bad = configFile(`bad-${Math.random()}.yml`, `targets:\n${opsTarget('a')}    colour: blue\n`);
    const both = await run(['--config.check', `--config.file=${bad}`, `--web.config.file=${web}`]);
    expect(both.code).toBe(1);
    expect(both.output).toContain('targets[0]: unknown key "colour"');
    expect(both.output).toContain('tls_server_config.cert: not a PEM certificate');
    expect(both.output).toContain('missing.key": no such file');
    const good = await run(['--config.check', `--config.file=${join(ROOT, 'exporter.yml')}`, `--web.config.file=${web}`]);
    expect(good.code).toBe(1);
    expect(good.output).not.toContain('valid');
  });

  test('accepts the bundled exporter.yml: exit 0', async () => {
    const { code, output } = await run(['--config.check', `--config.file=${join(ROOT, 'exporter.yml')}`]);
    expect(output).toContain('valid');
    expect(code).toBe(0);
  });
});

test('unknown flags and bad listen addresses exit 2 with usage', async () => {
  expect((await run(['--nope'])).code).toBe(2);
  const bad = await run(['--web.listen-address=localhost']);
  expect(bad.code).toBe(2);
  expect(bad.output).toContain('invalid listen address "localhost"');
});

test('--version prints the version', async () => {
  const { code, output } = await run(['--version']);
  expect(code).toBe(0);
  expect(output).toMatch(/^backup-exporter \d+\.\d+\.\d+/);
});

test('the demo: exporter.yml against the simulators program serves them live, promtool-clean, and both stop on SIGTERM with exit 0', async () => {
  // The demo's own ports may be taken by a running `npm start`: the same configuration, other ports.
  const simulators = await startDemoSimulators();
  const port = await freePort();
  let config: string;
  try {
    config = configFile('demo.yml', simulators.config());
  } catch (err) {
    await simulators.child.stop();
    throw err;
  }
  const child = startProcess(process.execPath, [MAIN, `--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`]);
  let text: string;
  let code: number | null;
  let simulatorsCode: number | null;
  try {
    text = await waitWhileRunning(
      child,
      'the demo to serve /metrics',
      async () => {
        const res = await request(`http://127.0.0.1:${port}/metrics`);
        const body = await res.body.text();
        return res.statusCode === 200 ? body : undefined;
      },
      20_000,
    );
  } finally {
    code = await child.stop();
    simulatorsCode = await simulators.child.stop();
  }
  for (const provider of PROVIDER_NAMES) {
    expect(samples(text).get(`backup_up{target="${provider}-demo",provider="${provider}"}`)).toBe(1);
  }
  const states = series(text, 'backup_jobs', { provider: 'opsmanager' }).map(([key]) => /state="(\w+)"/.exec(key)?.[1]);
  expect(states.sort()).toEqual(['cancelled', 'failed', 'pending', 'running', 'succeeded', 'unknown', 'warning']);
  expect(promtoolCheckMetrics(text)).toBe('');
  const log = child.output().split('\n').filter(Boolean);
  expect(JSON.parse(log[0])).toMatchObject({ msg: 'backup-exporter started', level: 30 });
  expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
  expect({ simulatorsCode, output: simulatorsCode === 0 ? '' : simulators.child.output() }).toEqual({ simulatorsCode: 0, output: '' });
});

test('a missing configuration file: exit 1 and one line naming the file', async () => {
  const missing = join(dir, 'nowhere', 'exporter.yml');
  const { code, output } = await run([`--config.file=${missing}`]);
  expect(code).toBe(1);
  expect(output).toBe(`${missing}: cannot read the configuration file: no such file\n`);
});

test('SIGHUP reloads: a bad file keeps the running targets and sets the reload metric to 0; a good one applies', async () => {
  const port = await freePort();
  const file = configFile('reload.yml', `targets:\n${opsTarget('first')}`);
  const child = startProcess(process.execPath, [MAIN, `--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`]);
  const metrics = async () => (await (await request(`http://127.0.0.1:${port}/metrics`)).body.text());
  const reloadOk = (text: string) => samples(text).get('backup_exporter_config_last_reload_successful');
  let afterBad: string;
  let afterGood: string;
  let code: number | null;
  try {
    await waitWhileRunning(child, 'the exporter to serve', async () => ((await metrics()).includes('target="first"') ? true : undefined), 20_000);
    writeFileSync(file, 'targets: [oops\n');
    child.process.kill('SIGHUP');
    afterBad = await waitWhileRunning(child, 'a failed reload', async () => {
      const text = await metrics();
      return reloadOk(text) === 0 ? text : undefined;
    }, 10_000);
    writeFileSync(file, `targets:\n${opsTarget('second')}`);
    child.process.kill('SIGHUP');
    afterGood = await waitWhileRunning(child, 'a good reload', async () => {
      const text = await metrics();
      // A scrape that straddles the reload may still carry the old target: wait for one that began after it.
      return reloadOk(text) === 1 && text.includes('backup_up{target="second"') ? text : undefined;
    }, 10_000);
  } finally {
    code = await child.stop();
  }
  expect(afterBad).toContain('backup_up{target="first",provider="opsmanager"}');
  expect(afterGood).not.toContain('backup_up{target="first"');
  const logs = child.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
  expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['configuration reload failed; keeping the running configuration', 'configuration reloaded']));
  expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
});

test('SIGTERM lets a scrape in flight finish, then exits 0', async () => {
  const { createOpsManagerSimulator } = await import('../../simulators/opsmanager');
  const { startSimulator } = await import('../../simulators/framework');
  const sim = createOpsManagerSimulator({ publicKey: 'k', privateKey: 'p', projects: 1, clustersPerProject: 1, faults: { latencyMs: 400 } });
  const server = await startSimulator(sim.app);
  const port = await freePort();
  const file = configFile('graceful.yml', `targets:\n  - name: slow\n    provider: opsmanager\n    url: ${server.url}\n    opsmanager: { public_key: k, private_key: p }\n`);
  const child = startProcess(process.execPath, [MAIN, `--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`]);
  try {
    await waitWhileRunning(child, 'the exporter to listen', async () => (child.output().includes('backup-exporter started') ? true : undefined), 15_000, 100);
    let answered = false;
    const scrape = request(`http://127.0.0.1:${port}/probe?target=slow`).then(async (r) => {
      const answer = { status: r.statusCode, text: await r.body.text() };
      answered = true;
      return answer;
    });
    // The scrape is in flight once the product has been asked; each of its answers then takes 400 ms.
    await waitWhileRunning(child, 'the collection to ask the product', async () => (sim.stats.requests > 0 ? true : undefined), 15_000, 10);
    child.process.kill('SIGTERM');
    const answeredBeforeSigterm = answered;
    const answer = await scrape;
    const code = await child.exited;
    expect(answeredBeforeSigterm).toBe(false);
    expect(answer.status).toBe(200);
    expect(samples(answer.text).get('backup_up{target="slow",provider="opsmanager"}')).toBe(1);
    expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
    expect(child.output()).toContain('"msg":"stopped"');
  } finally {
    await child.stop();
    await server.close();
  }
});

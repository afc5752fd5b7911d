/** The exporter's own endpoints: health, readiness, wrong paths and methods, oversized queries. */
import { request } from 'undici';
import { startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';

let ex: RunningExporter;
beforeAll(async () => {
  ex = await startExporter('targets: []\n');
});
afterAll(async () => {
  await ex.close();
});

async function call(path: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE' = 'GET') {
  const res = await request(`${ex.url}${path}`, { method });
  return { status: res.statusCode, text: await res.body.text(), type: String(res.headers['content-type']) };
}

test.each([
  ['/-/healthy', 200, 'Healthy'],
  ['/-/ready', 200, 'Ready'],
  ['/nope', 404, 'not found: /nope'],
  ['/probe', 400, 'missing parameter "target"'],
  ['/probe?target=a&target=b', 400, 'parameter "target" given 2 times'],
  ['/metrics?targets=none&targets=none', 400, 'parameter "targets" given 2 times'],
  [`/probe?target=${'x'.repeat(3000)}`, 414, 'query string longer than 2048 characters'],
])('GET %s -> %i', async (path, status, text) => {
  const res = await call(path);
  expect(res.status).toBe(status);
  expect(res.text).toContain(text);
});

test.each([
  ['/metrics', 'POST'],
  ['/-/reload', 'GET'],
  ['/config', 'DELETE'],
] as const)('%s with %s -> 405', async (path, method) => {
  const res = await call(path, method);
  expect(res.status).toBe(405);
  expect(res.text).toContain(`method ${method} not allowed on ${path}`);
});

test('/metrics with no targets serves the exporter\'s own metrics in the text format', async () => {
  const res = await call('/metrics');
  expect(res.status).toBe(200);
  expect(res.type).toContain('text/plain; version=0.0.4');
  expect(res.text).toContain('backup_exporter_build_info{version="0.0.0-test"');
  expect(res.text).toContain('backup_exporter_config_last_reload_successful 1');
});

test('POST /-/reload is refused without --web.enable-lifecycle', async () => {
  const res = await call('/-/reload', 'POST');
  expect(res.status).toBe(403);
  expect(res.text).toContain('Lifecycle API is not enabled');
});

test('--web.hide-config: /config answers 404 and the landing page does not link it', async () => {
  const hidden = await startExporter('targets: []\n', { showConfig: false });
  try {
    const config = await request(`${hidden.url}/config`);
    expect(config.statusCode).toBe(404);
    expect(await config.body.text()).toContain('/config is hidden (--web.hide-config)');
    const landing = await (await request(`${hidden.url}/`)).body.text();
    expect(landing).not.toContain('href="/config"');
    expect(landing).toContain('href="/metrics?targets=none"');
  } finally {
    await hidden.close();
  }
});

test('the landing page says when no targets are configured', async () => {
  const res = await call('/');
  expect(res.text).toContain('No targets configured.');
});

test('/sd answers in the http_sd format, one entry per target', async () => {
  const sd = await startExporter(
    'targets:\n  - name: a\n    provider: opsmanager\n    url: http://127.0.0.1:1\n    opsmanager: { public_key: k, private_key: p }\n  - name: b\n    provider: opsmanager\n    url: http://127.0.0.1:1\n    opsmanager: { public_key: k, private_key: p }\n',
  );
  try {
    const res = await request(`${sd.url}/sd`);
    expect(res.headers['content-type']).toContain('application/json');
    expect(await res.body.json()).toEqual([
      { targets: ['a'], labels: { target: 'a', provider: 'opsmanager' } },
      { targets: ['b'], labels: { target: 'b', provider: 'opsmanager' } },
    ]);
  } finally {
    await sd.close();
  }
});

test('/metrics?targets=none serves the exporter\'s own metrics without collecting any target', async () => {
  const ex2 = await startExporter('targets:\n  - name: a\n    provider: opsmanager\n    url: http://127.0.0.1:1\n    opsmanager: { public_key: k, private_key: p }\n');
  try {
    const own = await request(`${ex2.url}/metrics?targets=none`);
    const text = await own.body.text();
    expect(text).toContain('backup_exporter_build_info');
    expect(text).not.toContain('backup_up{');
    expect(ex2.exporter.target('a')?.lastResult).toBeUndefined();
    const bad = await request(`${ex2.url}/metrics?targets=all`);
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toContain('parameter "targets" takes only the value "none"');
  } finally {
    await ex2.close();
  }
});

/**
 * --web.config.file: real TLS on 127.0.0.1 (server certificate, client certificates, TLS versions)
 * and basic authentication with bcrypt hashes, against the built exporter.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { Agent, request } from 'undici';
import { MAIN, freePort, startProcess, waitFor } from '../helpers/process';
import type { Child } from '../helpers/process';
import { testPki } from '../helpers/servers';

jest.setTimeout(60_000);

const pki = testPki();
const PASSWORD = 'scrape-pass-8c1e';
const children: Child[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
});

writeFileSync(join(pki.dir, 'exporter.yml'), 'targets: []\n');

async function startWith(webConfig: string): Promise<{ url: string; child: Child }> {
  const file = join(pki.dir, `web-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, webConfig);
  const port = await freePort();
  const child = startProcess(process.execPath, [MAIN, `--config.file=${join(pki.dir, 'exporter.yml')}`, `--web.config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`]);
  children.push(child);
  await waitFor('the exporter to listen', async () => (child.output().includes('backup-exporter started') ? true : undefined), 15_000, 100);
  return { url: `https://127.0.0.1:${port}`, child };
}

function agent(options: { cert?: string; key?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Agent {
  return new Agent({ connect: { ca: pki.caCert, ...options } });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('TLS and basic authentication', () => {
  let url: string;
  let child: Child;
  beforeAll(async () => {
    // htpasswd writes $2y$ hashes; the toolkit's example files use them.
    const hash = bcrypt.hashSync(PASSWORD, 4).replace(/^\$2b\$/, '$2y$');
    ({ url, child } = await startWith(`tls_server_config:
  cert_file: server.pem
  key_file: server.key
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  prometheus: ${hash}
`));
  });

  test('the right password over TLS gets the metrics and the configured header', async () => {
    const res = await request(`${url}/metrics`, { dispatcher: agent(), headers: { authorization: basic('prometheus', PASSWORD) } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-frame-options']).toBe('deny');
    expect(await res.body.text()).toContain('backup_exporter_build_info');
  });

  test.each([
    ['no credentials', undefined],
    ['a wrong password', basic('prometheus', 'guess')],
    ['an unknown user', basic('admin', PASSWORD)],
    ['a malformed header', 'Basic !!!'],
  ])('%s gets 401 with a Basic challenge', async (_what, authorization) => {
    const res = await request(`${url}/metrics`, { dispatcher: agent(), headers: authorization ? { authorization } : {} });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic');
    await res.body.dump();
  });

  test('plain HTTP to the TLS port gets no answer', async () => {
    await expect(request(url.replace('https', 'http') + '/metrics', { headersTimeout: 3000, bodyTimeout: 3000 }).then((r) => r.body.text())).rejects.toThrow();
  });

  test('a client that does not trust the CA refuses the server', async () => {
    await expect(request(`${url}/metrics`, { dispatcher: new Agent() })).rejects.toThrow(/certificate/);
  });

  test('the password never reaches the log', () => {
    expect(child.output()).not.toContain(PASSWORD);
  });
});

test('client certificates (RequireAndVerifyClientCert) and a minimum TLS version', async () => {
  const { url } = await startWith(`tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_ca_file: ca.pem
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
`);
  const ok = await request(`${url}/-/healthy`, { dispatcher: agent({ cert: pki.clientCert, key: pki.clientKey }) });
  expect(ok.statusCode).toBe(200);
  await ok.body.dump();
  await expect(request(`${url}/-/healthy`, { dispatcher: agent() }).then((r) => r.body.text())).rejects.toThrow();
  await expect(
    request(`${url}/-/healthy`, { dispatcher: agent({ cert: pki.clientCert, key: pki.clientKey, maxVersion: 'TLSv1.2' }) }).then((r) => r.body.text()),
  ).rejects.toThrow();
});

test('a bad web configuration file stops the start with exit 1 and names the problem', async () => {
  const file = join(pki.dir, 'bad-web.yml');
  writeFileSync(file, 'tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\nbasic_auth_users:\n  u: plaintext\ncolour: blue\n');
  const child = startProcess(process.execPath, [MAIN, `--config.file=${join(pki.dir, 'exporter.yml')}`, `--web.config.file=${file}`]);
  expect(await child.exited).toBe(1);
  const output = child.output();
  expect(output).toContain('tls_server_config.cipher_suites: not supported by backup-exporter');
  expect(output).toContain('basic_auth_users.u: not a bcrypt hash');
  expect(output).toContain('unknown key "colour"');
  expect(output).not.toContain('plaintext');
});

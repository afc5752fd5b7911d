/** Loading --web.config.file: every problem at once, named by its place, in the words exporter.yml errors use. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebConfigError, loadWebConfig } from '../../src/web-config';

function problemsOf(yaml: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'web-config-'));
  const file = join(dir, 'web.yml');
  writeFileSync(file, yaml);
  try {
    loadWebConfig(file);
  } catch (err) {
    if (!(err instanceof WebConfigError)) throw err;
    return err.message.split('\n').map((line) => line.slice(file.length + 2).replaceAll(dir, 'DIR'));
  }
  return [];
}

test('an inline certificate and key that are not PEM are named, not a stack trace', () => {
  expect(problemsOf('tls_server_config:\n  cert: not-a-certificate\n  key: not-a-key\n')).toEqual([
    'tls_server_config.cert: not a PEM certificate',
    'tls_server_config.key: not a PEM private key',
  ]);
});

test('missing files are all reported, as "no such file"', () => {
  expect(problemsOf('tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n')).toEqual([
    'tls_server_config.cert_file: cannot read "DIR/server.pem": no such file',
    'tls_server_config.key_file: cannot read "DIR/server.key": no such file',
    'tls_server_config.client_ca_file: cannot read "DIR/ca.pem": no such file',
  ]);
});

test('a missing web configuration file says "no such file"', () => {
  expect(() => loadWebConfig(join(tmpdir(), 'no-such-dir-8c1f', 'web.yml'))).toThrow(/cannot read the web configuration file: no such file$/);
});

test('a valid file without TLS or users loads', () => {
  expect(problemsOf('http_server_config:\n  headers:\n    X-Frame-Options: deny\n')).toEqual([]);
});

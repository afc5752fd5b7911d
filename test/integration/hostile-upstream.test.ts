/**
 * Answers a product should never send, from small servers on 127.0.0.1: each fails its target with
 * a clear reason, never passes as data, and never carries a configured secret into a log line, the
 * landing page or a metric.
 */
import { createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedAfterEach, fetchText, series, startExporter } from '../helpers/exporter';

const track = closedAfterEach();

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const opsTarget = (url: string) => `targets:
  - name: ops
    provider: opsmanager
    url: ${url}
    opsmanager: { public_key: k, private_key: ops-private-key-0001 }
`;

async function errorsOf(exporterUrl: string, reason: string): Promise<number | undefined> {
  const own = (await fetchText(`${exporterUrl}/metrics?targets=none`)).text;
  return series(own, 'backup_exporter_collect_errors_total', { target: 'ops', reason })[0]?.[1];
}

test('a redirect with a JSON body is not data: the target is down with invalid_response', async () => {
  const app = express();
  app.use((_req, res) => {
    res.status(302).location('https://elsewhere.example/api').json({ results: [{ id: 'g1', name: 'Project' }], totalCount: 1 });
  });
  const product = track(await listen(app));
  const exporter = track(await startExporter(opsTarget(product.url)));
  const text = (await fetchText(`${exporter.url}/probe?target=ops`)).text;
  expect(series(text, 'backup_up')[0]?.[1]).toBe(0);
  expect(series(text, 'backup_jobs')).toEqual([]);
  expect(await errorsOf(exporter.url, 'invalid_response')).toBe(1);
  expect(exporter.logs.join('\n')).toContain('redirects are not followed');
});

test('an answer whose headers are over the size limit is invalid_response, not a connection failure', async () => {
  const server: NetServer = createServer((socket) => {
    socket.on('data', () => {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="${'r'.repeat(60 * 1024)}", nonce="n"\r\nContent-Length: 0\r\n\r\n`);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const exporter = track(await startExporter(opsTarget(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  const text = (await fetchText(`${exporter.url}/probe?target=ops`)).text;
  expect(series(text, 'backup_up')[0]?.[1]).toBe(0);
  expect(await errorsOf(exporter.url, 'invalid_response')).toBe(1);
  expect(await errorsOf(exporter.url, 'connect')).toBe(0);
});

/** exporter.yml with one BlueXP target whose API and token endpoint are `url`. */
function bluexpTarget(url: string, refreshToken: string): string {
  return `targets:
  - name: bx
    provider: bluexp
    url: ${url}
    bluexp:
      account_id: account-1
      agent_id: agent
      token_url: ${url}/oauth/token
      refresh_token: '${refreshToken}'
`;
}

test('a token endpoint that echoes the request body leaves no secret in the log, the landing page or the metrics', async () => {
  const REFRESH_TOKEN = 'bluexp-refresh-token-"quoted"-7f3a9c';
  const app = express();
  app.use(express.text({ type: '*/*' }));
  app.post('/oauth/token', (req, res) => {
    // As some identity providers do: the request is repeated in the error.
    res.status(400).json({ error: 'invalid_grant', message: `cannot grant ${String(req.body)}`, query: encodeURIComponent(String(req.body)) });
  });
  const product = track(await listen(app));
  const exporter = track(await startExporter(bluexpTarget(product.url, REFRESH_TOKEN)));
  const scrape = (await fetchText(`${exporter.url}/probe?target=bx`)).text;
  expect(series(scrape, 'backup_up')[0]?.[1]).toBe(0);
  const landing = (await fetchText(`${exporter.url}/`)).text;
  const own = (await fetchText(`${exporter.url}/metrics`)).text;
  const logs = exporter.logs.join('\n');
  // The echo reached the exporter: the message is there, with the secret masked.
  expect(logs).toContain('cannot grant');
  expect(logs).toContain('<secret>');
  for (const form of [REFRESH_TOKEN, JSON.stringify(REFRESH_TOKEN).slice(1, -1), encodeURIComponent(REFRESH_TOKEN)]) {
    expect(logs).not.toContain(form);
    expect(landing).not.toContain(form);
    expect(scrape).not.toContain(form);
    expect(own).not.toContain(form);
  }
});

test('a product that echoes the bearer token it was sent leaves no token in the log or the landing page', async () => {
  const TOKEN = 'bluexp-access-token-4d1e8b0c92f7';
  const app = express();
  app.use(express.json());
  app.post('/oauth/token', (_req, res) => {
    res.json({ access_token: TOKEN, expires_in: 3600, token_type: 'Bearer' });
  });
  // As some gateways do: the refused request's headers repeated in the error.
  app.use((req, res) => {
    res.status(500).json({ message: `upstream failed for request with ${String(req.headers.authorization)}` });
  });
  const product = track(await listen(app));
  const exporter = track(await startExporter(bluexpTarget(product.url, 'refresh-token-value')));
  const scrape = (await fetchText(`${exporter.url}/probe?target=bx`)).text;
  expect(series(scrape, 'backup_up')[0]?.[1]).toBe(0);
  const landing = (await fetchText(`${exporter.url}/`)).text;
  const logs = exporter.logs.join('\n');
  // The echo reached the exporter: the message is there, with the token masked.
  expect(logs).toContain('upstream failed for request with Bearer <secret>');
  for (const text of [logs, landing, scrape]) expect(text).not.toContain(TOKEN);
});

test('an answer full of oddities writes a handful of short log lines, not one per job', async () => {
  const jobs = [
    ...Array.from({ length: 5000 }, (_, i) => ({ id: `odd-${i}`, clusterId: 'c1', created: 'yesterday', statusName: 'FINISHED' })),
    ...Array.from({ length: 50 }, (_, i) => ({ id: `word-${i}`, clusterId: 'c1', created: '2026-11-30T10:00:00Z', statusName: `${i}${'S'.repeat(64 * 1024)}` })),
  ];
  const app = express();
  app.get('/api/public/v1.0/groups', (_req, res) => void res.json({ results: [{ id: 'g1', name: 'P' }], totalCount: 1 }));
  app.get('/api/public/v1.0/groups/g1/clusters', (_req, res) => void res.json({ results: [{ id: 'c1', clusterName: 'C' }], totalCount: 1 }));
  app.get('/api/public/v1.0/groups/g1/clusters/c1/restoreJobs', (_req, res) => void res.json({ results: jobs, totalCount: jobs.length }));
  for (const list of ['backupConfigs', 'alerts']) app.get(`/api/public/v1.0/groups/g1/${list}`, (_req, res) => void res.json({ results: [], totalCount: 0 }));
  const product = track(await listen(app));
  const exporter = track(await startExporter(opsTarget(product.url)));
  const text = (await fetchText(`${exporter.url}/probe?target=ops`)).text;
  expect([series(text, 'backup_up')[0]?.[1], exporter.logs.filter((l) => l.includes('collection failed'))]).toEqual([1, []]);
  expect(series(text, 'backup_jobs', { state: 'unknown' })[0]?.[1]).toBe(50);
  // Debug adds one line per request, bounded by the requests made; what must not flood is the rest.
  const lines = exporter.logs.filter((line) => line.includes('"target":"ops"') && !line.includes('"level":20'));
  // At most 20 problems and 20 unknown words, each kind with one line for the rest.
  expect(lines.length).toBeLessThanOrEqual(2 * 21 + 2);
  expect(lines.some((line) => line.includes('more problems than were logged'))).toBe(true);
  expect(lines.some((line) => line.includes('more new unknown status words than were logged'))).toBe(true);
  expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(2000);
});

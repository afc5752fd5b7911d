import diagnostics from 'node:diagnostics_channel';
import type http from 'node:http';
import { HttpClient, buildPath, largeAnswerTurn, productMessage, retryDelayMs } from '../../src/http/client';
import type { RequestScope } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import { scopeFor } from '../helpers/scope';
import { selfSignedCertificate, startServer } from '../helpers/servers';
import type { TestServer } from '../helpers/servers';

let server: TestServer | undefined;
const clients: HttpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

async function serve(handler: http.RequestListener, tls?: { key: string; cert: string }): Promise<string> {
  server = await startServer(handler, tls);
  return server.url;
}

function clientFor(url: string, extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}): HttpClient {
  const client = new HttpClient({ baseUrl: url, maxConcurrency: 8, ...extra });
  clients.push(client);
  return client;
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CollectError) return `${err.reason}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a CollectError');
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('HttpClient', () => {
  test('retries 503 and 502, then returns the answer; every attempt counts as a request', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      if (calls === 1) json(res, 503, { message: 'busy' });
      else if (calls === 2) json(res, 502, {});
      else json(res, 200, { ok: true });
    });
    const scope = scopeFor(5000);
    await expect(clientFor(url).json({ path: '/x' }, scope)).resolves.toEqual({ ok: true });
    expect(scope.requests).toBe(3);
    scope.done();
  });

  test('gives up after two retries with http_5xx and the product message', async () => {
    const url = await serve((_req, res) => json(res, 503, { message: 'maintenance' }));
    const scope = scopeFor(5000);
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toBe('http_5xx: GET /x: HTTP 503: maintenance');
    expect(scope.requests).toBe(3);
    scope.done();
  });

  test('honours Retry-After when the deadline allows', async () => {
    let calls = 0;
    const url = await serve((_req, res) => (++calls === 1 ? json(res, 429, {}, { 'retry-after': '1' }) : json(res, 200, [])));
    const scope = scopeFor(5000);
    const started = Date.now();
    await expect(clientFor(url).json({ path: '/x' }, scope)).resolves.toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    scope.done();
  });

  test('does not wait for a Retry-After beyond the deadline: rate_limited at once', async () => {
    const url = await serve((_req, res) => json(res, 429, {}, { 'retry-after': '120' }));
    const scope = scopeFor(3000);
    const started = Date.now();
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^rate_limited: GET \/x: HTTP 429/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(scope.requests).toBe(1);
    scope.done();
  });

  test.each([
    [401, 'auth'],
    [403, 'auth'],
    [404, 'http_4xx'],
    [500, 'http_5xx'],
  ])('HTTP %i is reason %s', async (status, reason) => {
    const url = await serve((_req, res) => json(res, status, { detail: 'nope' }));
    const scope = scopeFor(3000);
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toBe(`${reason}: GET /x: HTTP ${status}: nope`);
    scope.done();
  });

  test('a server that hangs ends at the deadline with reason timeout', async () => {
    const url = await serve(() => undefined);
    const scope = scopeFor(300);
    const started = Date.now();
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^timeout/);
    expect(Date.now() - started).toBeLessThan(2000);
    scope.done();
  });

  test('a body that trickles past the deadline is a timeout', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const timer = setInterval(() => res.write('1,'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const scope = scopeFor(400);
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^timeout/);
    scope.done();
  });

  test('connection refused is reason connect', async () => {
    const url = await serve(() => undefined);
    await server?.close();
    server = undefined;
    const scope = scopeFor(3000);
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^connect: ECONNREFUSED/);
    scope.done();
  });

  test('invalid JSON is reason parse; an HTML page is invalid_response', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"results": [1, 2');
      }
    });
    const scope = scopeFor(3000);
    expect(await reasonOf(clientFor(url).json({ path: '/json' }, scope))).toMatch(/^parse: GET \/json: invalid JSON/);
    expect(await reasonOf(clientFor(url).json({ path: '/html' }, scope))).toBe('invalid_response: GET /html: answer is text/html, not JSON');
    scope.done();
  });

  test('an answer over the size cap is refused, declared or not', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
        res.end('x'.repeat(5000));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
        res.end();
      }
    });
    const client = clientFor(url, { maxResponseBytes: 4096 });
    const scope = scopeFor(3000);
    expect(await reasonOf(client.json({ path: '/declared' }, scope))).toBe('invalid_response: GET /declared: answer larger than the 4096-byte cap');
    expect(await reasonOf(client.json({ path: '/chunked' }, scope))).toBe('invalid_response: GET /chunked: answer larger than the 4096-byte cap');
    scope.done();
  });

  test('never has more requests in flight than max_concurrency', async () => {
    let active = 0;
    let peak = 0;
    const url = await serve((_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        json(res, 200, {});
      }, 30);
    });
    const client = clientFor(url, { maxConcurrency: 3 });
    const scope = scopeFor(10000);
    await Promise.all(Array.from({ length: 20 }, () => client.json({ path: '/x' }, scope)));
    expect(peak).toBe(3);
    expect(scope.requests).toBe(20);
    scope.done();
  });

  test('sends the query, base path and POST body', async () => {
    let seen = '';
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen = `${req.method} ${req.url} ${body}`;
        json(res, 200, {});
      });
    });
    const scope = scopeFor(3000);
    await clientFor(`${url}/prefix/`).json({ method: 'POST', path: '/a', query: { n: 1, skip: undefined, s: 'x y' }, body: '{"k":1}' }, scope);
    expect(seen).toBe('POST /prefix/a?n=1&s=x+y {"k":1}');
    scope.done();
  });

  describe('TLS', () => {
    const certificate = selfSignedCertificate();

    test('a certificate that does not verify is reason tls', async () => {
      const url = await serve((_req, res) => json(res, 200, {}), certificate);
      const scope = scopeFor(3000);
      expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^tls: /);
      scope.done();
    });

    test('ca_file makes it verify; insecure_skip_verify skips the check', async () => {
      const url = await serve((_req, res) => json(res, 200, { ok: 1 }), certificate);
      const scope = scopeFor(3000);
      await expect(clientFor(url, { tls: { ca: certificate.cert } }).json({ path: '/x' }, scope)).resolves.toEqual({ ok: 1 });
      await expect(clientFor(url, { tls: { insecure_skip_verify: true } }).json({ path: '/x' }, scope)).resolves.toEqual({ ok: 1 });
      scope.done();
    });
  });
});

describe('retryDelayMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  test.each([
    ['2', 2000],
    ['0', 0],
    ['Thu, 01 Jan 2026 00:00:03 GMT', 3000],
    ['soon', undefined],
    ['1e308', undefined],
    ['-5', undefined],
  ])('Retry-After %p -> %p ms', (header, expected) => {
    expect(retryDelayMs({ headers: { 'retry-after': header } }, 0, now)).toBe(expected);
  });

  test('backoff without Retry-After grows and stays bounded', () => {
    for (let i = 0; i < 20; i++) {
      const first = retryDelayMs({ headers: {} }, 0) as number;
      const second = retryDelayMs({ headers: {} }, 1) as number;
      expect(first).toBeGreaterThanOrEqual(100);
      expect(first).toBeLessThanOrEqual(200);
      expect(second).toBeGreaterThanOrEqual(200);
      expect(second).toBeLessThanOrEqual(400);
    }
  });
});

test('large answers wait for turns of their own, one per event-loop turn, first come first served', async () => {
  // A turn counter: one setImmediate per turn of the loop, each scheduling the next.
  let turn = 0;
  let counting = true;
  const count = () => {
    turn++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const resolved: Array<{ name: string; turn: number }> = [];
  await Promise.all(['first', 'second', 'third'].map((name) => largeAnswerTurn().then(() => resolved.push({ name, turn }))));
  counting = false;
  expect(resolved.map((r) => r.name)).toEqual(['first', 'second', 'third']);
  // Between two of them the loop went round (and read its sockets): no two share a turn.
  expect(new Set(resolved.map((r) => r.turn)).size).toBe(3);
  expect(resolved[2]!.turn - resolved[0]!.turn).toBe(2);
});

test('a request started while a large answer waits for its turn is written before that answer is parsed', async () => {
  // undici writes on a reused keep-alive connection only after a setImmediate of its own; a turn
  // queued before that request started must step back behind it, or the next stage of a chain
  // would wait for the parse.
  const url = await serve((_req, res) => json(res, 200, { ok: true }));
  const client = clientFor(url, { maxConcurrency: 1 });
  const scope = scopeFor(5000);
  await client.json({ path: '/warm' }, scope); // the connection is now idle and reused below
  const order: string[] = [];
  const written = () => order.push('request written');
  diagnostics.subscribe('undici:client:sendHeaders', written);
  try {
    const turn = largeAnswerTurn().then(() => order.push('large answer parsed'));
    const next = client.json({ path: '/next' }, scope);
    await Promise.all([turn, next]);
  } finally {
    scope.done();
    diagnostics.unsubscribe('undici:client:sendHeaders', written);
  }
  expect(order).toEqual(['request written', 'large answer parsed']);
});

test('requests started in every turn postpone each large answer by a bounded number of turns', async () => {
  const url = await serve((_req, res) => json(res, 200, { ok: true }));
  const client = clientFor(url, { maxConcurrency: 64 });
  let turn = 0;
  let starting = true;
  const scope = scopeFor(5000);
  const requests: Array<Promise<unknown>> = [];
  const startOnePerTurn = () => {
    if (!starting) return;
    turn++;
    requests.push(client.json({ path: `/r${turn}` }, scope));
    if (turn < 50) setImmediate(startOnePerTurn);
  };
  startOnePerTurn();
  const parsedInTurn: number[] = [];
  await Promise.all([largeAnswerTurn().then(() => parsedInTurn.push(turn)), largeAnswerTurn().then(() => parsedInTurn.push(turn))]);
  starting = false;
  await Promise.all(requests);
  scope.done();
  // The first gives way for at most 4 turns; the second, queued behind it, for at most 4 more of
  // its own: it too lets the requests started meanwhile go first, and it too is parsed in the end.
  expect(parsedInTurn[0]).toBeLessThanOrEqual(6);
  expect(parsedInTurn[1]! - parsedInTurn[0]!).toBeGreaterThanOrEqual(5);
  expect(parsedInTurn[1]! - parsedInTurn[0]!).toBeLessThanOrEqual(6);
});

test('a large answer whose collection ended while it waited for its turn is not parsed: timeout', async () => {
  server = await startServer((_req, res) => json(res, 200, { items: Array.from({ length: 2_000 }, (_, i) => ({ id: i, name: `item ${i}` })) }));
  const controller = new AbortController();
  const scope: RequestScope = { signal: controller.signal, deadline: Date.now() + 10_000, requests: 0 };
  // observe() runs when the answer has been read, before json() queues it for a turn: a turn taken
  // here comes first, and the deadline passes in it.
  const client = clientFor(server.url, { observe: () => void largeAnswerTurn().then(() => controller.abort(new Error('deadline'))) });
  expect(await reasonOf(client.json({ path: '/big' }, scope))).toBe('timeout: deadline exceeded before the answer was parsed');
});

test('buildPath appends a query only when there is one', () => {
  expect(buildPath('/a', undefined)).toBe('/a');
  expect(buildPath('/a', { x: undefined })).toBe('/a');
  expect(buildPath('/a?b=1', { c: true })).toBe('/a?b=1&c=true');
});

test('an answer cut short (declared length not reached) is invalid_response', async () => {
  const server = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"results": [');
    setTimeout(() => res.destroy(), 20);
  });
  const client = new HttpClient({ baseUrl: server.url, maxConcurrency: 1 });
  const scope = scopeFor(3000);
  try {
    await expect(client.json({ path: '/x' }, scope)).rejects.toMatchObject({ reason: 'invalid_response', message: expect.stringMatching(/^GET \/x: answer cut short/) });
  } finally {
    scope.done();
    await client.close();
    await server.close();
  }
});

test.each([
  ['{"detail":"You are not authorized for this resource.","error":401}', 'You are not authorized for this resource.'],
  ['{"error_code":"BackupService.6500","error_msg":"Vault not found"}', 'Vault not found'],
  ['{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}', 'The username or password is wrong.'],
  ['{"Status":"Error","Message":"Invalid SysUser or SysPwd"}', 'Invalid SysUser or SysPwd'],
  ['not json', undefined],
  ['[]', undefined],
])('productMessage(%s) -> %p', (body, expected) => {
  expect(productMessage(Buffer.from(body))).toBe(expected);
});

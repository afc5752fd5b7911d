/** The HTTP client against real servers on 127.0.0.1: retries, deadlines, size caps, TLS, the bound on requests in flight. */
import type http from 'node:http';
import { HttpClient } from '../../src/http/client';
import type { RequestAuth, RequestScope } from '../../src/http/client';
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
    const arrivals: number[] = [];
    const url = await serve((_req, res) => {
      arrivals.push(Date.now());
      if (arrivals.length === 1) json(res, 429, {}, { 'retry-after': '1' });
      else json(res, 200, []);
    });
    const scope = scopeFor(5000);
    await expect(clientFor(url).json({ path: '/x' }, scope)).resolves.toEqual([]);
    expect(arrivals).toHaveLength(2);
    // The retry came no sooner than asked (timers may fire up to a millisecond early).
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(999);
    scope.done();
  });

  test('does not wait for a Retry-After beyond the deadline: rate_limited at once', async () => {
    const url = await serve((_req, res) => json(res, 429, {}, { 'retry-after': '120' }));
    const scope = scopeFor(3000);
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toMatch(/^rate_limited: GET \/x: HTTP 429/);
    // Given up before the deadline, not at it.
    expect(scope.signal.aborted).toBe(false);
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
    expect(await reasonOf(clientFor(url).json({ path: '/x' }, scope))).toBe('timeout: deadline exceeded before the product answered');
    // Ended by the deadline (the hang alone would outlast the test).
    expect(scope.signal.aborted).toBe(true);
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

  describe('requests in flight', () => {
    /**
     * A server that holds every answer until the test releases it, counting the requests it holds:
     * the most it ever held at once is the most the client had in flight.
     */
    async function holdingServer() {
      const held: http.ServerResponse[] = [];
      let seen = 0;
      let peak = 0;
      let arrived = () => {};
      const url = await serve((_req, res) => {
        seen++;
        held.push(res);
        peak = Math.max(peak, held.length);
        arrived();
      });
      return {
        url,
        seen: () => seen,
        peak: () => peak,
        held: () => held.length,
        /** Resolves once the server holds `n` requests. */
        holding: (n: number) =>
          new Promise<void>((resolve) => {
            arrived = () => {
              if (held.length >= n) resolve();
            };
            arrived();
          }),
        releaseAll: () => {
          for (const res of held.splice(0)) json(res, 200, {});
        },
      };
    }

    /**
     * Fires `total` requests at once; each time the server holds as many as the client may send
     * (or all that are left), it lets a moment pass for any excess to arrive, then answers them all.
     */
    async function burst(limit: number, total: number) {
      const server = await holdingServer();
      const client = clientFor(server.url, { maxConcurrency: limit });
      const scope = scopeFor(20_000);
      const all = Promise.all(Array.from({ length: total }, () => client.json({ path: '/x' }, scope)));
      let answered = 0;
      while (answered < total) {
        await server.holding(Math.min(limit, total - answered));
        await new Promise((resolve) => setTimeout(resolve, 20));
        answered += server.held();
        server.releaseAll();
      }
      await all;
      scope.done();
      return { peak: server.peak(), seen: server.seen(), requests: scope.requests };
    }

    test('never more than max_concurrency (3) of 20 requests fired at once', async () => {
      expect(await burst(3, 20)).toEqual({ peak: 3, seen: 20, requests: 20 });
    });

    test('the same server counts more than 3 in flight when the client allows 8: the count above detects excess', async () => {
      expect(await burst(8, 20)).toEqual({ peak: 8, seen: 20, requests: 20 });
    });

    test('a waiting request gets its authentication when it is sent, not while it waits (a Digest nonce would go stale meanwhile)', async () => {
      const server = await holdingServer();
      let made = 0;
      const auth: RequestAuth = {
        headers: () => ({ authorization: `Test ${++made}` }),
        onUnauthorized: () => 'fail',
      };
      const client = clientFor(server.url, { maxConcurrency: 2, auth });
      const scope = scopeFor(20_000);
      const all = Promise.all(Array.from({ length: 6 }, () => client.json({ path: '/x' }, scope)));
      await server.holding(2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Two sent, four waiting: only the two sent have headers.
      expect(made).toBe(2);
      server.releaseAll();
      await server.holding(2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(made).toBe(4);
      server.releaseAll();
      await server.holding(2);
      server.releaseAll();
      await all;
      expect(made).toBe(6);
      scope.done();
    });

    test('thousands of waiting requests of one collection all end at its deadline, none sent', async () => {
      const server = await holdingServer();
      const client = clientFor(server.url, { maxConcurrency: 1 });
      const controller = new AbortController();
      const scope: RequestScope = { signal: controller.signal, deadline: Date.now() + 20_000, requests: 0 };
      const first = reasonOf(client.json({ path: '/first' }, scope));
      await server.holding(1);
      const waiting = Array.from({ length: 3000 }, () => reasonOf(client.json({ path: '/waiting' }, scope)));
      controller.abort(new Error('deadline'));
      const reasons = new Set(await Promise.all(waiting));
      expect([...reasons]).toEqual(['timeout: deadline exceeded while waiting for a free connection']);
      expect(await first).toMatch(/^timeout: /);
      expect(server.seen()).toBe(1);
      expect(scope.requests).toBe(1);
      server.releaseAll();
    });

    test('a request queued behind busy connections ends with reason timeout at its deadline, without waiting for a connection', async () => {
      const server = await holdingServer();
      const client = clientFor(server.url, { maxConcurrency: 1 });
      const long = scopeFor(20_000);
      const first = client.json({ path: '/first' }, long);
      await server.holding(1);
      const queuedController = new AbortController();
      const queuedScope: RequestScope = { signal: queuedController.signal, deadline: Date.now() + 20_000, requests: 0 };
      const queued = reasonOf(client.json({ path: '/queued' }, queuedScope));
      queuedController.abort(new Error('deadline'));
      // Rejected while the only connection is still busy with the first request.
      expect(await queued).toBe('timeout: deadline exceeded while waiting for a free connection');
      expect(server.held()).toBe(1);
      expect(queuedScope.requests).toBe(0);
      server.releaseAll();
      await expect(first).resolves.toEqual({});
      // The aborted request was never sent, and the connection serves the next one.
      const next = client.json({ path: '/next' }, long);
      await server.holding(1);
      server.releaseAll();
      await expect(next).resolves.toEqual({});
      expect(server.seen()).toBe(2);
      long.done();
    });
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

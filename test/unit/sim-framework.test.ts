import express from 'express';
import { Agent, request } from 'undici';
import {
  createSimulator,
  defaultFaults,
  paginate,
  pageWindow,
  replayAnswers,
  sendJson,
  startSimulator,
  validateFaultPatch,
  type RunningSimulator,
  type Simulator,
} from '../../simulators/framework';

const BODY = { items: [1, 2, 3], name: 'widget' };

function productRouter(): express.Router {
  const router = express.Router();
  router.get('/api/items', (_req, res) => sendJson(res, 200, BODY));
  router.get('/api/missing', (_req, res) => sendJson(res, 404, { error: 'nope' }));
  return router;
}

let sim: Simulator;
let running: RunningSimulator;
let agent: Agent;

beforeEach(async () => {
  sim = createSimulator({ name: 'test', router: productRouter() });
  running = await startSimulator(sim.app, { port: 0 });
  agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 2_000 } });
});

afterEach(async () => {
  await running.close();
  await agent.destroy();
});

/** A bounded GET: every wait in these tests has a deadline. */
async function get(path: string, timeoutMs = 3_000) {
  const res = await request(`${running.url}${path}`, {
    dispatcher: agent,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs + 500),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function post(path: string, body: unknown) {
  const res = await request(`${running.url}${path}`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: 3_000,
    bodyTimeout: 3_000,
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('simulator framework: normal answers', () => {
  it('serves product JSON with content type and length', async () => {
    const res = await get('/api/items');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(JSON.parse(res.text)).toEqual(BODY);
  });

  it('binds to 127.0.0.1 on a random port by default', () => {
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(running.url).not.toMatch(/:0$/);
  });
});

describe('simulator framework: fault knobs', () => {
  it('latencyMs delays the answer', async () => {
    sim.faults.latencyMs = 150;
    const started = Date.now();
    const res = await get('/api/items');
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('hang never answers; the client gives up', async () => {
    sim.faults.hang = true;
    await expect(get('/api/items', 300)).rejects.toThrow();
    expect(sim.stats.requests).toBe(1);
  });

  it('errorStatus with errorRate 1 fails every request', async () => {
    sim.faults.errorStatus = 503;
    for (let i = 0; i < 3; i++) expect((await get('/api/items')).status).toBe(503);
  });

  it('errorRate fails exactly that fraction of requests', async () => {
    await post('/_sim/faults', { errorStatus: 500, errorRate: 0.25 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get('/api/items')).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(2);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
  });

  it('rateLimitRetryAfter answers 429 with Retry-After for rateLimitCount requests, then recovers', async () => {
    sim.faults.rateLimitRetryAfter = 7;
    sim.faults.rateLimitCount = 2;
    const first = await get('/api/items');
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('7');
    expect((await get('/api/items')).status).toBe(429);
    expect((await get('/api/items')).status).toBe(200);
  });

  it('rateLimitCount 0 rate-limits every request', async () => {
    sim.faults.rateLimitRetryAfter = 0;
    for (let i = 0; i < 4; i++) {
      const res = await get('/api/items');
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('0');
    }
  });

  it('malformedJson answers 200 with a body no JSON parser accepts', async () => {
    sim.faults.malformedJson = true;
    const res = await get('/api/items');
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text)).toThrow();
  });

  it('truncate declares the full length but closes after half the body', async () => {
    sim.faults.truncate = true;
    const res = await request(`${running.url}/api/items`, { dispatcher: agent, headersTimeout: 3_000, bodyTimeout: 3_000 });
    expect(res.statusCode).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(BODY)));
    await expect(res.body.text()).rejects.toThrow();
  });

  it('trickleMs sends the body one byte at a time', async () => {
    sim.faults.trickleMs = 10;
    const started = Date.now();
    const res = await get('/api/items', 5_000);
    const bytes = Buffer.byteLength(JSON.stringify(BODY));
    expect(JSON.parse(res.text)).toEqual(BODY);
    expect(Date.now() - started).toBeGreaterThanOrEqual((bytes - 1) * 10 * 0.8);
  });

  it('trickleMs trips a client body timeout', async () => {
    sim.faults.trickleMs = 400;
    await expect(get('/api/items', 150)).rejects.toThrow();
  });

  it('contentType overrides the content type of successful answers', async () => {
    sim.faults.contentType = 'text/html; charset=utf-8';
    const res = await get('/api/items');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(JSON.parse(res.text)).toEqual(BODY);
  });

  it('oversizeBytes pads the answer and keeps it valid JSON', async () => {
    sim.faults.oversizeBytes = 100_000;
    const res = await get('/api/items');
    expect(Buffer.byteLength(res.text)).toBeGreaterThanOrEqual(100_000);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(JSON.parse(res.text)).toEqual(BODY);
  });

  it('body faults leave error answers intact', async () => {
    sim.faults.malformedJson = true;
    const res = await get('/api/missing');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ error: 'nope' });
  });

  it('faults never touch the control API', async () => {
    Object.assign(sim.faults, { errorStatus: 503, malformedJson: true, latencyMs: 2_000 });
    const res = await get('/_sim/faults', 1_000);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ errorStatus: 503 });
  });

  it('a product can shape the injected error body', async () => {
    const shaped = createSimulator({ name: 'shaped', router: productRouter(), errorBody: (status) => ({ code: status, why: 'injected' }) });
    const other = await startSimulator(shaped.app, {});
    try {
      shaped.faults.errorStatus = 502;
      const res = await request(`${other.url}/api/items`, { headersTimeout: 3_000, bodyTimeout: 3_000 });
      expect(res.statusCode).toBe(502);
      expect(await res.body.json()).toEqual({ code: 502, why: 'injected' });
    } finally {
      await other.close();
    }
  });
});

describe('simulator framework: replayMs', () => {
  // A product whose answer changes on every computation, behind a key check that must hold for replays too.
  let computed: number;
  let replaying: Simulator;
  let server: RunningSimulator;
  beforeEach(async () => {
    computed = 0;
    const router = express.Router();
    router.use('/api', (req, res, next) => (req.headers['x-key'] === 'right' ? next() : sendJson(res, 401, { error: 'key' })), replayAnswers);
    router.get('/api/counter', (_req, res) => sendJson(res, 200, { computed: ++computed }));
    router.get('/api/broken', (_req, res) => sendJson(res, 500, { computed: ++computed }));
    replaying = createSimulator({ name: 'replay', router, faults: { replayMs: 60_000 } });
    server = await startSimulator(replaying.app, {});
  });
  afterEach(() => server.close());

  const ask = async (path: string, key = 'right') => {
    const res = await request(`${server.url}${path}`, { headers: { 'x-key': key }, headersTimeout: 3_000, bodyTimeout: 3_000 });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };

  it('computes an answer once per distinct request and replays it, counting every request', async () => {
    expect(await ask('/api/counter')).toEqual({ status: 200, body: { computed: 1 } });
    expect(await ask('/api/counter')).toEqual({ status: 200, body: { computed: 1 } });
    expect(await ask('/api/counter?page=2')).toEqual({ status: 200, body: { computed: 2 } });
    expect(replaying.stats.requests).toBe(3);
  });

  it('still checks authentication on a replayed request', async () => {
    await ask('/api/counter');
    expect((await ask('/api/counter', 'wrong')).status).toBe(401);
  });

  it('never replays an error answer', async () => {
    await ask('/api/broken');
    expect(await ask('/api/broken')).toEqual({ status: 500, body: { computed: 2 } });
  });

  it('recomputes once replayMs has passed, and after any change through the control API', async () => {
    replaying.faults.replayMs = 30;
    await ask('/api/counter');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await ask('/api/counter')).body).toEqual({ computed: 2 });
    replaying.faults.replayMs = 60_000;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await ask('/api/counter')).body).toEqual({ computed: 3 });
    const res = await request(`${server.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"latencyMs":0}' });
    await res.body.dump();
    expect((await ask('/api/counter')).body).toEqual({ computed: 4 });
  });

  it('replays the same bytes, made once, and still through the faults set since', async () => {
    const send = () => request(`${server.url}/api/counter`, { headers: { 'x-key': 'right' }, headersTimeout: 3_000, bodyTimeout: 3_000 });
    const raw = async () => (await send()).body.text();
    expect(await raw()).toBe('{"computed":1}');
    const bytesMade = jest.spyOn(Buffer, 'from');
    const madeFromAnswer = () => bytesMade.mock.calls.filter(([value]) => value === '{"computed":1}').length;
    try {
      expect(await raw()).toBe('{"computed":1}');
      const afterOneReplay = madeFromAnswer();
      for (let i = 0; i < 5; i++) expect(await raw()).toBe('{"computed":1}');
      expect(madeFromAnswer()).toBe(afterOneReplay);
    } finally {
      bytesMade.mockRestore();
    }
    replaying.faults.malformedJson = true;
    const malformed = await raw();
    expect(malformed.startsWith('{"comp')).toBe(true);
    expect(() => JSON.parse(malformed)).toThrow();
    replaying.faults.malformedJson = false;
    replaying.faults.oversizeBytes = 1_000;
    const padded = await raw();
    expect(padded).toHaveLength(1_000);
    expect(JSON.parse(padded)).toEqual({ computed: 1 });
    replaying.faults.oversizeBytes = 0;
    replaying.faults.contentType = 'text/html';
    const html = await send();
    expect(html.headers['content-type']).toBe('text/html');
    expect(await html.body.text()).toBe('{"computed":1}');
    replaying.faults.contentType = undefined;
    replaying.faults.truncate = true;
    await expect(raw()).rejects.toThrow();
    replaying.faults.truncate = false;
    const whole = await send();
    expect(whole.headers['content-type']).toBe('application/json');
    expect(await whole.body.text()).toBe('{"computed":1}');
    expect(computed).toBe(1);
  });

  it('is off by default: every request computed', async () => {
    replaying.faults.replayMs = 0;
    await ask('/api/counter');
    expect((await ask('/api/counter')).body).toEqual({ computed: 2 });
  });
});

describe('simulator framework: control API', () => {
  it('GET /_sim/faults shows the defaults', async () => {
    const res = await get('/_sim/faults');
    expect(JSON.parse(res.text)).toEqual(defaultFaults());
  });

  it('POST /_sim/faults merges into the live faults', async () => {
    const res = await post('/_sim/faults', { latencyMs: 5, contentType: 'text/plain' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ latencyMs: 5, contentType: 'text/plain', hang: false });
    expect(sim.faults.latencyMs).toBe(5);
  });

  it('POST /_sim/faults refuses unknown keys and wrong types', async () => {
    expect((await post('/_sim/faults', { latencyMS: 5 })).status).toBe(400);
    expect((await post('/_sim/faults', { hang: 'yes' })).status).toBe(400);
    expect((await post('/_sim/faults', { errorRate: 2 })).status).toBe(400);
    expect((await post('/_sim/faults', [1])).status).toBe(400);
    expect(sim.faults).toEqual(defaultFaults());
  });

  it('GET /_sim/stats counts product requests per path', async () => {
    await get('/api/items');
    await get('/api/items');
    await get('/api/missing');
    const stats = JSON.parse((await get('/_sim/stats')).text);
    expect(stats).toMatchObject({ requests: 3, byPath: { '/api/items': 2, '/api/missing': 1 }, answered: 3 });
  });

  it('counts the time from each request to its answer, latency included; a hung request is not answered', async () => {
    sim.faults.latencyMs = 60;
    const sent = performance.now();
    await Promise.all([get('/api/items'), get('/api/missing')]);
    const roundTrip = performance.now() - sent;
    expect(sim.stats.answered).toBe(2);
    expect(sim.stats.answerMsTotal).toBeGreaterThanOrEqual(2 * 59);
    // Counted from each request's arrival to its answer: inside the client's round trip, not before or after it.
    expect(sim.stats.answerMsTotal).toBeLessThanOrEqual(2 * roundTrip);
    sim.faults.latencyMs = 0;
    sim.faults.hang = true;
    await expect(get('/api/items', 200)).rejects.toThrow();
    expect(sim.stats).toMatchObject({ requests: 3, answered: 2 });
    await post('/_sim/reset', {});
    expect(sim.stats).toMatchObject({ requests: 0, answered: 0, answerMsTotal: 0 });
  });

  it('POST /_sim/reset restores default faults and clears stats and counters', async () => {
    await post('/_sim/faults', { errorStatus: 500, contentType: 'text/plain', rateLimitRetryAfter: 1, rateLimitCount: 1 });
    await get('/api/items');
    const res = await post('/_sim/reset', {});
    expect(res.status).toBe(200);
    expect(sim.faults).toEqual(defaultFaults());
    expect(sim.stats.requests).toBe(0);
    expect(sim.stats.byPath.size).toBe(0);
    sim.faults.rateLimitRetryAfter = 1;
    sim.faults.rateLimitCount = 1;
    expect((await get('/api/items')).status).toBe(429);
  });

  it('mounts product control routes under /_sim/<name>/', async () => {
    const control = express.Router();
    control.post('/poke', (req, res) => sendJson(res, 200, { poked: req.body }));
    const withControl = createSimulator({ name: 'prod', router: productRouter(), control });
    const other = await startSimulator(withControl.app, {});
    try {
      const res = await request(`${other.url}/_sim/prod/poke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
        headersTimeout: 3_000,
      });
      expect(await res.body.json()).toEqual({ poked: { a: 1 } });
    } finally {
      await other.close();
    }
  });

  it('validateFaultPatch names the problem', () => {
    expect(validateFaultPatch({ nope: 1 })).toMatch(/unknown fault "nope"/);
    expect(validateFaultPatch({ latencyMs: Infinity })).toMatch(/finite/);
    expect(validateFaultPatch({ latencyMs: 1, truncate: true })).toBeUndefined();
  });
});

describe('simulator framework: close()', () => {
  it('does not wait for a hanging request', async () => {
    sim.faults.hang = true;
    const pending = request(`${running.url}/api/items`, { dispatcher: agent, headersTimeout: 20_000, bodyTimeout: 20_000 });
    await waitFor(() => sim.stats.requests === 1, 2_000);
    await running.close();
    // Cut off by the close, not by the client's own 20 s timeout.
    await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('does not wait for idle keep-alive connections or a trickling body', async () => {
    await get('/api/items'); // leaves a keep-alive connection in the agent's pool
    sim.faults.trickleMs = 1_000;
    const pending = request(`${running.url}/api/items`, { dispatcher: agent, headersTimeout: 20_000, bodyTimeout: 20_000 });
    const res = await pending;
    const body = res.body.text();
    await running.close();
    // Cut off by the close, not by the client's 20 s body timeout, nor sent to the end (a byte a second).
    await expect(body).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('can be called twice', async () => {
    await running.close();
    await expect(running.close()).resolves.toBeUndefined();
  });
});

describe('paging helpers', () => {
  it('pageWindow computes slices and neighbours', () => {
    expect(pageWindow(10, 1, 4)).toEqual({ start: 0, end: 4, hasPrevious: false, hasNext: true });
    expect(pageWindow(10, 3, 4)).toEqual({ start: 8, end: 10, hasPrevious: true, hasNext: false });
    expect(pageWindow(10, 4, 4)).toEqual({ start: 10, end: 10, hasPrevious: true, hasNext: false });
    expect(pageWindow(0, 1, 100)).toEqual({ start: 0, end: 0, hasPrevious: false, hasNext: false });
  });

  it('paginate returns the page items', () => {
    const page = paginate(['a', 'b', 'c', 'd', 'e'], 2, 2);
    expect(page.items).toEqual(['c', 'd']);
    expect(page.totalCount).toBe(5);
    expect(page.hasNext).toBe(true);
    expect(page.hasPrevious).toBe(true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

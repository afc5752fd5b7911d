/**
 * Large JSON answers (OFF_THREAD_MIN_BYTES and more) against a real server on 127.0.0.1: parsed on
 * the worker thread, the same value as JSON.parse, the event loop turning while they are parsed, the
 * deadline ending a parse at once. The million-job figures are bench/large-answer.mjs's business.
 */
import type http from 'node:http';
import { HttpClient } from '../../src/http/client';
import type { RequestScope } from '../../src/http/client';
import { CollectError } from '../../src/http/errors';
import { CHUNK_ITEMS, OFF_THREAD_MIN_BYTES, closeJsonWorker } from '../../src/http/json-worker';
import { startServer } from '../helpers/servers';
import type { TestServer } from '../helpers/servers';

/** An Ops Manager page of `count` restore jobs, as the bytes a product would send. */
function restoreJobPage(count: number, extra = ''): Buffer {
  const jobs: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = (0x5e0000000000 + i).toString(16).padStart(24, '0');
    jobs.push(`{"id":"${id}","clusterId":"5e00000000000000000000c1","created":"2026-11-30T10:00:00Z","statusName":"FINISHED"}`);
  }
  return Buffer.from(`{"results":[${jobs.join(',')}],"totalCount":${count}${extra}}`);
}

/** Above the threshold, with long arrays in several places and values JSON.parse must keep exactly. */
const EQUALITY_BODY = restoreJobPage(
  45_000,
  `,"links":[${Array.from({ length: CHUNK_ITEMS * 2 + 1 }, (_, i) => `{"n":${i},"nested":[${Array.from({ length: i % 7 }, (_x, j) => j).join(',')}]}`).join(',')}],` +
    `"odd":{"__proto__":{"x":1},"text":"\\u00e9\\ud83d\\ude00 \\"q\\"","numbers":[1e308,-5e-324,0.1,12345678901234567890,true,false,null],` +
    `"deep":[[${Array.from({ length: CHUNK_ITEMS + 5 }, (_, i) => `[${i},${i + 1}]`).join(',')}]]}`,
);
/** Long enough to take a while to parse on a busy machine, short enough for a quick test. */
const LARGE_BODY = restoreJobPage(200_000);
const INVALID_BODY = Buffer.concat([restoreJobPage(45_000).subarray(0, -2), Buffer.from(',}')]);

let server: TestServer;
let client: HttpClient;

beforeAll(async () => {
  expect(EQUALITY_BODY.length).toBeGreaterThan(OFF_THREAD_MIN_BYTES);
  expect(INVALID_BODY.length).toBeGreaterThan(OFF_THREAD_MIN_BYTES);
  const bodies: Record<string, Buffer> = { '/equal': EQUALITY_BODY, '/large': LARGE_BODY, '/invalid': INVALID_BODY, '/html': INVALID_BODY };
  server = await startServer((req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = bodies[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': req.url === '/html' ? 'text/html' : 'application/json', 'content-length': body.length });
    res.end(body);
  });
  client = new HttpClient({ baseUrl: server.url, maxConcurrency: 2 });
});

afterAll(async () => {
  await client.close();
  await server.close();
  await closeJsonWorker();
});

/** A scope whose signal the test aborts itself; its deadline is far off. */
function scope(): RequestScope & { controller: AbortController } {
  const controller = new AbortController();
  return { controller, signal: controller.signal, deadline: Date.now() + 60_000, requests: 0 };
}

/** A client that calls `onBody` when an answer has been read (the parse starts right after). */
function clientTellingWhenRead(onBody: () => void): HttpClient {
  return new HttpClient({ baseUrl: server.url, maxConcurrency: 2, observe: () => onBody() });
}

test('the value parsed on the worker is the value JSON.parse gives', async () => {
  const value = await client.json({ path: '/equal' }, scope());
  expect(value).toEqual(JSON.parse(EQUALITY_BODY.toString('utf8')));
  // __proto__ stays an own key, as with JSON.parse; it does not set the prototype.
  const odd = (value as { odd: Record<string, unknown> }).odd;
  expect(Object.keys(odd)).toContain('__proto__');
  expect('x' in odd).toBe(false);
});

test('while a large answer is parsed, the event loop keeps turning', async () => {
  // The old way, for scale: the whole parse as one step on this thread.
  let started = performance.now();
  JSON.parse(LARGE_BODY.toString('utf8'));
  const inlineMs = performance.now() - started;

  const events: string[] = [];
  const ticks: number[] = [];
  let bodyReadAt = 0;
  const reader = clientTellingWhenRead(() => {
    bodyReadAt = performance.now();
    events.push('body read');
  });
  const timer = setInterval(() => {
    if (bodyReadAt) {
      ticks.push(performance.now());
      if (ticks.length === 3) events.push('3 ticks');
    }
  }, 5);
  try {
    started = performance.now();
    const value = (await reader.json({ path: '/large' }, scope())) as { results: unknown[] };
    events.push('parsed');
    expect(value.results).toHaveLength(200_000);
  } finally {
    clearInterval(timer);
    await reader.close();
  }
  // The timer ran between the answer's arrival and the parsed value: the parse was not one step.
  expect(events).toEqual(['body read', '3 ticks', 'parsed']);
  // No step on this thread came near the whole parse done inline (each is a chunk of CHUNK_ITEMS items).
  const gaps = ticks.map((t, i) => t - (i === 0 ? bodyReadAt : ticks[i - 1]));
  expect(Math.max(...gaps)).toBeLessThan(Math.max(inlineMs, 50));
});

test('the deadline ends a parse at once with reason timeout; the next parse still works', async () => {
  let abortedAt = 0;
  const timed = scope();
  const reader = clientTellingWhenRead(() => {
    // The answer is in; the parse starts now. The deadline passes a moment later, mid-parse.
    setTimeout(() => {
      abortedAt = performance.now();
      timed.controller.abort(new Error('deadline'));
    }, 5);
  });
  try {
    const error = await reader.json({ path: '/large' }, timed).then(
      () => undefined,
      (err: unknown) => err,
    );
    const abortToRejectMs = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(CollectError);
    expect(error).toMatchObject({ reason: 'timeout', message: 'deadline exceeded while the answer was parsed' });

    // The next parse (on a new worker: the busy one was ended) works, and takes far longer than the abort did.
    const started = performance.now();
    const value = (await reader.json({ path: '/large' }, scope())) as { results: unknown[] };
    const parseMs = performance.now() - started;
    expect(value.results).toHaveLength(200_000);
    expect(abortToRejectMs).toBeLessThan(parseMs);
  } finally {
    await reader.close();
  }
});

test('a scope already past its deadline fails at once', async () => {
  const timed = scope();
  const reader = clientTellingWhenRead(() => timed.controller.abort(new Error('deadline')));
  try {
    await expect(reader.json({ path: '/equal' }, timed)).rejects.toMatchObject({ reason: 'timeout' });
  } finally {
    await reader.close();
  }
});

test('invalid JSON above the threshold is reason parse, with the message JSON.parse gives; not JSON at all is invalid_response', async () => {
  let inline = '';
  try {
    JSON.parse(INVALID_BODY.toString('utf8'));
  } catch (err) {
    inline = (err as Error).message;
  }
  await expect(client.json({ path: '/invalid' }, scope())).rejects.toMatchObject({ reason: 'parse', message: `GET /invalid: invalid JSON: ${inline}` });
  await expect(client.json({ path: '/html' }, scope())).rejects.toMatchObject({ reason: 'invalid_response', message: 'GET /html: answer is text/html, not JSON' });
  // The worker is still there for the next answer.
  await expect(client.json({ path: '/equal' }, scope())).resolves.toMatchObject({ totalCount: 45_000 });
});

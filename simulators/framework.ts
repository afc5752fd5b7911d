/**
 * Shared machinery for the product simulators: a fault layer in front of the product routes, a
 * control API under /_sim/, JSON response helpers that honour the body faults, a listener whose
 * close() never waits on a client, and paging arithmetic.
 *
 * Product simulators only describe their API; everything a test wants to break is done here, the
 * same way for every product, so a fault test written against one simulator reads the same for all.
 */
import express from 'express';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

export interface Faults {
  /** Least time from a request to its answer; the product's own work happens within it, as on a real server. */
  latencyMs: number;
  /** Never answer; the request ends when the client gives up or the simulator closes. */
  hang: boolean;
  /** 0 = off; otherwise the status (500, 502, 503...) answered instead of the product's answer. */
  errorStatus: number;
  /** Fraction (0..1) of product requests that get errorStatus; 1 = all. */
  errorRate: number;
  /** -1 = off; >= 0 answers 429 with this Retry-After (seconds). */
  rateLimitRetryAfter: number;
  /** How many requests get 429 before normal answers resume; 0 = all. */
  rateLimitCount: number;
  /** 200 with a body that is not JSON. */
  malformedJson: boolean;
  /** 200 that declares the full Content-Length but closes after half the body. */
  truncate: boolean;
  /** > 0: the body goes out one byte every trickleMs. */
  trickleMs: number;
  /** Overrides the Content-Type of successful answers. */
  contentType?: string;
  /** > 0: successful JSON answers are padded (with whitespace, still valid JSON) to at least this many bytes. */
  oversizeBytes: number;
  /**
   * > 0: a successful answer is computed once per distinct request (method, URL, body) and replayed
   * unchanged for this long, authentication still checked on every request. For benchmarks: a real
   * product does its work on its own machines, in parallel; a simulator sharing the benchmark's cores
   * with the exporter, one answer at a time, would otherwise charge its own CPU to the exporter.
   */
  replayMs: number;
}

export function defaultFaults(): Faults {
  return {
    latencyMs: 0,
    hang: false,
    errorStatus: 0,
    errorRate: 1,
    rateLimitRetryAfter: -1,
    rateLimitCount: 0,
    malformedJson: false,
    truncate: false,
    trickleMs: 0,
    oversizeBytes: 0,
    replayMs: 0,
  };
}

export interface SimulatorStats {
  /** Product requests seen (control API excluded), faulted ones included. */
  requests: number;
  byPath: Map<string, number>;
  /**
   * Product requests answered through the simulator's answer path (sendJson and the fault layer, not
   * a router's own error pages), and the milliseconds from each one's arrival to its answer, summed:
   * the product's own latency.
   */
  answered: number;
  answerMsTotal: number;
}

export interface SimulatorOptions {
  name: string;
  /** Product routes, mounted at the root; the fault layer runs in front of them. */
  router: express.Router;
  faults?: Partial<Faults>;
  /** Product-specific control routes, mounted at /_sim/<name>/ (e.g. /_sim/opsmanager/fail-next). */
  control?: express.Router;
  /** Body the product would send with an injected 429/5xx; products differ, so they shape it. */
  errorBody?: (status: number) => unknown;
  /** Called by POST /_sim/reset so product state (e.g. a pending forced failure) resets with the faults. */
  onReset?: () => void;
}

export interface Simulator {
  app: express.Express;
  /** Live fault settings: mutate in place (tests) or through POST /_sim/faults. */
  faults: Faults;
  stats: SimulatorStats;
  /** Same as POST /_sim/reset. */
  reset(): void;
}

export interface RunningSimulator {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Faults the body helpers read; set by the fault layer, absent on control routes. */
const FAULTS_LOCAL = 'simFaults';
/** When (epoch ms) the answer of a request with added latency may leave. */
const DUE_LOCAL = 'simDue';
/** Where a product request's arrival is kept, to count its answer time when the answer leaves. */
const ANSWER_CLOCK_LOCAL = 'simAnswerClock';

// byPath must stay bounded even when a benchmark walks thousands of distinct paths.
const MAX_TRACKED_PATHS = 10_000;

const FAULT_TYPES: Record<keyof Faults, 'number' | 'boolean' | 'string'> = {
  latencyMs: 'number',
  hang: 'boolean',
  errorStatus: 'number',
  errorRate: 'number',
  rateLimitRetryAfter: 'number',
  rateLimitCount: 'number',
  malformedJson: 'boolean',
  truncate: 'boolean',
  trickleMs: 'number',
  contentType: 'string',
  oversizeBytes: 'number',
  replayMs: 'number',
};

export function createSimulator(options: SimulatorOptions): Simulator {
  const faults: Faults = { ...defaultFaults(), ...options.faults };
  const stats: SimulatorStats = { requests: 0, byPath: new Map(), answered: 0, answerMsTotal: 0 };
  const counters = { rateLimited: 0, errorCredit: 0 };
  const errorBody = options.errorBody ?? defaultErrorBody;

  const reset = (): void => {
    // Back to the documented defaults, not the construction-time faults: a reset means a clean simulator.
    replaceFaults(faults, defaultFaults());
    stats.requests = 0;
    stats.byPath.clear();
    stats.answered = 0;
    stats.answerMsTotal = 0;
    counters.rateLimited = 0;
    counters.errorCredit = 0;
    options.onReset?.();
  };

  const replay = new ReplayCache();
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Any change through the control API (faults, reset, forced failures) must show in the next answers.
  app.use('/_sim', (req, _res, next) => {
    if (req.method !== 'GET') replay.clear();
    next();
  });
  app.use('/_sim', controlRouter(options, faults, stats, reset));
  app.use(faultLayer(faults, stats, counters, errorBody, replay));
  app.use(options.router);
  return { app, faults, stats, reset };
}

function defaultErrorBody(status: number): unknown {
  return { error: status, reason: http.STATUS_CODES[status] ?? 'Error' };
}

function replaceFaults(target: Faults, source: Faults): void {
  delete target.contentType;
  Object.assign(target, source);
}

// ---------------------------------------------------------------------------------------------
// Control API

function controlRouter(options: SimulatorOptions, faults: Faults, stats: SimulatorStats, reset: () => void): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '64kb' }));
  router.get('/faults', (_req, res) => sendJson(res, 200, faults));
  router.post('/faults', (req, res) => {
    const problem = validateFaultPatch(req.body);
    if (problem) return sendJson(res, 400, { error: problem });
    Object.assign(faults, req.body as Partial<Faults>);
    sendJson(res, 200, faults);
  });
  router.post('/reset', (_req, res) => {
    reset();
    sendJson(res, 200, { reset: true, faults });
  });
  router.get('/stats', (_req, res) => sendJson(res, 200, statsJson(stats)));
  if (options.control) router.use(`/${options.name}`, options.control);
  router.use((_req, res) => sendJson(res, 404, { error: 'unknown simulator control route' }));
  return router;
}

/** Returns what is wrong with a POST /_sim/faults body, or undefined when it can be merged. */
export function validateFaultPatch(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body must be a JSON object';
  for (const [key, value] of Object.entries(body)) {
    const expected = FAULT_TYPES[key as keyof Faults];
    if (!expected) return `unknown fault "${key}"`;
    if (typeof value !== expected) return `fault "${key}" must be a ${expected}`;
    if (expected === 'number' && !Number.isFinite(value)) return `fault "${key}" must be a finite number`;
  }
  const rate = (body as Partial<Faults>).errorRate;
  if (rate !== undefined && (rate < 0 || rate > 1)) return 'fault "errorRate" must be within 0..1';
  return undefined;
}

function statsJson(stats: SimulatorStats): { requests: number; byPath: Record<string, number>; answered: number; answerMsTotal: number } {
  return { requests: stats.requests, byPath: Object.fromEntries(stats.byPath), answered: stats.answered, answerMsTotal: stats.answerMsTotal };
}

// ---------------------------------------------------------------------------------------------
// Fault layer (product routes only)

interface FaultCounters {
  rateLimited: number;
  /** Accumulates errorRate per request so a rate of 0.25 fails exactly every 4th request: tests stay deterministic. */
  errorCredit: number;
}

function faultLayer(
  faults: Faults,
  stats: SimulatorStats,
  counters: FaultCounters,
  errorBody: (status: number) => unknown,
  replay: ReplayCache,
): express.RequestHandler {
  return (req, res, next) => {
    countRequest(stats, req.path);
    res.locals[ANSWER_CLOCK_LOCAL] = { stats, arrived: performance.now() };
    res.locals[FAULTS_LOCAL] = faults;
    if (faults.replayMs > 0) res.locals[REPLAY_LOCAL] = replay;
    // The answer leaves no sooner than latencyMs after the request came, and the product's own work
    // happens during that time, as on a real server whose latency includes it.
    if (faults.latencyMs > 0) res.locals[DUE_LOCAL] = Date.now() + faults.latencyMs;
    if (faults.hang) return; // answered never; close() or the client ends it
    if (shouldRateLimit(faults, counters)) {
      return sendJson(res, 429, errorBody(429), { 'Retry-After': String(faults.rateLimitRetryAfter) });
    }
    if (shouldFail(faults, counters)) return sendJson(res, faults.errorStatus, errorBody(faults.errorStatus));
    next();
  };
}

function countRequest(stats: SimulatorStats, path: string): void {
  stats.requests++;
  const seen = stats.byPath.get(path);
  if (seen !== undefined) stats.byPath.set(path, seen + 1);
  else if (stats.byPath.size < MAX_TRACKED_PATHS) stats.byPath.set(path, 1);
}

function shouldRateLimit(faults: Faults, counters: FaultCounters): boolean {
  if (faults.rateLimitRetryAfter < 0) return false;
  if (faults.rateLimitCount > 0 && counters.rateLimited >= faults.rateLimitCount) return false;
  counters.rateLimited++;
  return true;
}

function shouldFail(faults: Faults, counters: FaultCounters): boolean {
  if (faults.errorStatus <= 0 || faults.errorRate <= 0) return false;
  counters.errorCredit += faults.errorRate;
  if (counters.errorCredit < 1 - 1e-9) return false;
  counters.errorCredit -= 1;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Replay (Faults.replayMs)

const REPLAY_LOCAL = 'simReplay';
const REPLAY_KEY_LOCAL = 'simReplayKey';
/** Bounds the cache even when a benchmark walks many distinct requests. */
const MAX_REPLAYED_ANSWERS = 10_000;

interface ReplayedAnswer {
  expires: number;
  status: number;
  text: string;
  /** The answer's bytes when no body fault changes them, made once: a replay allocates nothing. */
  bytes?: Buffer;
  headers: Record<string, string>;
}

class ReplayCache {
  // A Map iterates in insertion order: the first entries are the oldest.
  private readonly answers = new Map<string, ReplayedAnswer>();

  get(key: string, now: number): ReplayedAnswer | undefined {
    const answer = this.answers.get(key);
    if (answer && answer.expires > now) return answer;
    if (answer) this.answers.delete(key);
    return undefined;
  }

  set(key: string, answer: ReplayedAnswer): void {
    this.answers.delete(key);
    if (this.answers.size >= MAX_REPLAYED_ANSWERS) this.answers.delete(this.answers.keys().next().value as string);
    this.answers.set(key, answer);
  }

  clear(): void {
    this.answers.clear();
  }
}

function replayKey(req: express.Request): string {
  const body: unknown = req.body;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('latin1') : '';
  return `${req.method} ${req.originalUrl}\n${text}`;
}

/**
 * Product routers mount this right after their authentication: with replayMs set, an answer already
 * computed for the same request goes out again (after the same latency), else the one computed now
 * is kept.
 */
export const replayAnswers: express.RequestHandler = (req, res, next) => {
  const cache = res.locals[REPLAY_LOCAL] as ReplayCache | undefined;
  if (!cache) return next();
  const key = replayKey(req);
  const answer = cache.get(key, Date.now());
  if (answer) return sendReplayed(res, answer);
  res.locals[REPLAY_KEY_LOCAL] = key;
  next();
};

// ---------------------------------------------------------------------------------------------
// Response helpers

export interface SendOptions {
  /** Indentation for pretty-printed JSON (e.g. ?pretty=true). */
  space?: number;
}

/**
 * Sends a JSON answer. On product routes, successful answers go through the body faults (malformed,
 * truncated, trickled, oversized, content type); errors are left intact so auth handshakes still work.
 */
export function sendJson(
  res: express.Response,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  options: SendOptions = {},
): void {
  const text = JSON.stringify(body, null, options.space);
  const replayKeyOf = res.locals[REPLAY_KEY_LOCAL] as string | undefined;
  const faults = res.locals[FAULTS_LOCAL] as Faults | undefined;
  if (replayKeyOf && faults && status >= 200 && status < 300) {
    (res.locals[REPLAY_LOCAL] as ReplayCache).set(replayKeyOf, { expires: Date.now() + faults.replayMs, status, text, headers });
  }
  sendJsonText(res, status, text, headers);
}

function sendReplayed(res: express.Response, answer: ReplayedAnswer): void {
  const faults = res.locals[FAULTS_LOCAL] as Faults;
  const bytes = changesBytes(faults) ? shapeBody(answer.text, faults) : (answer.bytes ??= shapeBody(answer.text, undefined));
  sendBody(res, answer.status, bytes, withContentType(answer.headers, faults), faults);
}

function sendJsonText(res: express.Response, status: number, text: string, headers: Record<string, string>): void {
  const faults = res.locals[FAULTS_LOCAL] as Faults | undefined;
  const bodyFaults = faults && status >= 200 && status < 300 ? faults : undefined;
  sendBody(res, status, shapeBody(text, bodyFaults), withContentType(headers, bodyFaults), bodyFaults);
}

function withContentType(headers: Record<string, string>, faults: Faults | undefined): Record<string, string> {
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  const out: Record<string, string> = hasType ? { ...headers } : { ...headers, 'Content-Type': 'application/json' };
  if (faults?.contentType) {
    for (const name of Object.keys(out)) if (name.toLowerCase() === 'content-type') delete out[name];
    out['Content-Type'] = faults.contentType;
  }
  return out;
}

/** Whether the body faults change an answer's bytes (shapeBody), not only how they are sent. */
function changesBytes(faults: Faults): boolean {
  return faults.malformedJson || faults.oversizeBytes > 0;
}

function shapeBody(text: string, faults: Faults | undefined): Buffer {
  let shaped = text;
  // Cut in the middle and add a marker so no JSON parser can accept it, lenient or not.
  if (faults?.malformedJson) shaped = `${text.slice(0, Math.ceil(text.length / 2))}<!-- not json`;
  let buffer = Buffer.from(shaped, 'utf8');
  if (faults && faults.oversizeBytes > buffer.length) {
    // Trailing whitespace keeps the JSON valid, so only a client's size cap can notice.
    buffer = Buffer.concat([buffer, Buffer.alloc(faults.oversizeBytes - buffer.length, 0x20)]);
  }
  return buffer;
}

function sendBody(
  res: express.Response,
  status: number,
  body: Buffer,
  headers: Record<string, string>,
  faults: Faults | undefined,
): void {
  const wait = ((res.locals[DUE_LOCAL] as number | undefined) ?? 0) - Date.now();
  if (wait > 0) {
    const timer = setTimeout(() => sendBody(res, status, body, headers, faults), wait);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  if (res.headersSent || res.writableEnded) return;
  const clock = res.locals[ANSWER_CLOCK_LOCAL] as { stats: SimulatorStats; arrived: number } | undefined;
  if (clock) {
    clock.stats.answered++;
    clock.stats.answerMsTotal += performance.now() - clock.arrived;
  }
  res.status(status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', String(body.length));
  if (faults?.truncate) return sendTruncated(res, body);
  if (faults && faults.trickleMs > 0) return sendTrickled(res, body, faults.trickleMs);
  res.end(body);
}

function sendTruncated(res: express.Response, body: Buffer): void {
  res.flushHeaders();
  const half = body.subarray(0, Math.floor(body.length / 2));
  // Destroying after the write reaches the socket makes the client see a premature close, not a reset before headers.
  res.write(half, () => res.destroy());
}

function sendTrickled(res: express.Response, body: Buffer, trickleMs: number): void {
  res.flushHeaders();
  let offset = 0;
  const timer = setInterval(() => {
    if (offset >= body.length) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(body.subarray(offset, offset + 1));
    offset++;
  }, trickleMs);
  res.once('close', () => clearInterval(timer));
}

// ---------------------------------------------------------------------------------------------
// Listening

export async function startSimulator(
  app: express.Express,
  listen: { host?: string; port?: number; tls?: { key: string; cert: string } } = {},
): Promise<RunningSimulator> {
  const host = listen.host ?? '127.0.0.1';
  // TLS lets tests present a certificate the exporter must (or must not) trust.
  const server: http.Server = listen.tls ? https.createServer(listen.tls, app) : http.createServer(app);
  const sockets = trackSockets(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (listen.port ?? 0);
  return { url: `${listen.tls ? 'https' : 'http'}://${formatHost(host)}:${port}`, server, close: closer(server, sockets) };
}

function trackSockets(server: http.Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Stops listening and destroys every open connection (keep-alive, hanging, trickling), so close() never waits on a client. */
function closer(server: http.Server, sockets: Set<Socket>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
    });
    return closing;
  };
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

// ---------------------------------------------------------------------------------------------
// Paging

export interface PageWindow {
  /** Index of the first item on the page (0-based). */
  start: number;
  /** Index after the last item on the page. */
  end: number;
  hasPrevious: boolean;
  hasNext: boolean;
}

/** Where a 1-based page falls in a list of totalCount items; lets a simulator build only that slice. */
export function pageWindow(totalCount: number, pageNum: number, itemsPerPage: number): PageWindow {
  const start = Math.min((pageNum - 1) * itemsPerPage, totalCount);
  const end = Math.min(start + itemsPerPage, totalCount);
  return { start, end, hasPrevious: pageNum > 1, hasNext: pageNum * itemsPerPage < totalCount };
}

export interface Page<T> extends PageWindow {
  items: T[];
  totalCount: number;
}

export function paginate<T>(items: T[], pageNum: number, itemsPerPage: number): Page<T> {
  const window = pageWindow(items.length, pageNum, itemsPerPage);
  return { ...window, items: items.slice(window.start, window.end), totalCount: items.length };
}

/** An error answer in the product's shape, thrown by a route and sent by handleApiErrors. */
export class ApiError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export type Handler = (req: express.Request, res: express.Response) => void;

/** A route whose thrown ApiError becomes the product's error answer (`send` shapes it, e.g. an envelope). */
export function handleApiErrors(
  fn: Handler,
  send: (req: express.Request, res: express.Response, error: ApiError) => void = (_req, res, error) => sendJson(res, error.status, error.body, error.headers),
): express.RequestHandler {
  return (req, res) => {
    try {
      fn(req, res);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      send(req, res, err);
    }
  };
}

/** The first value of query parameter `name`, if it is a string. */
export function queryValue(req: express.Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** MongoDB's API error shape (Ops Manager and Atlas). */
export function mongodbApiError(status: number, errorCode: string, detail: string, parameters: unknown[] = []): ApiError {
  return new ApiError(status, { detail, error: status, errorCode, parameters, reason: http.STATUS_CODES[status] ?? 'Error' });
}


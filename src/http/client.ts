/**
 * The one place that talks HTTP to the products: a keep-alive pool per target, the collection's
 * deadline on every request, bounded retries on 429/502/503/504, a cap on answer size, a limit on
 * requests in flight, pluggable authentication (digest, bearer tokens, request signing), and the
 * classification of every failure into a CollectError reason.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { isObject, truncate } from '../text';
import { CollectError, classifyError, reasonForStatus } from './errors';
import { JsonSyntaxError, OFF_THREAD_MIN_BYTES, parseJsonOffThread } from './json-worker';
import { nextTurn } from '../event-loop';

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const MAX_RETRIES = 2;
const BACKOFF_BASE_MS = 200;
/** Time kept back before the deadline so that a retry which would not finish is not started. */
const DEADLINE_MARGIN_MS = 50;

export type QueryValue = string | number | boolean | undefined;

export interface OutgoingRequest {
  method: string;
  /** Path with query string, as sent on the request line. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Authentication scheme of a target; one instance per target so it can keep its state (nonces, tokens). */
export interface RequestAuth {
  /** Headers for one attempt of a request. */
  headers(req: OutgoingRequest, scope: RequestScope): Promise<Record<string, string>> | Record<string, string>;
  /**
   * Called on a 401 to `req` (the attempt as sent, headers included); `attempt` counts the 401s this
   * request has had. 'retry' sends it once more with fresh headers, 'fail' gives up with reason auth.
   */
  onUnauthorized(res: HttpResponse, req: OutgoingRequest, attempt: number, scope: RequestScope): Promise<'retry' | 'fail'> | 'retry' | 'fail';
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One collection's budget: its deadline, the signal that fires at it, and a count of requests made. */
export interface RequestScope {
  readonly signal: AbortSignal;
  /** Epoch milliseconds. */
  readonly deadline: number;
  requests: number;
}

export interface HttpClientOptions {
  baseUrl: string;
  maxConcurrency: number;
  tls?: { ca?: string; insecure_skip_verify?: boolean };
  auth?: RequestAuth;
  maxResponseBytes?: number;
  userAgent?: string;
  /** Called once per attempt that was sent, when its answer has been read or it failed. */
  observe?: (exchange: UpstreamExchange) => void;
}

/** One attempt of a request, as the debug log and the upstream metrics see it. */
export interface UpstreamExchange {
  method: string;
  /** Path and query as sent; may carry secrets (see pathForLog). */
  path: string;
  /** The HTTP status, or the error reason when there was no answer. */
  code: string;
  seconds: number;
  /** Bytes of the answer's body that were read. */
  bytes: number;
}

/** Query parameters whose values are never logged, whatever the product calls its credentials. */
const SECRET_QUERY_KEY = /pass|pwd|secret|token|key|sig|auth|cred/i;

/** `path` with the values of credential-like query parameters replaced, for a log line. */
export function pathForLog(path: string): string {
  const at = path.indexOf('?');
  if (at < 0) return path;
  const shown = new URLSearchParams();
  for (const [key, value] of new URLSearchParams(path.slice(at + 1))) shown.append(key, SECRET_QUERY_KEY.test(key) ? 'xxx' : value);
  return `${path.slice(0, at)}?${shown.toString()}`;
}

/**
 * At most `size` holders at a time; the others wait in order. A waiter whose collection's signal
 * aborts leaves the queue at once. One abort listener per signal, not per waiter: a collection may
 * have thousands of requests waiting, and an AbortSignal's listeners are a list walked on every add.
 */
class Slots {
  private free: number;
  private readonly waiting: Array<{ signal: AbortSignal; grant: () => void; refuse: () => void }> = [];
  private readonly watched = new WeakSet<AbortSignal>();

  constructor(size: number) {
    this.free = size;
  }

  /** Resolves when a slot is this caller's (call the returned release once); rejects if `signal` aborts first. */
  acquire(signal: AbortSignal, aborted: () => Error): Promise<() => void> {
    if (signal.aborted) return Promise.reject(aborted());
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ signal, grant: () => resolve(this.releaser()), refuse: () => reject(aborted()) });
      if (this.watched.has(signal)) return;
      this.watched.add(signal);
      signal.addEventListener('abort', () => this.dropAborted(), { once: true });
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.free++;
    };
  }

  private dropAborted(): void {
    const kept = this.waiting.filter((w) => !w.signal.aborted);
    const dropped = this.waiting.filter((w) => w.signal.aborted);
    this.waiting.splice(0, this.waiting.length, ...kept);
    for (const w of dropped) w.refuse();
  }
}

export class HttpClient {
  private readonly pool: Dispatcher;
  private readonly basePath: string;
  private readonly maxResponseBytes: number;
  /**
   * Requests in flight, bounded here rather than in undici's queue: a request's authentication
   * (a Digest nonce and count, a signature's date) is made when it can be sent, not while it waits
   * behind thousands of others, by when a nonce may have gone stale.
   */
  private readonly slots: Slots;

  constructor(private readonly options: HttpClientOptions) {
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.slots = new Slots(options.maxConcurrency);
    // One request per connection and at most maxConcurrency connections, as many as the slots above:
    // a request that holds a slot finds a free connection.
    this.pool = new Pool(url.origin, {
      connections: options.maxConcurrency,
      keepAliveTimeout: 30_000,
      // The collection's deadline aborts requests; these only stop a socket that would outlive every deadline.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      connect: {
        ca: options.tls?.ca,
        rejectUnauthorized: !options.tls?.insecure_skip_verify,
      },
    }).compose(tellWhenSent);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /** Sends a request with retries and authentication; resolves only for 2xx answers. */
  async request(options: RequestOptions, scope: RequestScope): Promise<HttpResponse> {
    const method = options.method ?? 'GET';
    const path = this.basePath + buildPath(options.path, options.query);
    let retries = 0;
    let authRetries = 0;
    // Bounded: at most MAX_RETRIES status retries plus two authentication rounds (a challenge, then a stale nonce).
    for (;;) {
      const release = await this.slots.acquire(scope.signal, () => new CollectError('timeout', 'deadline exceeded while waiting for a free connection'));
      let exchange: { response: HttpResponse; outgoing: OutgoingRequest };
      try {
        exchange = await this.attempt(method, path, options, scope);
      } finally {
        release();
      }
      const { response, outgoing } = exchange;
      if (response.status === 401 && this.options.auth && authRetries < 2) {
        authRetries++;
        if ((await this.options.auth.onUnauthorized(response, outgoing, authRetries, scope)) === 'retry') continue;
      }
      if (RETRYABLE_STATUSES.has(response.status) && retries < MAX_RETRIES) {
        const wait = retryDelayMs(response, retries);
        if (wait !== undefined && Date.now() + wait < scope.deadline - DEADLINE_MARGIN_MS) {
          retries++;
          await sleep(wait, undefined, { signal: scope.signal }).catch(() => {
            throw new CollectError('timeout', 'deadline exceeded while waiting to retry');
          });
          continue;
        }
      }
      if (response.status >= 400) throw errorForResponse(method, path, response);
      // Redirects are not followed (credentials must not travel elsewhere), and their body is not data.
      if (response.status >= 300) {
        throw new CollectError('invalid_response', `${method} ${path.split('?')[0]}: HTTP ${response.status}, a redirect; redirects are not followed (check the target's url)`);
      }
      return response;
    }
  }

  /**
   * Sends a request and parses its answer as JSON: inline when small, on the shared worker thread
   * from OFF_THREAD_MIN_BYTES on (the event loop keeps turning; the deadline stops the parse).
   */
  async json<T = unknown>(options: RequestOptions, scope: RequestScope): Promise<T> {
    const response = await this.request(options, scope);
    // The parse and what the provider does with the answer wait for the next turn of the event
    // loop: undici writes a queued request on the connection this answer freed only then, in the
    // loop's check phase, and a chain's next request must not wait behind this work.
    await nextTurn();
    // The collection may have ended meanwhile: its parse would be wasted work.
    if (scope.signal.aborted) throw new CollectError('timeout', 'deadline exceeded before the answer was parsed');
    const where = `${options.method ?? 'GET'} ${options.path}`;
    if (response.body.length < OFF_THREAD_MIN_BYTES) return parseJsonBody(response, where) as T;
    try {
      return (await parseJsonOffThread(response.body, scope.signal)) as T;
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw notJson(response, where, err.message);
      throw err;
    }
  }

  private async attempt(
    method: string,
    path: string,
    options: RequestOptions,
    scope: RequestScope,
  ): Promise<{ response: HttpResponse; outgoing: OutgoingRequest }> {
    let started = performance.now();
    let sent = false;
    let code = 'error';
    let bytes = 0;
    const outgoing: OutgoingRequest = {
      method,
      path,
      headers: { accept: 'application/json', 'user-agent': this.options.userAgent ?? 'backup-exporter', ...options.headers },
      body: options.body,
    };
    const whenSent: SentNotice = {
      sent: () => {
        if (sent) return;
        sent = true;
        started = performance.now();
        scope.requests++;
      },
    };
    try {
      if (this.options.auth) Object.assign(outgoing.headers, await this.options.auth.headers(outgoing, scope));
      const res = await unlessAborted(
        this.pool.request({
          method: method as 'GET' | 'POST',
          path,
          headers: outgoing.headers,
          body: outgoing.body,
          signal: scope.signal,
          opaque: whenSent,
        }),
        scope.signal,
        () => sent,
      );
      code = String(res.statusCode);
      const body = await readCapped(res.body, res.headers['content-length'], this.maxResponseBytes).catch((err: unknown) => {
        const where = `${method} ${path.split('?')[0]}`;
        if (err instanceof CollectError) throw new CollectError(err.reason, `${where}: ${err.message}`);
        // The answer began and then broke off: the product's fault, not the network's, unless the deadline ended it.
        if (scope.signal.aborted) throw err;
        throw new CollectError('invalid_response', `${where}: answer cut short: ${(err as Error).message}`);
      });
      bytes = body.length;
      return { response: { status: res.statusCode, headers: res.headers, body }, outgoing };
    } catch (err) {
      const classified = classifyError(err, scope.signal.aborted);
      if (code === 'error') code = classified.reason;
      // A request that failed to connect was made (and timed from its start); one dropped from the
      // queue at the deadline was not.
      if (!sent && !scope.signal.aborted) {
        sent = true;
        scope.requests++;
      }
      throw classified;
    } finally {
      if (sent) this.options.observe?.({ method, path, code, seconds: (performance.now() - started) / 1000, bytes });
    }
  }
}

/** Passed as a request's `opaque`: told when undici takes the request out of its queue and sends it. */
interface SentNotice {
  sent(): void;
}

/** An undici interceptor that calls the request's SentNotice when a connection takes the request. */
function tellWhenSent(dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] {
  return (opts, handler) => {
    // pool.request() hands its options, `opaque` included, to dispatch.
    const notice = (opts as { opaque?: Partial<SentNotice> }).opaque;
    if (typeof notice?.sent !== 'function') return dispatch(opts, handler);
    const sent = notice.sent;
    return dispatch(opts, {
      onRequestStart: (controller, context) => {
        sent();
        handler.onRequestStart?.(controller, context);
      },
      onRequestUpgrade: (...args) => handler.onRequestUpgrade?.(...args),
      onResponseStart: (...args) => handler.onResponseStart?.(...args),
      onResponseData: (...args) => handler.onResponseData?.(...args),
      onResponseEnd: (...args) => handler.onResponseEnd?.(...args),
      onResponseError: (...args) => handler.onResponseError?.(...args),
    });
  };
}

/**
 * The answer to `request`, or a timeout as soon as `signal` aborts. undici acts on the abort of a
 * request it holds in its queue (all connections busy) only once a connection is free for it; the
 * collection must not wait for that.
 */
function unlessAborted<T>(request: Promise<Dispatcher.ResponseData<T>>, signal: AbortSignal, wasSent: () => boolean): Promise<Dispatcher.ResponseData<T>> {
  const deadlinePassed = () =>
    new CollectError('timeout', wasSent() ? 'deadline exceeded before the product answered' : 'deadline exceeded while waiting for a free connection');
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(deadlinePassed());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    request.then(
      (res) => {
        signal.removeEventListener('abort', onAbort);
        // Answered in the same turn as the abort: nobody reads it.
        if (signal.aborted) discard(res.body);
        else resolve(res);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export function buildPath(path: string, query?: Record<string, QueryValue>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

interface BodyStream extends AsyncIterable<Buffer> {
  destroy(error?: Error): unknown;
  on(event: 'error', listener: () => void): unknown;
}

/** Stops reading an answer; the stream's own abort error is expected, not news. */
function discard(body: BodyStream): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function readCapped(body: BodyStream, contentLength: string | string[] | undefined, max: number): Promise<Buffer> {
  const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  const tooLarge = () => new CollectError('invalid_response', `answer larger than the ${max}-byte cap`);
  if (Number.isFinite(declared) && declared > max) {
    discard(body);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > max) {
      discard(body);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Milliseconds to wait before retrying, or undefined when Retry-After asks for an impossible wait. */
export function retryDelayMs(response: Pick<HttpResponse, 'headers'>, retriesSoFar: number, now = Date.now()): number | undefined {
  const header = response.headers['retry-after'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value.trim() !== '') {
    const ms = Math.round(Number(value) * 1000);
    // "1e308" seconds is a number, but not a wait anyone can honour.
    if (Number.isFinite(ms) && ms >= 0) return ms;
    // Otherwise an HTTP-date (Wed, 21 Oct 2015 07:28:00 GMT); "-5" is neither.
    const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
    if (Number.isFinite(date)) return Math.max(0, date - now);
    return undefined;
  }
  const backoff = BACKOFF_BASE_MS * 2 ** retriesSoFar;
  return backoff / 2 + Math.random() * (backoff / 2);
}

const MESSAGE_FIELDS = ['detail', 'message', 'error_msg', 'Message', 'reason', 'error_description', 'error'];

/** The product's own explanation of an error answer, if the body carries one we recognise. */
export function productMessage(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > 65536) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  for (const field of MESSAGE_FIELDS) {
    const value = parsed[field];
    if (typeof value === 'string' && value.trim()) return truncate(value.trim(), 300);
  }
  // Huawei IAM nests it: {"error": {"code": 401, "message": "...", "title": "Unauthorized"}}.
  if (isObject(parsed.error)) return productMessage(Buffer.from(JSON.stringify(parsed.error)));
  return undefined;
}

function errorForResponse(method: string, path: string, response: HttpResponse): CollectError {
  const message = productMessage(response.body);
  const where = `${method} ${path.split('?')[0]}`;
  return new CollectError(reasonForStatus(response.status), `${where}: HTTP ${response.status}${message ? `: ${message}` : ''}`, response.status);
}

export function parseJsonBody(response: HttpResponse, where: string): unknown {
  const text = response.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw notJson(response, where, (err as Error).message);
  }
}

/** The error for an answer JSON.parse refused (`message` is its message), by the answer's content type. */
function notJson(response: Pick<HttpResponse, 'headers'>, where: string, message: string): CollectError {
  const type = String(response.headers['content-type'] ?? '');
  if (type && !/json/i.test(type)) return new CollectError('invalid_response', `${where}: answer is ${type.split(';')[0]}, not JSON`);
  return new CollectError('parse', `${where}: invalid JSON: ${message}`);
}

/**
 * Large JSON answers parsed on a worker thread. JSON.parse of a 42 MB page (a million restore jobs)
 * takes about 1.5 s: on the event loop it would stall every scrape and health check for that long.
 *
 * One worker per process, started when first needed, shared by every client; parses wait in a
 * queue here and go to the worker one at a time. The body's bytes are transferred, not copied, when
 * the Buffer owns its memory whole. The worker parses, then sends the value back in small messages:
 * every array longer than CHUNK_ITEMS is left empty in a "skeleton" (with its path), and its items
 * follow CHUNK_ITEMS at a time. The worker sends a chunk only when asked, and the main thread asks
 * for the next one from a setImmediate (a few asked ahead): between two chunks the event loop turns (timers, sockets), so no single
 * step of delivering the value is long. Node delivers every message already queued on a port in
 * one go, so without that request-per-chunk the chunks would again be one long step. Chunks travel
 * as JSON text: parsing 2,000 items' text takes half the time of receiving them as objects.
 *
 * The collection's deadline stops a parse at once: the caller is answered with a timeout, and if the
 * worker was busy with that parse it is terminated (JSON.parse cannot be interrupted otherwise), which
 * also bounds the CPU spent on an answer nobody waits for; the next parse starts a new worker.
 */
import { Worker } from 'node:worker_threads';
import { CollectError } from './errors';

/**
 * Answers of at least this many bytes are parsed on the worker. Below it JSON.parse holds the event
 * loop for about 60 ms at most on a slow core, and the worker's round trip (about twice the parse
 * time end to end) would cost every ordinary page of jobs latency for nothing.
 */
export const OFF_THREAD_MIN_BYTES = 4 * 1024 * 1024;
/** Items of a long array per message: 2,000 restore jobs are about 85 KB, a millisecond or two to receive. */
export const CHUNK_ITEMS = 2000;
/**
 * Chunks asked for ahead: enough that the worker is rarely idle while this thread takes chunks in;
 * few enough that one turn of the event loop takes in at most this many (a few milliseconds).
 */
const CHUNKS_IN_FLIGHT = 4;

/** The answer is not JSON; `message` is JSON.parse's own, as an inline parse would give it. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
}

type PathKey = string | number;

/** Worker to main thread. */
type FromWorker =
  | { id: number; syntaxError: string }
  | { id: number; failure: string }
  | { id: number; skeleton: unknown; paths: PathKey[][] }
  | { id: number; part: number; text: string; last: boolean };

/**
 * The worker. Messages in: { id, buffer, offset, length, chunk } (a parse) and { more: id } (send the
 * next chunk). Messages out: { id, syntaxError } | { id, failure } | { id, skeleton, paths }, then
 * { id, part, items, last } per request. Arrays are cut pre-order (an array before the long arrays
 * inside its items), so the main thread can always walk a path: its arrays are filled by then.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
let job;
/** Deeper than this, long arrays are left in place (JSON this deep is hostile, not a product's page). */
const MAX_DEPTH = 256;
function cut(root, chunk) {
  const parts = [];
  if (root === null || typeof root !== 'object') return { skeleton: root, parts };
  let skeleton = root;
  if (Array.isArray(root) && root.length > chunk) {
    parts.push({ path: [], items: root });
    skeleton = [];
  }
  scan(root, [], 0, parts, chunk);
  // Outer arrays (shorter paths) first: the main thread walks a path only through arrays already filled.
  parts.sort((a, b) => a.path.length - b.path.length);
  return { skeleton, parts };
}
function scan(value, path, depth, parts, chunk) {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child = value[i];
      if (child !== null && typeof child === 'object') visit(value, i, child, path, depth, parts, chunk);
    }
  } else {
    for (const key in value) {
      const child = value[key];
      if (child !== null && typeof child === 'object') visit(value, key, child, path, depth, parts, chunk);
    }
  }
}
function visit(parent, key, child, path, depth, parts, chunk) {
  path.push(key);
  if (Array.isArray(child) && child.length > chunk) {
    parts.push({ path: path.slice(), items: child });
    parent[key] = [];
  }
  scan(child, path, depth + 1, parts, chunk);
  path.pop();
}
function next() {
  const { id, parts, chunk } = job;
  const index = job.part;
  // As JSON text: JSON.parse of it on the main thread costs half of what receiving the objects would.
  const text = JSON.stringify(parts[index].items.slice(job.offset, job.offset + chunk));
  job.offset += chunk;
  if (job.offset >= parts[index].items.length) {
    job.part++;
    job.offset = 0;
  }
  const last = job.part >= parts.length;
  if (last) job = undefined;
  parentPort.postMessage({ id, part: index, text, last });
}
parentPort.on('message', (message) => {
  if (message.more !== undefined) {
    if (job && job.id === message.more) next();
    return;
  }
  const { id, buffer, offset, length, chunk } = message;
  job = undefined;
  let value;
  try {
    value = JSON.parse(Buffer.from(buffer, offset, length).toString('utf8'));
  } catch (err) {
    parentPort.postMessage({ id, syntaxError: String(err && err.message) });
    return;
  }
  try {
    const { skeleton, parts } = cut(value, chunk);
    parentPort.postMessage({ id, skeleton, paths: parts.map((p) => p.path) });
    if (parts.length) job = { id, parts, chunk, part: 0, offset: 0 };
  } catch (err) {
    parentPort.postMessage({ id, failure: String(err && err.message) });
  }
});
`;

interface Job {
  id: number;
  body: Buffer;
  signal: AbortSignal;
  chunkItems: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
  onAbort(): void;
  /** Set once the skeleton arrived. */
  root?: { value: unknown };
  paths?: PathKey[][];
  target?: unknown[];
  targetPart?: number;
}

class JsonWorker {
  private worker?: Worker;
  private nextId = 0;
  private readonly queue: Job[] = [];
  /** The parse the worker has; at most one at a time. */
  private current?: Job;

  parse(body: Buffer, signal: AbortSignal, chunkItems: number): Promise<unknown> {
    if (signal.aborted) return Promise.reject(deadlineExceeded());
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        body,
        signal,
        chunkItems,
        resolve,
        reject,
        onAbort: () => this.abort(job),
      };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    const failed = new CollectError('parse', 'the JSON parser was shut down');
    if (this.current) this.settle(this.current, failed);
    this.current = undefined;
    for (const job of this.queue.splice(0)) this.settle(job, failed);
    if (worker) await worker.terminate();
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    this.settle(job, deadlineExceeded());
    if (this.current !== job) return;
    // The worker is busy with a parse nobody waits for; it cannot be interrupted but by ending it.
    this.current = undefined;
    this.stopWorker();
    this.pump();
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    const job = this.queue.shift() as Job;
    let worker: Worker;
    try {
      worker = this.started();
    } catch (err) {
      this.settle(job, new CollectError('parse', `the JSON parser thread did not start: ${(err as Error).message}`));
      this.pump();
      return;
    }
    this.current = job;
    // Busy: the process waits for the answer (an idle worker is unref'd and keeps nothing alive).
    worker.ref();
    const { body } = job;
    // Transfer the memory when the Buffer owns all of it; otherwise copy once, then transfer the copy.
    const ownsWhole = body.byteOffset === 0 && body.buffer instanceof ArrayBuffer && body.byteLength === body.buffer.byteLength;
    const send = (buffer: ArrayBuffer, offset: number) =>
      worker.postMessage({ id: job.id, buffer, offset, length: body.byteLength, chunk: job.chunkItems }, [buffer]);
    try {
      if (!ownsWhole) throw new Error('shared memory');
      send(body.buffer as ArrayBuffer, 0);
    } catch {
      const copy = new Uint8Array(body.byteLength);
      copy.set(body);
      send(copy.buffer, 0);
    }
    // The job no longer needs the bytes (they may be detached now).
    job.body = Buffer.alloc(0);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: FromWorker) => {
      if (this.worker === worker) this.received(message);
    });
    const lost = (err?: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const job = this.current;
      this.current = undefined;
      const why = err instanceof Error ? err.message : `exit code ${String(err)}`;
      if (job) this.settle(job, new CollectError('parse', `the JSON parser thread stopped: ${why}`));
      this.pump();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    // An idle worker must not keep the process alive; pump() refs it while it has a parse.
    // After the listeners: adding one refs the worker's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private stopWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) void worker.terminate().catch(() => undefined);
  }

  private received(message: FromWorker): void {
    const job = this.current;
    if (!job || job.id !== message.id) return;
    if ('syntaxError' in message) return this.finish(job, new JsonSyntaxError(message.syntaxError));
    if ('failure' in message) return this.finish(job, new CollectError('parse', `the JSON parser could not hand the answer over: ${message.failure}`));
    if ('skeleton' in message) {
      if (message.paths.length === 0) return this.finish(job, undefined, message.skeleton);
      job.root = { value: message.skeleton };
      job.paths = message.paths;
      // CHUNKS_IN_FLIGHT asked for at first, then one per chunk received: the worker prepares the
      // next ones while this thread takes one in, and never more than that many wait on the port.
      for (let i = 0; i < CHUNKS_IN_FLIGHT; i++) this.askForChunk(job);
    } else {
      if (job.targetPart !== message.part) {
        job.targetPart = message.part;
        job.target = walk(job.root as { value: unknown }, (job.paths as PathKey[][])[message.part]);
      }
      const target = job.target as unknown[];
      for (const item of JSON.parse(message.text) as unknown[]) target.push(item);
      if (message.last) return this.finish(job, undefined, (job.root as { value: unknown }).value);
    }
    // Ask for another chunk after this turn of the event loop: timers and sockets go first.
    setImmediate(() => this.askForChunk(job));
  }

  private askForChunk(job: Job): void {
    if (this.current === job && this.worker) this.worker.postMessage({ more: job.id });
  }

  private finish(job: Job, err: Error | undefined, value?: unknown): void {
    this.current = undefined;
    this.worker?.unref();
    if (err) this.settle(job, err);
    else this.settle(job, undefined, value);
    this.pump();
  }

  private settle(job: Job, err: Error | undefined, value?: unknown): void {
    job.signal.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err);
    else job.resolve(value);
  }
}

function walk(root: { value: unknown }, path: PathKey[]): unknown[] {
  let node: unknown = root.value;
  for (const key of path) node = (node as Record<PathKey, unknown>)[key];
  return node as unknown[];
}

function deadlineExceeded(): CollectError {
  return new CollectError('timeout', 'deadline exceeded while the answer was parsed');
}

const shared = new JsonWorker();

/**
 * Parses `body` (UTF-8 JSON) on the shared worker. Rejects with JsonSyntaxError for invalid JSON,
 * with a timeout CollectError as soon as `signal` aborts, with a parse CollectError if the worker dies.
 * The Buffer's memory may be transferred: do not read `body` afterwards.
 */
export function parseJsonOffThread(body: Buffer, signal: AbortSignal, chunkItems = CHUNK_ITEMS): Promise<unknown> {
  return shared.parse(body, signal, Math.max(1, Math.floor(chunkItems)));
}

/** Ends the worker (tests); parses in progress fail, the next one starts a new worker. */
export function closeJsonWorker(): Promise<void> {
  return shared.close();
}

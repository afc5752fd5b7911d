// Preloaded into the exporter process by the benchmark harness (node --require), so that every
// figure is the exporter's alone and not the simulators' or the harness'. Over IPC it answers:
//
//   sample  this process' CPU time, RSS, peak RSS and event-loop delay (and how much of the longest
//           delay the process spent on a core); and, for the scrapes since
//           the last sample, what undici's and node:http's diagnostics channels saw at the
//           exporter's sockets: the time from the first scrape request's arrival to the last
//           answer's end, the union of the intervals in which an upstream request was written and
//           its answer's head not yet read (the upstream part of the scrape), and the answer bytes
//           read from upstream.
//   record  the answer bodies of the scrapes that follow, until the next `record` with no file,
//           are appended to `file` (length-prefixed), as the bytes undici handed to the exporter.
//   advance moves the exporter's wall clock (Date.now) forward by `ms`, between scrapes.
//   floor   reads the recorded bodies back one at a time and returns the CPU time that decoding
//           them from UTF-8 and JSON.parse took here, in this process: the least any exporter
//           must spend on those answers. Only one body is held at a time, so peak RSS is not moved.
//
// Recording writes to a file while a scrape runs; the harness records in a scrape it does not
// measure and checks the measured scrapes received the same number of bytes.
const dc = require('node:diagnostics_channel');
const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');

// The exporter's wall clock, which the harness may move forward (`advance`) so that what falls due
// after an hour (AhsayCBS' inventory reads) falls due within a run. Replaced before the exporter
// loads, so that the references to Date.now it keeps are this one; timers are not moved.
const realNow = Date.now;
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

// A timer every TICK_MS: how late it fires is the event loop's delay, and the process' CPU time in
// that interval says how much of the delay the exporter held the loop itself. On a shared machine a
// late timer may only mean the process waited for a core (little CPU in a long interval); the
// least of the two is the part the exporter controls. CPU time counts every thread of the process
// (V8's GC helpers and the JSON worker too), so the least of the two is an upper bound on the
// loop's own share.
const TICK_MS = 10;
let heldMs = 0;
// BENCH_TRACE_STALLS=<ms>: every turn of the event loop held longer than that is written to stderr
// with its end on the monotonic clock V8's CPU profiles use (µs), to find what ran in a profile.
const stallMs = Number(process.env.BENCH_TRACE_STALLS);
{
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const lateMs = now - last - TICK_MS;
    const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    heldMs = Math.max(heldMs, Math.min(lateMs, cpuMs));
    if (stallMs > 0 && lateMs > stallMs) process.stderr.write(`probe: event loop held ${lateMs.toFixed(0)} ms (${cpuMs.toFixed(0)} ms of CPU), ended at ${process.hrtime.bigint() / 1000n} µs\n`);
    last = now;
    lastCpu = cpu;
  }, TICK_MS).unref();
}

/** The harness' own requests (readiness) are not scrapes. */
const isScrape = (url) => typeof url === 'string' && !url.startsWith('/-/');

let window = freshWindow();
function freshWindow() {
  return { firstStart: Infinity, lastFinish: -Infinity, scrapes: 0, intervals: [], bytes: 0, requests: 0, statuses: {} };
}
/** undici request -> when its head was written on the socket. */
const written = new WeakMap();
/** Where bodies are being recorded (a file descriptor), and each request's chunks until its end. */
let recordFd;
const recording = new WeakMap();

dc.subscribe('http.server.request.start', ({ request }) => {
  if (!isScrape(request.url)) return;
  window.firstStart = Math.min(window.firstStart, performance.now());
  window.scrapes++;
});
dc.subscribe('http.server.response.finish', ({ request }) => {
  if (isScrape(request.url)) window.lastFinish = Math.max(window.lastFinish, performance.now());
});
dc.subscribe('undici:client:sendHeaders', ({ request }) => {
  written.set(request, performance.now());
  window.requests++;
  if (recordFd !== undefined) recording.set(request, []);
});
dc.subscribe('undici:request:headers', ({ request, response }) => {
  window.statuses[response.statusCode] = (window.statuses[response.statusCode] ?? 0) + 1;
  const at = written.get(request);
  if (at !== undefined) window.intervals.push(at, performance.now());
});
dc.subscribe('undici:request:bodyChunkReceived', ({ request, chunk }) => {
  window.bytes += chunk.length;
  recording.get(request)?.push(chunk);
});
const endOfBody = ({ request }) => {
  const chunks = recording.get(request);
  if (!chunks) return;
  recording.delete(request);
  if (recordFd === undefined) return;
  const body = Buffer.concat(chunks);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  fs.writeSync(recordFd, length);
  fs.writeSync(recordFd, body);
};
dc.subscribe('undici:request:trailers', endOfBody);
dc.subscribe('undici:request:error', ({ request }) => recording.delete(request));

/** Length of the union of [start, end] intervals (flat pairs), clipped to [from, to]. */
function unionMs(flat, from, to) {
  const pairs = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([Math.max(flat[i], from), Math.min(flat[i + 1], to)]);
  pairs.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of pairs) {
    if (e <= s) continue;
    if (s >= end) {
      total += e - s;
      end = e;
    } else if (e > end) {
      total += e - end;
      end = e;
    }
  }
  return total;
}

const cpuMicros = () => {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
};

/** CPU time (µs) of decoding and parsing every body recorded in `file`, and how many there were. */
function floor(file) {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  let micros = 0;
  let bodies = 0;
  let bytes = 0;
  let notJson = 0;
  try {
    for (;;) {
      if (fs.readSync(fd, head, 0, 4, null) < 4) break;
      const body = Buffer.allocUnsafe(head.readUInt32LE(0));
      if (fs.readSync(fd, body, 0, body.length, null) < body.length) break;
      const before = cpuMicros();
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        notJson++;
      }
      micros += cpuMicros() - before;
      bodies++;
      bytes += body.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { micros, bodies, bytes, notJson };
}

process.on('message', (message) => {
  if (!message || typeof message.bench !== 'string') return;
  if (message.bench === 'sample') {
    // With --expose-gc, asked to: what stays after a full collection, not what awaits one.
    if (message.gc && typeof global.gc === 'function') global.gc();
    const w = window;
    const wallMs = w.lastFinish - w.firstStart;
    const memory = process.memoryUsage();
    process.send({
      bench: 'sample',
      id: message.id,
      cpuMicros: cpuMicros(),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      heapSpaces: require('node:v8').getHeapSpaceStatistics().map((space) => ({ name: space.space_name, size: space.space_size, used: space.space_used_size })),
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      maxDelayMs: delay.max / 1e6,
      maxHeldMs: heldMs,
      scrapes: w.scrapes,
      wallMs: w.scrapes > 0 ? wallMs : NaN,
      upstreamMs: w.scrapes > 0 ? unionMs(w.intervals, w.firstStart, w.lastFinish) : NaN,
      upstreamBytes: w.bytes,
      upstreamRequests: w.requests,
      upstreamStatuses: w.statuses,
    });
    if (message.reset) {
      delay.reset();
      heldMs = 0;
      window = freshWindow();
    }
  } else if (message.bench === 'record') {
    if (recordFd !== undefined) fs.closeSync(recordFd);
    recordFd = message.file ? fs.openSync(message.file, 'w') : undefined;
    process.send({ bench: 'record', id: message.id });
  } else if (message.bench === 'advance') {
    clockOffsetMs += message.ms;
    process.send({ bench: 'advance', id: message.id, offsetMs: clockOffsetMs });
  } else if (message.bench === 'heapsnapshot') {
    process.send({ bench: 'heapsnapshot', id: message.id, file: require('node:v8').writeHeapSnapshot(message.file) });
  } else if (message.bench === 'floor') {
    process.send({ bench: 'floor', id: message.id, ...floor(message.file) });
  }
});

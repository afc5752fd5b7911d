#!/usr/bin/env node
// What a hostile product (or a hostile client) can do to the built exporter (dist/main.js).
//
//   1. ids       BlueXP answers 40 finished jobs per collection, each with a NEW 1 MiB id and a
//                ~1 MiB resource (volume) id; 100 scrapes. Heap and RSS must stay flat, the process
//                must live, label values must stay at most 256 characters.
//   2. many      BlueXP answers 100,000 finished backups, each on its own volume: series per /probe,
//                bytes per /probe, per-resource series (at most max_resources = 10,000), the omitted
//                count, peak RSS, scrape time.
//   3. logs      BlueXP answers 200,000 jobs with an unusable `time` and 100 jobs whose status (from
//                GET /job/{id}) is a fresh 1 MiB word: log lines and bytes per scrape over 3 scrapes.
//   4. bcrypt    basic auth (bcrypt cost 10): 30 clients guess passwords for 10 s while an
//                authenticated client polls /-/healthy every 50 ms.
//
//   npm run soak:hostile
//   npm run build && node bench/hostile.mjs [--only=ids,many,logs,bcrypt] [--scrapes=100] [--log-scrapes=3] [--guess-seconds=10]
//
// Every product is a child process on 127.0.0.1 port 0 (its CPU is not on the exporter's loop) that
// sends its port back over IPC; the exporter is another child, its stdout log counted line by line.
// Every loop and wait is bounded; every child is killed on every way out.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { children, cleanup, freePort, get, tempDirs, withTimeout } from './client.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const MiB = 2 ** 20;
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, ...v] = a.slice(2).split('=');
      return [k, v.length ? v.join('=') : 'true'];
    }),
);

const ACCOUNT = 'account-hostile';
const API = `/account/${ACCOUNT}/providers/cloudmanager_cbs/api/v1`;
/** The whole run: anything still going after this is killed. */
const RUN_LIMIT_MS = 20 * 60_000;

// ---------------------------------------------------------------------------------------------
// The products (child processes)

function serveProduct(scenario) {
  const now = Date.now();
  const json = (value) => Buffer.from(JSON.stringify(value));
  const token = json({ access_token: 't', expires_in: 86400 });
  const empty = json({ job: [] });
  const requests = {};
  let generation = 0;
  /** A string of exactly `length` characters that starts with `prefix`. */
  const big = (prefix, length, fill) => prefix + fill.repeat(Math.max(0, length - prefix.length));

  let jobList; // () => Buffer
  let restoreList = () => empty;
  let detail; // (id) => Buffer | undefined

  if (scenario === 'ids') {
    // 40 finished jobs per collection, every one new: 20 backups in GET /job and 20 restores in
    // GET /restore/status (40 jobs of 2 MiB in one answer would pass the exporter's 64 MiB cap on
    // one answer and test nothing but the cap).
    jobList = () => {
      const g = ++generation;
      const parts = [];
      for (let i = 0; i < 20; i++) {
        const id = big(`job-${g}-${i}-`, MiB, 'i');
        const volume = big(`vol-${g}-${i}-`, MiB, 'v');
        parts.push(
          `{"id":"${id}","type":"backup","status":"COMPLETED","time":${now - i * 60_000},"working-environment-id":"we1","data":{"multi-volume-backup":{"volume":[{"id":"${volume}","status":"SUCCESS"}]}}}`,
        );
      }
      return Buffer.from(`{"job":[${parts.join(',')}]}`);
    };
    let restoreGeneration = 0;
    restoreList = () => {
      const g = ++restoreGeneration;
      const parts = [];
      for (let i = 0; i < 20; i++) {
        const id = big(`restore-${g}-${i}-`, MiB, 'r');
        const volume = big(`rvol-${g}-${i}-`, MiB, 'w');
        parts.push(
          `{"id":"${id}","status":"COMPLETED","time":${now - i * 60_000},"data":{"restore":{"source":{"working-environment-id":"we1","volume-id":"${volume}"}}}}`,
        );
      }
      return Buffer.from(`{"job":[${parts.join(',')}]}`);
    };
  } else if (scenario === 'many') {
    const parts = new Array(100_000);
    for (let i = 0; i < parts.length; i++) {
      parts[i] = `{"id":"job-${i}","type":"backup","status":"COMPLETED","time":${now - i * 1000},"working-environment-id":"we1","data":{"multi-volume-backup":{"volume":[{"id":"vol-${i}","status":"SUCCESS"}]}}}`;
    }
    const body = Buffer.from(`{"job":[${parts.join(',')}]}`);
    jobList = () => body;
  } else if (scenario === 'logs') {
    // 200,000 jobs whose time is a word (they carry their data: no detail requests), and 100 recent
    // jobs without data, whose GET /job/{id} answers a fresh 1 MiB status word every time.
    const parts = [];
    for (let i = 0; i < 200_000; i++) {
      parts.push(
        `{"id":"late-${i}","type":"backup","status":"COMPLETED","time":"yesterday","working-environment-id":"we1","data":{"multi-volume-backup":{"volume":[{"id":"vol-${i % 100}","status":"SUCCESS"}]}}}`,
      );
    }
    for (let i = 0; i < 100; i++) parts.push(`{"id":"word-${i}","type":"backup","time":${now - i * 60_000},"working-environment-id":"we2"}`);
    const body = Buffer.from(`{"job":[${parts.join(',')}]}`);
    jobList = () => body;
    let words = 0;
    detail = (id) => {
      const m = /^word-(\d+)$/.exec(id);
      if (!m) return undefined;
      const word = big(`WORD${++words}-`, MiB, 'W');
      return Buffer.from(
        `{"job":[{"id":"${id}","type":"backup","status":"${word}","time":${now - Number(m[1]) * 60_000},"working-environment-id":"we2"}]}`,
      );
    };
  } else {
    jobList = () => empty;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.length < 64 && chunks.push(c));
    req.on('end', () => {
      const path = decodeURIComponent((req.url ?? '').split('?')[0]);
      let body;
      if (req.method === 'POST' && path === '/oauth/token') body = token;
      else if (path === `${API}/job`) body = jobList();
      else if (path === `${API}/restore/status`) body = restoreList();
      else if (path.startsWith(`${API}/job/`) && detail) body = detail(path.slice(`${API}/job/`.length));
      const key = path.startsWith(`${API}/job/`) ? 'job/{id}' : path.replace(API, '');
      requests[key] = (requests[key] ?? 0) + 1;
      if (!body) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (m) => {
    if (m?.requests) process.send({ requests });
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Children, bounds, HTTP


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startProduct(scenario) {
  const child = fork(fileURLToPath(import.meta.url), [`--serve=${scenario}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const { port } = await withTimeout(
    new Promise((resolveInfo, reject) => {
      child.once('message', resolveInfo);
      child.once('exit', (code) => reject(new Error(`product ${scenario} exited (${code})`)));
    }),
    60_000,
    `product ${scenario} start`,
  );
  const requests = () =>
    withTimeout(
      new Promise((resolveRequests) => {
        const onMessage = (m) => {
          if (m?.requests) {
            child.off('message', onMessage);
            resolveRequests(m.requests);
          }
        };
        child.on('message', onMessage);
        child.send({ requests: true });
      }),
      5_000,
      'product request count',
    );
  return { url: `http://127.0.0.1:${port}`, requests, stop: () => stopChild(child) };
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return withTimeout(
    new Promise((resolveStop) => {
      child.once('exit', resolveStop);
      child.kill('SIGTERM');
    }),
    5_000,
    'child stop',
  ).catch(() => child.kill('SIGKILL'));
}

/** Counts what a stream writes: lines, bytes, the longest line, and the `msg` of each JSON line. */
function lineCounter(stream) {
  const counts = { lines: 0, bytes: 0, longest: 0, messages: new Map() };
  let current = 0;
  let pending = [];
  const finishLine = () => {
    counts.lines++;
    counts.longest = Math.max(counts.longest, current);
    let msg = '(line not read: over 64 KB)';
    if (current <= 64 * 1024) {
      const text = Buffer.concat(pending).toString('utf8');
      try {
        const parsed = JSON.parse(text);
        msg = `${parsed.level >= 50 ? 'error' : parsed.level >= 40 ? 'warn' : 'info'}: ${parsed.msg}`;
      } catch {
        msg = `(not JSON) ${text.slice(0, 80)}`;
      }
    }
    counts.messages.set(msg, (counts.messages.get(msg) ?? 0) + 1);
    current = 0;
    pending = [];
  };
  stream.on('data', (chunk) => {
    counts.bytes += chunk.length;
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      current += nl - from;
      if (current <= 64 * 1024) pending.push(chunk.subarray(from, nl));
      finishLine();
      from = nl + 1;
    }
    current += chunk.length - from;
    if (current <= 64 * 1024 && from < chunk.length) pending.push(chunk.subarray(from));
  });
  return {
    counts,
    snapshot: () => ({ lines: counts.lines, bytes: counts.bytes, longest: counts.longest, messages: new Map(counts.messages) }),
  };
}

function diffLog(before, after) {
  const messages = [];
  for (const [msg, n] of after.messages) {
    const d = n - (before.messages.get(msg) ?? 0);
    if (d > 0) messages.push(`${d}× ${msg}`);
  }
  return { lines: after.lines - before.lines, bytes: after.bytes - before.bytes, messages };
}

async function startExporter(name, { targets = '', webConfig } = {}) {
  const dir = mkdtempSync(join(os.tmpdir(), `backup-exporter-hostile-${name}-`));
  tempDirs.add(dir);
  const config = join(dir, 'exporter.yml');
  writeFileSync(config, `global:\n  timeout: 30s\n  min_interval: 0s\ntargets:${targets ? `\n${targets}` : ' []\n'}`);
  const flags = [`--config.file=${config}`];
  if (webConfig) {
    const file = join(dir, 'web.yml');
    writeFileSync(file, webConfig);
    flags.push(`--web.config.file=${file}`);
  }
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), ...flags, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let exit;
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    children.delete(child);
  });
  const stdout = lineCounter(child.stdout);
  const stderrTail = [];
  child.stderr.on('data', (c) => {
    stderrTail.push(c.toString('utf8'));
    while (stderrTail.length > 20) stderrTail.shift();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i >= 150) throw new Error(`exporter ${name} not ready within 15 s`);
    if (exit) throw new Error(`exporter ${name} exited (${JSON.stringify(exit)}): ${stderrTail.join('').slice(-2000)}`);
    const ready = await get(`${url}/-/ready`, { timeoutMs: 1000, headers: { authorization: `Basic ${Buffer.from('prometheus:hostile').toString('base64')}` } }).catch(
      () => undefined,
    );
    if (ready && ready.status !== 0 && ready.status !== 503) break;
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    log: stdout,
    exited: () => exit,
    stderr: () => stderrTail.join(''),
    stop: () => stopChild(child),
  };
}

function bluexpTarget(name, url) {
  return [
    `  - name: ${name}`,
    '    provider: bluexp',
    `    url: ${url}`,
    '    bluexp:',
    `      account_id: ${ACCOUNT}`,
    '      agent_id: hostileconnector',
    `      token_url: ${url}/oauth/token`,
    '      refresh_token: hostile-refresh-token',
    '',
  ].join('\n');
}

/** RSS and heap used of the exporter, from its own metrics. */
async function memory(exporter) {
  const { body } = await get(`${exporter.url}/metrics?targets=none`, { timeoutMs: 30_000 });
  const value = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(body)?.[1] ?? NaN);
  return { rss: value('process_resident_memory_bytes'), heap: value('nodejs_heap_size_used_bytes') };
}

/** Peak RSS of a process since it started (Linux VmHWM), bytes; NaN elsewhere. */
function peakRss(pid) {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Series lines, the longest label value (characters) and the value of each named series. */
function readExposition(text) {
  let series = 0;
  let longestLabel = 0;
  const byName = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    series++;
    const brace = line.indexOf('{');
    const name = brace === -1 ? line.split(' ')[0] : line.slice(0, brace);
    byName.set(name, (byName.get(name) ?? 0) + 1);
    for (const m of line.matchAll(/="((?:[^"\\]|\\.)*)"/g)) longestLabel = Math.max(longestLabel, m[1].length);
  }
  return { series, longestLabel, byName };
}

const mb = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(1)} MB` : 'n/a');
const rows = [];
const row = (scenario, figure, value, goal, met) => rows.push({ scenario, figure, value, goal, met: met === undefined ? '' : met ? 'yes' : '**NO**' });
const up = (body) => /^backup_up\{[^}]*\} (\S+)/m.exec(body)?.[1] ?? '?';

// ---------------------------------------------------------------------------------------------
// 1. 1 MiB ids

async function scenarioIds() {
  const scrapes = Math.max(1, Math.min(1000, Number(args.scrapes ?? 100)));
  const product = await startProduct('ids');
  const exporter = await startExporter('ids', { targets: bluexpTarget('ids', product.url) });
  const samples = new Map();
  const heaps = [];
  let firstExposition;
  let failed = 0;
  let down = 0;
  let good = 0;
  let diedAt;
  const baseline = await memory(exporter);
  const logBefore = exporter.log.snapshot();
  const started = performance.now();
  try {
    for (let i = 1; i <= scrapes; i++) {
      let res;
      try {
        res = await get(`${exporter.url}/probe?target=ids`, { timeoutMs: 60_000 });
      } catch (err) {
        if (exporter.exited()) {
          diedAt = i;
          break;
        }
        failed++;
        continue;
      }
      if (res.status !== 200) failed++;
      else if (up(res.body) !== '1') down++;
      else good++;
      if (i === 1) firstExposition = res;
      const m = await memory(exporter).catch(() => undefined);
      if (!m) {
        if (exporter.exited()) {
          diedAt = i;
          break;
        }
        continue;
      }
      heaps.push(m.heap);
      if ([1, 10, 50, 100].includes(i) || i === scrapes) samples.set(i, m);
      if (i % 10 === 0) process.stderr.write(`  ids: ${i} scrapes, heap ${mb(m.heap)}, RSS ${mb(m.rss)}\n`);
    }
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const requests = await product.requests().catch(() => ({}));
    const alive = !exporter.exited();
    const peak = peakRss(exporter.pid);
    await exporter.stop();
    await product.stop();
    const exp = firstExposition ? readExposition(firstExposition.body) : undefined;
    const list = [...samples.entries()];
    const first = list[0]?.[1];
    const last = list.at(-1)?.[1];
    row('1 MiB ids', 'heap used / RSS before scrape 1', `${mb(baseline.heap)} / ${mb(baseline.rss)}`, '');
    for (const [i, m] of list) row('1 MiB ids', `heap used / RSS after scrape ${i}`, `${mb(m.heap)} / ${mb(m.rss)}`, 'flat');
    const heapGrowth = first && last ? last.heap - first.heap : NaN;
    row('1 MiB ids', `heap growth scrape ${list[0]?.[0]}→${list.at(-1)?.[0]} (min / max heap used after any scrape)`, `${mb(heapGrowth)} (${mb(Math.min(...heaps))} / ${mb(Math.max(...heaps))})`, '< 40 MB in all (was 40 MB per scrape)', heapGrowth < 40e6);
    row('1 MiB ids', 'RSS peak (VmHWM)', mb(peak), 'bounded', undefined);
    row(
      '1 MiB ids',
      'exporter alive / scrapes answered 200 with backup_up 1',
      `${alive && !diedAt ? 'alive' : `DIED${diedAt ? ` at scrape ${diedAt}` : ''}`}; ${good}/${scrapes} in ${seconds.toFixed(0)} s`,
      `alive, ${scrapes}/${scrapes}`,
      alive && !diedAt && good === scrapes,
    );
    if (exp) {
      row('1 MiB ids', 'one /probe: bytes, series', `${firstExposition.bytes} B, ${exp.series} series`, 'small (not MiB)', firstExposition.bytes < 1e6);
      row('1 MiB ids', 'longest label value (characters)', String(exp.longestLabel), '≤ 256', exp.longestLabel <= 256);
    }
    const log = diffLog(logBefore, exporter.log.snapshot());
    row('1 MiB ids', 'log lines, bytes, longest line over all scrapes', `${log.lines}, ${log.bytes} B, ${exporter.log.counts.longest} B`, 'a handful, lines < a few KB', exporter.log.counts.longest < 8192);
    row('1 MiB ids', 'product requests', Object.entries(requests).map(([k, n]) => `${k} ${n}`).join(', '), '', undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. 100,000 resources

async function scenarioMany() {
  const product = await startProduct('many');
  const exporter = await startExporter('many', { targets: bluexpTarget('many', product.url) });
  const runs = [];
  try {
    for (let i = 0; i < 3; i++) {
      let peakPolled = 0;
      let stop = false;
      const poller = (async () => {
        for (let n = 0; n < 1200 && !stop; n++) {
          const m = await memory(exporter).catch(() => undefined);
          if (m) peakPolled = Math.max(peakPolled, m.rss);
          await sleep(100);
        }
      })();
      const res = await get(`${exporter.url}/probe?target=many`, { timeoutMs: 120_000 }).catch((err) => ({ status: 0, body: String(err), bytes: 0, ms: NaN }));
      stop = true;
      await withTimeout(poller, 35_000, 'memory poller');
      runs.push({ res, exp: readExposition(res.body), peakPolled });
      process.stderr.write(`  many: scrape ${i + 1}: HTTP ${res.status} in ${res.ms.toFixed(0)} ms, ${res.bytes} B\n`);
    }
  } finally {
    const peak = peakRss(exporter.pid);
    await exporter.stop();
    await product.stop();
    const last = runs.at(-1);
    if (last) {
      const { res, exp } = last;
      const perResource = exp.byName.get('backup_last_success_timestamp_seconds') ?? 0;
      const omitted = /^backup_resource_series_omitted\{[^}]*metric="backup_last_success_timestamp_seconds"[^}]*\} (\S+)/m.exec(res.body)?.[1] ?? 'absent';
      row('100,000 resources', '/probe HTTP status, backup_up', `${res.status}, ${up(res.body)}`, '200, 1', res.status === 200 && up(res.body) === '1');
      row('100,000 resources', 'series per /probe (lines not starting with #)', String(exp.series), 'bounded (≈ 3 × 10,000 + per-job)', exp.series < 50_000);
      row('100,000 resources', 'bytes per /probe', `${res.bytes} B (${mb(res.bytes)})`, 'bounded', undefined);
      row('100,000 resources', 'backup_last_success_timestamp_seconds series', String(perResource), '≤ 10,000 (max_resources)', perResource <= 10_000);
      row('100,000 resources', 'backup_resource_series_omitted{metric="backup_last_success_timestamp_seconds"}', omitted, '90000', Number(omitted) === 90_000);
      row('100,000 resources', 'RSS peak (VmHWM; polled every 100 ms)', `${mb(peak)} (${mb(Math.max(...runs.map((r) => r.peakPolled)))})`, 'bounded', undefined);
      row('100,000 resources', 'scrape time, 3 scrapes', runs.map((r) => `${r.res.ms.toFixed(0)} ms`).join(', '), '< timeout (30 s)', runs.every((r) => r.res.ms < 30_000));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Log flood

async function scenarioLogs() {
  const product = await startProduct('logs');
  const exporter = await startExporter('logs', { targets: bluexpTarget('logs', product.url) });
  const perScrape = [];
  let startupLines = 0;
  try {
    await sleep(300);
    startupLines = exporter.log.counts.lines;
    const logScrapes = Math.max(1, Math.min(500, Number(args['log-scrapes'] ?? 3)));
    for (let i = 0; i < logScrapes; i++) {
      const before = exporter.log.snapshot();
      const res = await get(`${exporter.url}/probe?target=logs`, { timeoutMs: 120_000 }).catch((err) => ({ status: 0, body: String(err), bytes: 0, ms: NaN }));
      await sleep(500);
      const after = exporter.log.snapshot();
      const exp = readExposition(res.body);
      perScrape.push({ res, log: diffLog(before, after), longestLabel: exp.longestLabel });
      process.stderr.write(`  logs: scrape ${i + 1}: HTTP ${res.status} in ${res.ms.toFixed(0)} ms; ${after.lines - before.lines} log lines\n`);
    }
  } finally {
    const requests = await product.requests().catch(() => ({}));
    const longest = exporter.log.counts.longest;
    await exporter.stop();
    await product.stop();
    perScrape.forEach(({ res, log, longestLabel }, i) => {
      if (perScrape.length > 5 && i >= 3 && i < perScrape.length - 1) return;
      row('log flood', `scrape ${i + 1}: log lines, bytes (HTTP, backup_up, ${res.ms.toFixed(0)} ms)`, `${log.lines} lines, ${log.bytes} B (${res.status}, ${up(res.body)})`, 'a handful (≤ 50 lines, < 50 KB)', log.lines <= 50 && log.bytes < 50_000);
      row('log flood', `scrape ${i + 1}: what was logged`, log.messages.join('; ') || '-', '', undefined);
      row('log flood', `scrape ${i + 1}: longest label value`, String(longestLabel), '≤ 256', longestLabel <= 256);
    });
    if (perScrape.length > 5) {
      const lines = perScrape.map((p) => p.log.lines);
      row('log flood', `log lines per scrape over all ${perScrape.length} scrapes: min / max / total`, `${Math.min(...lines)} / ${Math.max(...lines)} / ${lines.reduce((a, b) => a + b, 0)}`, '', undefined);
    }
    row('log flood', 'longest log line of the run (bytes)', String(longest), '< a few KB', longest < 8192);
    row('log flood', 'startup log lines; product requests', `${startupLines}; ${Object.entries(requests).map(([k, n]) => `${k} ${n}`).join(', ')}`, '', undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. bcrypt flood

async function scenarioBcrypt() {
  const bcrypt = require('bcryptjs');
  const hash = bcrypt.hashSync('hostile', 10);
  const exporter = await startExporter('bcrypt', { webConfig: `basic_auth_users:\n  prometheus: '${hash}'\n` });
  const seconds = Math.max(1, Math.min(60, Number(args['guess-seconds'] ?? 10)));
  const good = { authorization: `Basic ${Buffer.from('prometheus:hostile').toString('base64')}` };
  const statuses = {};
  const latencies = [];
  let healthyFailures = 0;
  let guesses = 0;
  try {
    const first = await get(`${exporter.url}/-/healthy`, { headers: good, timeoutMs: 10_000 });
    if (first.status !== 200) throw new Error(`authenticated request answered ${first.status}`);
    const until = performance.now() + seconds * 1000;
    const guessAgent = new http.Agent({ keepAlive: true, maxSockets: 30 });
    const guesser = async (n) => {
      for (let k = 0; performance.now() < until && k < 100_000; k++) {
        const headers = { authorization: `Basic ${Buffer.from(`prometheus:wrong-${n}-${k}`).toString('base64')}` };
        const res = await get(`${exporter.url}/-/healthy`, { headers, agent: guessAgent, timeoutMs: 15_000 }).catch(() => ({ status: 'error' }));
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        guesses++;
      }
    };
    const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const poller = async () => {
      await sleep(200); // the flood is under way
      for (let k = 0; performance.now() < until && k < 10_000; k++) {
        const at = performance.now();
        const res = await get(`${exporter.url}/-/healthy`, { headers: good, agent: healthAgent, timeoutMs: 15_000 }).catch(() => ({ status: 0 }));
        const ms = performance.now() - at;
        if (res.status !== 200) healthyFailures++;
        latencies.push(ms);
        await sleep(Math.max(0, 50 - ms));
      }
    };
    await withTimeout(Promise.all([...Array.from({ length: 30 }, (_, n) => guesser(n)), poller()]), (seconds + 30) * 1000, 'bcrypt flood');
    guessAgent.destroy();
    healthAgent.destroy();
  } finally {
    await exporter.stop();
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? NaN;
    const max = sorted.at(-1) ?? NaN;
    row('bcrypt flood', `authenticated /-/healthy every 50 ms: p50 / max (${latencies.length} polls, ${healthyFailures} not 200)`, `${p50.toFixed(1)} ms / ${max.toFixed(1)} ms`, 'under 200 ms', max < 200 && healthyFailures === 0);
    row(
      'bcrypt flood',
      `30 guessing clients, ${seconds} s: answers`,
      `${guesses} guesses: ${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(', ')}`,
      '401 or 503 only',
      Object.keys(statuses).every((s) => s === '401' || s === '503'),
    );
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const scenarios = { ids: scenarioIds, many: scenarioMany, logs: scenarioLogs, bcrypt: scenarioBcrypt };
  const only = (args.only ?? 'ids,many,logs,bcrypt').split(',').filter((s) => s in scenarios);
  console.log(`backup-exporter hostile-product measurements: ${join(ROOT, 'dist', 'main.js')}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
  for (const name of only) {
    const started = performance.now();
    process.stderr.write(`scenario ${name}\n`);
    try {
      await scenarios[name]();
    } catch (err) {
      row(name, 'scenario failed', String(err?.message ?? err).slice(0, 300).replace(/\|/g, '\\|'), 'completes', false);
      cleanup();
    }
    process.stderr.write(`scenario ${name}: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  }
  const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  console.log('\n| scenario | figure | value | goal | met |\n|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${cell(r.scenario)} | ${cell(r.figure)} | ${cell(r.value)} | ${cell(r.goal)} | ${r.met} |`);
  const missed = rows.filter((r) => r.met === '**NO**').length;
  console.log(`\n${missed === 0 ? 'All goals met.' : `${missed} goal(s) NOT met.`}`);
  console.log(`command: npm run soak:hostile   (or: npm run build && node bench/hostile.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''})`);
  cleanup();
  if (missed) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------
// Entry: the product (--serve=<scenario>) or the bench. Last, after every declaration above.

if (args.serve) serveProduct(args.serve);
else {
  const watchdog = setTimeout(() => {
    console.error(`hostile: still running after ${RUN_LIMIT_MS / 60_000} min; giving up`);
    cleanup();
    process.exit(2);
  }, RUN_LIMIT_MS);
  watchdog.unref();
  main().catch((err) => {
    console.error(err);
    cleanup();
    process.exitCode = 1;
  });
}

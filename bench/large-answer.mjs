#!/usr/bin/env node
// One very large Ops Manager answer: a page of 1,000,000 restore jobs (about 46 MB, under the 64 MiB
// body cap) for every pageNum. Measures how the built exporter (dist/main.js) copes: the answer time
// of a /probe with a 2 s scrape timeout, its backup_up and failure reason, and the latency of
// /-/healthy polled every 20 ms meanwhile (a long blocking step on the exporter's event loop shows
// up there).
//
//   npm run build && node bench/large-answer.mjs [--runs=3] [--jobs=1000000] [--scrape-timeout=2] [--dist=dist] [--label=after]
//
// --dist runs another build (e.g. of the previous code) against the same product.
//
// The product is a child process (its CPU is not on the exporter's loop), the exporter another.
// Every wait is bounded; both children are killed on every way out.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { children, cleanup, freePort, get, tempDirs, withTimeout } from './client.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v] = a.slice(2).split('=');
      return [k, v ?? 'true'];
    }),
);


// ---------------------------------------------------------------------------------------------
// The product (child process): Ops Manager with one project, one cluster and a huge restore list.

function serveProduct(count) {
  const started = performance.now();
  const jobs = new Array(count);
  for (let i = 0; i < count; i++) jobs[i] = `{"id":"${(0x5e0000000000 + i).toString(16)}","statusName":"FINISHED"}`;
  const page = Buffer.from(`{"results":[${jobs.join(',')}],"totalCount":${count}}`);
  jobs.length = 0;
  const small = (value) => Buffer.from(JSON.stringify(value));
  const groups = small({ results: [{ id: 'g1', name: 'bench' }], totalCount: 1 });
  const clusters = small({ results: [{ id: 'c1', clusterName: 'huge', typeName: 'REPLICA_SET' }], totalCount: 1 });
  // Backup configurations and open alerts: none, so the scrape is about the one huge page.
  const none = small({ results: [], totalCount: 0 });
  let pages = 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    let body;
    if (path === '/api/public/v1.0/groups') body = groups;
    else if (path === '/api/public/v1.0/groups/g1/clusters') body = clusters;
    else if (path === '/api/public/v1.0/groups/g1/backupConfigs' || path === '/api/public/v1.0/groups/g1/alerts') body = none;
    else if (path === '/api/public/v1.0/groups/g1/clusters/c1/restoreJobs') {
      body = page;
      pages++;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    // No digest challenge: the answer comes at once. res.end(buffer): the server itself never blocks.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    process.send({ port: server.address().port, bytes: page.length, jobs: count, buildMs: Math.round(performance.now() - started) });
  });
  process.on('message', (m) => {
    if (m?.pages) process.send({ pages });
  });
  // The bench went away: so does the product.
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The bench.


async function startProduct(jobs) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', `--jobs=${jobs}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const info = await withTimeout(
    new Promise((resolveInfo, reject) => {
      child.once('message', resolveInfo);
      child.once('exit', (code) => reject(new Error(`product exited (${code})`)));
    }),
    120_000,
    'product start',
  );
  const pagesServed = () =>
    withTimeout(
      new Promise((resolvePages) => {
        const onMessage = (m) => {
          if (m?.pages !== undefined) {
            child.off('message', onMessage);
            resolvePages(m.pages);
          }
        };
        child.on('message', onMessage);
        child.send({ pages: true });
      }),
      5_000,
      'product page count',
    );
  return { ...info, url: `http://127.0.0.1:${info.port}`, pagesServed };
}

async function startExporter(dist, productUrl) {
  const dir = mkdtempSync(join(os.tmpdir(), 'backup-exporter-large-answer-'));
  tempDirs.add(dir);
  const config = join(dir, 'exporter.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  timeout: 10s',
      '  min_interval: 0s',
      'targets:',
      '  - name: huge',
      '    provider: opsmanager',
      `    url: ${productUrl}`,
      '    opsmanager:',
      '      public_key: bench-public-key',
      '      private_key: bench-private-key',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(process.execPath, [join(dist, 'main.js'), `--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i >= 150) throw new Error('exporter not ready within 15 s');
    if (child.exitCode !== null) throw new Error(`exporter exited (${child.exitCode})`);
    const ready = await get(`${url}/-/ready`, { timeoutMs: 1000 }).catch(() => undefined);
    if (ready?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Collection errors of target "huge" by reason, from /metrics?targets=none. */
async function collectErrors(url) {
  const { body } = await get(`${url}/metrics?targets=none`, { timeoutMs: 10_000 });
  const errors = {};
  for (const line of body.split('\n')) {
    const m = /^backup_exporter_collect_errors_total\{([^}]*)\} (\S+)/.exec(line);
    if (!m || !/target="huge"/.test(m[1])) continue;
    const reason = /reason="([^"]*)"/.exec(m[1])?.[1] ?? '?';
    errors[reason] = Number(m[2]);
  }
  return errors;
}

/** One scrape with /-/healthy polled every 20 ms from before it until a second after it. */
async function measureOnce(exporter, scrapeTimeout) {
  const errorsBefore = await collectErrors(exporter.url);
  const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples = []; // { at, ms }
  let stop = false;
  let failures = 0;
  const poller = (async () => {
    // Bounded: stops when told, and never runs longer than 60 s.
    const until = performance.now() + 60_000;
    while (!stop && performance.now() < until) {
      const at = performance.now();
      try {
        const res = await get(`${exporter.url}/-/healthy`, { agent: healthAgent, timeoutMs: 10_000 });
        if (res.status !== 200) failures++;
      } catch {
        failures++;
      }
      const ms = performance.now() - at;
      samples.push({ at, ms });
      await new Promise((r) => setTimeout(r, Math.max(0, 20 - ms)));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  const scrapeStart = performance.now();
  const scrape = await get(`${exporter.url}/probe?target=huge`, { headers: { 'x-prometheus-scrape-timeout-seconds': String(scrapeTimeout) }, timeoutMs: 60_000 }).catch(
    (err) => ({ status: 0, body: String(err), ms: performance.now() - scrapeStart }),
  );
  const scrapeEnd = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await withTimeout(poller, 15_000, 'health poller');
  healthAgent.destroy();
  const errorsAfter = await collectErrors(exporter.url);
  const reasons = Object.entries(errorsAfter)
    .map(([reason, n]) => [reason, n - (errorsBefore[reason] ?? 0)])
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => (n > 1 ? `${reason}×${n}` : reason));
  const up = /^backup_up\{[^}]*\} (\S+)/m.exec(scrape.body)?.[1] ?? '?';
  // A poll that was in flight during the scrape counts for it (it began before the scrape ended
  // and ended after it began).
  const during = samples.filter((s) => s.at < scrapeEnd && s.at + s.ms > scrapeStart).map((s) => s.ms).sort((a, b) => a - b);
  const all = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    scrapeMs: scrape.ms,
    status: scrape.status,
    up,
    reason: reasons.join(',') || '-',
    healthCount: during.length,
    healthMax: during[during.length - 1] ?? NaN,
    healthP99: percentile(during, 99),
    afterMax: all[all.length - 1] ?? NaN,
    failures,
  };
}

async function main() {
  const runs = Math.max(1, Math.min(20, Number(args.runs ?? 3)));
  const jobs = Math.max(1, Math.min(2_000_000, Number(args.jobs ?? 1_000_000)));
  const scrapeTimeout = Math.max(1, Math.min(60, Number(args['scrape-timeout'] ?? 2)));
  const dist = resolve(ROOT, args.dist ?? 'dist');
  const label = args.label ?? (args.dist ? args.dist : 'dist');
  const product = await startProduct(jobs);
  console.log(`product: ${product.jobs} restore jobs per page, ${(product.bytes / 1e6).toFixed(1)} MB (${(product.bytes / 2 ** 20).toFixed(1)} MiB), built in ${product.buildMs} ms`);
  const exporter = await startExporter(dist, product.url);
  console.log(`exporter: ${join(dist, 'main.js')} (${label}); X-Prometheus-Scrape-Timeout-Seconds: ${scrapeTimeout}\n`);
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const row = await measureOnce(exporter, scrapeTimeout);
    rows.push(row);
    // Let downloads that the deadline ended settle before the next run.
    await new Promise((r) => setTimeout(r, 1000));
  }
  const pages = await product.pagesServed();
  const f = (n) => (Number.isFinite(n) ? n.toFixed(0).padStart(7) : '      -');
  console.log(`code   run  scrape_ms  HTTP  backup_up  reason            healthy_n  healthy_max_ms  healthy_p99_ms  max_ms(+1s after)  healthy_failures`);
  rows.forEach((r, i) => {
    console.log(
      `${label.padEnd(6).slice(0, 6)} ${String(i + 1).padStart(3)}  ${f(r.scrapeMs)}    ${String(r.status).padEnd(4)}  ${r.up.padEnd(9)}  ${r.reason.padEnd(16)}  ${String(r.healthCount).padStart(9)}  ${f(r.healthMax)}         ${f(r.healthP99)}         ${f(r.afterMax)}            ${r.failures}`,
    );
  });
  const ok = rows.every((r) => r.scrapeMs <= scrapeTimeout * 1000 && r.healthMax <= 200 && r.afterMax <= 200);
  console.log(`\nrestoreJobs pages served: ${pages}; goals (scrape within ${scrapeTimeout * 1000} ms, /-/healthy within 200 ms throughout): ${ok ? 'met' : 'NOT met'}`);
  console.log(`reproduce: npm run build && node bench/large-answer.mjs --runs=${runs} --jobs=${jobs} --scrape-timeout=${scrapeTimeout}${args.dist ? ` --dist=${args.dist}` : ''}`);
  cleanup();
}

if (args.serve) serveProduct(Number(args.jobs ?? 1_000_000));
else {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
    cleanup();
  });
}

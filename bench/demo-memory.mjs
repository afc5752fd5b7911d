#!/usr/bin/env node
// The demo's memory: the demo simulators (build/simulators/main.js, every product, on free ports)
// and the built exporter (dist/main.js, with bench/probe.cjs preloaded) with the demo configuration
// (exporter.yml, its target URLs pointed at those ports), scraped on /metrics `--scrapes` times
// (default 100) back to back. Prints the exporter's RSS after the start and along the way, its peak
// RSS (the process' high-water mark since it started), and the V8 heap and external memory at the
// end. See docs/performance.md.
//
//   npm run build && npm run build:simulators && node bench/demo-memory.mjs --scrapes=100
//   node bench/demo-memory.mjs --scrapes=40 --interval=15000   (a scrape every 15 s, as Prometheus would)
//   BENCH_NODE_OPTIONS="--max-semi-space-size=1" node bench/demo-memory.mjs   (V8 options of the exporter)
//   BENCH_NODE_OPTIONS=--expose-gc node bench/demo-memory.mjs --heap-snapshots=/tmp/snaps
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { children } from './client.mjs';
import { ROOT, startExporter } from './exporter.mjs';

const require = createRequire(import.meta.url);
const { request } = require('undici');

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const scrapes = Number(flag('scrapes') ?? 100);
/** --interval=MS: a scrape starts every MS milliseconds, as Prometheus' scrape_interval (default: back to back). */
const intervalMs = Number(flag('interval') ?? 0);
/** --heap-snapshots=DIR: a V8 heap snapshot of the exporter at every row, to see what grows. */
const snapshots = flag('heap-snapshots');
/** With BENCH_NODE_OPTIONS=--expose-gc: a full collection before each row's figures. */
const gcFirst = (process.env.BENCH_NODE_OPTIONS ?? '').includes('--expose-gc');
/** The demo's fixed ports (simulators/demo.ts), which exporter.yml's targets point at. */
const DEMO_PORTS = { opsmanager: 19101, bluexp: 19102, ahsay: 19103, cbr: 19104, atlas: 19105 };
const START_TIMEOUT_MS = 60_000;

/** Every demo simulator on a free port; resolves with product -> URL once they all listen. */
function startDemoSimulators() {
  const child = spawn(process.execPath, [join(ROOT, 'build', 'simulators', 'main.js'), ...Object.keys(DEMO_PORTS).map((p) => `--${p}=127.0.0.1:0`)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const urls = {};
    const timer = setTimeout(() => reject(new Error(`the demo simulators did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`the demo simulators exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = /^(\w+) listening on (\S+)$/.exec(line);
      if (listening) urls[listening[1]] = listening[2];
      if (line === 'ready') {
        clearTimeout(timer);
        resolve({ urls, close: () => child.kill('SIGTERM') });
      }
    });
  });
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);

const sims = await startDemoSimulators();
let config = readFileSync(join(ROOT, 'exporter.yml'), 'utf8');
for (const [product, port] of Object.entries(DEMO_PORTS)) {
  if (!sims.urls[product]) throw new Error(`the demo simulators did not start ${product}`);
  config = config.replaceAll(`http://127.0.0.1:${port}`, sims.urls[product]);
}
const exporter = await startExporter(config);
try {
  const rows = [];
  const row = async (label) => {
    const s = await exporter.sample(false, gcFirst);
    rows.push(`| ${label} | ${mb(s.rssBytes)} | ${mb(s.maxRssBytes)} | ${mb(s.heapUsedBytes)} |`);
    if (snapshots) await exporter.heapSnapshot(join(snapshots, `${label.replace(/\W+/g, '-')}.heapsnapshot`));
  };
  await row('started, not scraped');
  const marks = new Set([1, 10, 25, 50, 75, scrapes]);
  let down = 0;
  for (let i = 1; i <= scrapes; i++) {
    const started = Date.now();
    const res = await request(`${exporter.url}/metrics`);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`scrape ${i}: HTTP ${res.statusCode}`);
    down += text.split('\n').filter((l) => l.startsWith('backup_up{') && l.endsWith(' 0')).length;
    if (marks.has(i)) await row(`after ${i} scrape${i === 1 ? '' : 's'}`);
    const idleMs = started + intervalMs - Date.now();
    if (idleMs > 0 && i < scrapes) await new Promise((resolve) => setTimeout(resolve, idleMs));
  }
  const end = await exporter.sample();
  process.stdout.write(
    `| exporter | RSS MB | peak RSS MB | V8 heap used MB |\n|---|---:|---:|---:|\n${rows.join('\n')}\n\n` +
      `After ${scrapes} scrapes: RSS ${mb(end.rssBytes)} MB, peak ${mb(end.maxRssBytes)} MB; V8 heap used ${mb(end.heapUsedBytes)} of ${mb(end.heapTotalBytes)} MB, external ${mb(end.externalBytes)} MB; ` +
      `${down} target results down (should be 0).\n` +
      `V8 spaces (size / used MB): ${end.heapSpaces.map((space) => `${space.name} ${mb(space.size)} / ${mb(space.used)}`).join(', ')}.\n`,
  );
} finally {
  await exporter.stop();
  sims.close();
}
process.exit(0);

#!/usr/bin/env node
// How long a scrape of one AhsayCBS target with many backup users takes, cold (every day read)
// and warm (finished days remembered, only today read), and how many requests each makes.
//
// Starts the AhsayCBS simulator (build/simulators/) on 127.0.0.1 with N users and a fixed latency per request,
// in a child process of this script so that the simulator's own work does not take the exporter's
// CPU; runs the exporter in this process (Exporter.scrape, as /probe does: collection and
// rendering); and for each max_concurrency makes one cold scrape on a fresh exporter, then warm
// scrapes on the same one. CPU time and peak RSS are this process', i.e. the exporter's.
//
//   npm run build && npm run build:simulators && node --expose-gc bench/ahsay.mjs
//   node bench/ahsay.mjs --users=2000 --latency=20 --days=2 --concurrency=8,32,64 --warm=3
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const SIMULATORS = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'simulators');
const { createAhsaySimulator } = require(join(SIMULATORS, 'ahsay.js'));
const { startSimulator } = require(join(SIMULATORS, 'framework.js'));
const { parseConfig } = require(join(DIST, 'config', 'load.js'));
const { Exporter } = require(join(DIST, 'exporter.js'));
const { createExporterMetrics } = require(join(DIST, 'metrics.js'));
const pino = require('pino');
const { request } = require('undici');

const args = process.argv.slice(2);
const flag = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const USERS = Number(flag('users', 2000));
const LATENCY_MS = Number(flag('latency', 20));
const DAYS = Number(flag('days', 2));
const WARM_RUNS = Number(flag('warm', 3));
const CONCURRENCY = flag('concurrency', '8,32,64').split(',').map(Number);
const ZONE = 'Asia/Hong_Kong';
const SYS_USER = 'bench-api';
const SYS_PWD = 'bench-api-password';

function sum(text, name) {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Requests the simulator has seen, from its control API. */
async function simulatorRequests(url) {
  const res = await request(`${url}/_sim/stats`);
  return ((await res.body.json()).requests);
}

async function scrape(exporter, simUrl) {
  const requestsBefore = await simulatorRequests(simUrl);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const text = await exporter.scrape(['cbs'], '300');
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (sum(text, 'backup_up') !== 1) throw new Error(`scrape failed:\n${text.split('\n').filter((l) => l.startsWith('backup_up')).join('\n')}`);
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    upstream: sum(text, 'backup_collect_upstream_requests'),
    seen: (await simulatorRequests(simUrl)) - requestsBefore,
    jobs: sum(text, 'backup_jobs'),
  };
}

function exporterFor(url, concurrency) {
  const dir = mkdtempSync(join(os.tmpdir(), 'backup-exporter-bench-ahsay-'));
  const file = join(dir, 'exporter.yml');
  const yaml = `global: { timeout: 300s, lookback: 7d, max_jobs: 100, max_concurrency: ${concurrency} }
targets:
  - name: cbs
    provider: ahsay
    url: ${url}
    ahsay:
      username: ${SYS_USER}
      password: ${SYS_PWD}
      timezone: ${ZONE}
      days: ${DAYS}
`;
  writeFileSync(file, yaml);
  const config = parseConfig(yaml, { baseDir: dir, source: file });
  return new Exporter(file, config, createExporterMetrics('bench'), pino({ level: 'error' }), 'bench');
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The simulator's process: serves until this script disconnects. */
async function serveSimulator() {
  const clock = Number(flag('clock', Date.now()));
  const sim = createAhsaySimulator({ sysUser: SYS_USER, sysPwd: SYS_PWD, users: USERS, timezone: ZONE, clock: () => clock, faults: { latencyMs: LATENCY_MS } });
  const server = await startSimulator(sim.app, { host: '127.0.0.1', port: 0 });
  process.send({ url: server.url });
  process.on('disconnect', () => server.close().then(() => process.exit(0)));
}

async function startSimulatorProcess() {
  // The clock stands still so that cold and warm scrapes see the same jobs.
  const child = fork(fileURLToPath(import.meta.url), ['--serve-simulator', `--users=${USERS}`, `--latency=${LATENCY_MS}`, `--clock=${Date.now()}`], { stdio: 'inherit' });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the simulator did not start within 30 s')), 30_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m.url);
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited with ${code}`)));
  });
  return { url, stop: () => child.disconnect() };
}

async function main() {
  const sim = await startSimulatorProcess();
  const rows = [];
  try {
    for (const concurrency of CONCURRENCY) {
      const exporter = exporterFor(sim.url, concurrency);
      try {
        const cold = await scrape(exporter, sim.url);
        const warm = [];
        for (let i = 0; i < WARM_RUNS; i++) warm.push(await scrape(exporter, sim.url));
        const w = warm.map((r) => r.ms);
        // With --expose-gc: what one warm target holds (its remembered days included), garbage aside.
        globalThis.gc?.();
        const heapMiB = Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
        rows.push({
          concurrency,
          heapMiB,
          cold,
          warm: { ms: median(w), cpuMs: median(warm.map((r) => r.cpuMs)), upstream: warm.at(-1).upstream, seen: warm.at(-1).seen, jobs: warm.at(-1).jobs },
          floorCold: Math.ceil(cold.upstream / concurrency) * LATENCY_MS,
          floorWarm: Math.ceil(warm.at(-1).upstream / concurrency) * LATENCY_MS,
        });
      } finally {
        await exporter.close();
      }
    }
  } finally {
    sim.stop();
  }
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`AhsayCBS: ${USERS} users, days ${DAYS}, ${LATENCY_MS} ms per request, node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'})`);
  console.log('');
  console.log('| max_concurrency | scrape | time | lower bound (requests / concurrency x latency) | requests | jobs | exporter CPU |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.concurrency} | cold | ${s(r.cold.ms)} | ${s(r.floorCold)} | ${r.cold.upstream} | ${r.cold.jobs} | ${s(r.cold.cpuMs)} |`);
    console.log(`| ${r.concurrency} | warm (median of ${WARM_RUNS}) | ${s(r.warm.ms)} | ${s(r.floorWarm)} | ${r.warm.upstream} | ${r.warm.jobs} | ${s(r.warm.cpuMs)} |`);
  }
  console.log('');
  console.log(`Exporter process: peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (${CONCURRENCY.length} exporters one after the other).`);
  if (globalThis.gc) console.log(`Heap in use after a warm scrape, after GC: ${rows.map((r) => `${r.heapMiB} MiB`).join(', ')}.`);
  for (const r of rows) {
    if (r.cold.upstream !== r.cold.seen || r.warm.upstream !== r.warm.seen) throw new Error('the exporter and the simulator disagree on the request count');
  }
}

(args.includes('--serve-simulator') ? serveSimulator() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});

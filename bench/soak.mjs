#!/usr/bin/env node
// Soak: 10,000 scrapes of an exporter with three targets: one healthy, one whose simulator cycles
// through every fault knob (5xx, 429, malformed and truncated JSON, a wrong content type, hangs,
// slowness past the deadline), and one whose port refuses connections. Every 500 scrapes it records
// the exporter's RSS and open sockets; both must stay flat.
//
//   npm run soak                 prints the table
//   npm run soak -- --write      ... and writes it into docs/performance.md
//   npm run soak -- --scrapes=2000
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, startExporter } from './exporter.mjs';

const require = createRequire(import.meta.url);
const { request } = require('undici');
const { startSimulator } = require('../build/simulators/framework.js');
const { createOpsManagerSimulator } = require('../build/simulators/opsmanager.js');

const args = process.argv.slice(2);
const total = Number(args.find((a) => a.startsWith('--scrapes='))?.split('=')[1] ?? 10_000);
const write = args.includes('--write');
const EVERY = 500;
const FAULTS = [
  {},
  { errorStatus: 503 },
  { rateLimitRetryAfter: 0 },
  { malformedJson: true },
  { truncate: true },
  { contentType: 'text/html' },
  { errorStatus: 500, errorRate: 0.5 },
  { hang: true },
  { latencyMs: 2000 },
];

const simulator = (faults = {}) =>
  startSimulator(createOpsManagerSimulator({ publicKey: 'soak', privateKey: 'soak-secret', projects: 1, clustersPerProject: 3, jobsPerCluster: 50, faults }).app);
const steady = await simulator({ latencyMs: 2 });
const faultySim = createOpsManagerSimulator({ publicKey: 'soak', privateKey: 'soak-secret', projects: 1, clustersPerProject: 3, jobsPerCluster: 50 });
const faulty = await startSimulator(faultySim.app);
const refusedPort = await freePort();
const target = (name, url) => `  - name: ${name}\n    provider: opsmanager\n    url: ${url}\n    opsmanager: { public_key: soak, private_key: soak-secret }\n`;
const exporter = await startExporter(
  `global: { timeout: 2s }\ntargets:\n${target('steady', steady.url)}${target('faulty', faulty.url)}${target('refused', `http://127.0.0.1:${refusedPort}`)}`,
);

const rows = [];
const started = Date.now();
let failedScrapes = 0;
let steadyDown = 0;
for (let i = 1; i <= total; i++) {
  if ((i - 1) % 250 === 0) {
    faultySim.reset();
    Object.assign(faultySim.faults, FAULTS[Math.floor((i - 1) / 250) % FAULTS.length]);
  }
  const res = await request(`${exporter.url}/metrics`, { headers: { 'x-prometheus-scrape-timeout-seconds': '0.8' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) failedScrapes++;
  if (!text.includes('backup_up{target="steady",provider="opsmanager"} 1')) steadyDown++;
  if (i % EVERY === 0 || i === 1) {
    const sample = await exporter.sample();
    rows.push({ scrapes: i, rssMb: sample.rssBytes / 2 ** 20, sockets: exporter.openSockets(), seconds: (Date.now() - started) / 1000 });
    process.stderr.write(`${i} scrapes, RSS ${(sample.rssBytes / 2 ** 20).toFixed(0)} MB, ${rows.at(-1).sockets} sockets\n`);
  }
}
await exporter.stop();
await steady.close();
await faulty.close();

const table = [
  '| scrapes | elapsed s | exporter RSS MB | exporter open sockets |',
  '|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.scrapes} | ${r.seconds.toFixed(0)} | ${r.rssMb.toFixed(0)} | ${r.sockets} |`),
].join('\n');
const verdict = `${total} scrapes: ${failedScrapes} answered other than 200; the healthy target was reported down in ${steadyDown}.`;
process.stdout.write(`${table}\n\n${verdict}\n`);
if (write) {
  const file = join(ROOT, 'docs', 'performance.md');
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, Node.js ${process.version}`;
  const block = `<!-- soak:start -->\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`npm run soak -- --write\`:\n\n${table}\n\n${verdict}\n<!-- soak:end -->`;
  writeFileSync(file, readFileSync(file, 'utf8').replace(/<!-- soak:start -->[\s\S]*<!-- soak:end -->/, block));
}
process.exit(failedScrapes === 0 && steadyDown === 0 ? 0 : 1);

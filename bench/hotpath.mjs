#!/usr/bin/env node
// The Ops Manager restore-job hot path alone, in one process, on answers the harness recorded:
// how much each stage adds to UTF-8 decoding and JSON.parse per 1,000 jobs. For judging a change
// to the mapping or the summaries quickly, before the whole harness (`npm run bench -- --compare`).
//
//   BENCH_KEEP_ANSWERS=/tmp/g.bin npm run bench -- --only=g --repeat=1
//   node bench/hotpath.mjs /tmp/g.bin [rounds]
//   BENCH_DIST=/path/to/other/dist node bench/hotpath.mjs /tmp/g.bin     another build's hot path
//
// Stages, each timed over every recorded restore-job page, `rounds` times, in turn (ABAB...):
//   parse      decode + JSON.parse (the floor)
//   map        ... + the collection's mapping of a page
//   summarise  ... + SummaryBuilder.addJob with a HistoryBatch, as a collection does
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ops = require(`${process.env.BENCH_DIST ?? '../dist'}/providers/opsmanager.js`);
const { JobHistory, SummaryBuilder } = require(`${process.env.BENCH_DIST ?? '../dist'}/metrics.js`);
/** The collection's mapping of a page (older builds: through mapRestoreJobPage's wrappers). */
const mapPage = (raw, sink) => {
  const jobs = [];
  if (ops.mapRestoreJobsInto) ops.mapRestoreJobsInto(raw, 'project/cluster', sink, jobs, []);
  else for (const { job } of ops.mapRestoreJobPage(raw, 'project/cluster', sink)) jobs.push(job);
  return jobs;
};

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/hotpath.mjs <recorded answers> [rounds]');
const rounds = Number(process.argv[3] ?? 20);

const all = readFileSync(file);
const pages = [];
for (let at = 0; at + 4 <= all.length; ) {
  const length = all.readUInt32LE(at);
  const body = all.subarray(at + 4, at + 4 + length);
  at += 4 + length;
  let parsed;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    continue;
  }
  const first = parsed?.results?.[0];
  if (first && typeof first.statusName === 'string' && 'delivery' in first) pages.push(Buffer.from(body));
}
const jobs = pages.reduce((sum, body) => sum + JSON.parse(body.toString('utf8')).results.length, 0);
if (jobs === 0) throw new Error(`${file}: no restore-job pages recorded`);

const sink = { unknownStatus() {}, problem() {} };
// Steady state: the finished jobs were counted by an earlier collection, as on every scrape but the first.
const history = new JobHistory(['restore']);
{
  const batch = history.begin();
  const builder = new SummaryBuilder(100, -Infinity, batch);
  for (const body of pages) for (const job of mapPage(JSON.parse(body.toString('utf8')).results, sink)) builder.addJob(job);
  batch.commit();
}
const stages = {
  parse: () => {
    for (const body of pages) JSON.parse(body.toString('utf8'));
  },
  map: () => {
    for (const body of pages) mapPage(JSON.parse(body.toString('utf8')).results, sink);
  },
  summarise: () => {
    const builder = new SummaryBuilder(100, -Infinity, history.begin());
    for (const body of pages) for (const job of mapPage(JSON.parse(body.toString('utf8')).results, sink)) builder.addJob(job);
    builder.result();
  },
};
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const times = Object.fromEntries(Object.keys(stages).map((name) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(stages)) {
    const before = cpu();
    run();
    times[name].push((cpu() - before) / 1000);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const floor = median(times.parse);
process.stdout.write(`${pages.length} pages, ${jobs} jobs, ${rounds} rounds\n| stage | CPU ms / 1,000 jobs | / parse |\n|---|---:|---:|\n`);
for (const name of Object.keys(stages)) process.stdout.write(`| ${name} | ${((median(times[name]) / jobs) * 1000).toFixed(2)} | ${(median(times[name]) / floor).toFixed(2)} |\n`);

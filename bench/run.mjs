#!/usr/bin/env node
// The benchmark harness: starts product simulators of a chosen size and latency in this process,
// runs the exporter (dist/) in a child process, scrapes it repeatedly, and prints one row per
// workload: scrape time (median, p95), the critical-path upstream latency, their ratio, exporter CPU
// per scrape, peak RSS, upstream requests per scrape, series served and the longest event-loop delay.
//
//   npm run bench                      every workload, table printed
//   npm run bench -- --write           ... and written into docs/performance.md
//   npm run bench -- --only=b,d --repeat=5
//   npm run bench -- --only=a --targets=ops       only these of the workload's targets are configured
//                                                 (the critical path column stays the whole workload's)
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT, startExporter } from './exporter.mjs';
import { workloads } from './workloads.mjs';

const require = createRequire(import.meta.url);
const { request } = require('undici');

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const only = flag('only')?.split(',');
const repeat = Number(flag('repeat') ?? 10);
const write = args.includes('--write');
/** Bounds on waiting for a simulator process: building 100,000 jobs takes seconds, not minutes. */
const START_TIMEOUT_MS = 120_000;
const ASK_TIMEOUT_MS = 10_000;
const targets = flag('targets')?.split(',');
if (write && targets) throw new Error('--write takes every target of a workload; leave out --targets');

/** The exporter configuration with only the named targets (all when none are named). */
function onlyTargets(config) {
  if (!targets) return config;
  const [head, ...blocks] = config.split(/\n(?=  - name: )/);
  const nameOf = (block) => /^ {2}- name: (.*)\n/.exec(block)?.[1];
  const unknown = targets.filter((name) => !blocks.some((block) => nameOf(block) === name));
  if (unknown.length > 0) throw new Error(`--targets: no target ${unknown.join(', ')} in this workload (it has ${blocks.map(nameOf).join(', ')})`);
  const kept = blocks.filter((block) => targets.includes(nameOf(block)));
  return `${[head, ...kept].join('\n').trimEnd()}\n`;
}

async function scrape(url, timeoutSeconds) {
  const started = performance.now();
  const res = await request(url, { headers: { 'x-prometheus-scrape-timeout-seconds': String(timeoutSeconds) }, headersTimeout: 0, bodyTimeout: 0 });
  const text = await res.body.text();
  const ms = performance.now() - started;
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  const sum = (name) => lines.filter((l) => l.startsWith(`${name}{`)).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { ms, series: lines.length, upstream: sum('backup_collect_upstream_requests'), down: lines.filter((l) => l.startsWith('backup_up{') && l.endsWith(' 0')).length };
}

const descriptions = () => selected.map((w) => `- **${w.id}**: ${w.description}`).join('\n');

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

/**
 * The workload's simulators in child processes, one per part (one for a workload without parts);
 * resolves once they all listen, with the exporter configuration joined from the parts.
 */
async function startSimulators(workload) {
  const started = await Promise.allSettled((workload.parts ?? [undefined]).map((part) => startSimHost(workload, part)));
  const hosts = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(hosts.map((h) => h.close()));
    throw failed.reason;
  }
  return {
    config: workload.parts ? workload.config(hosts.map((h) => h.targets).join('')) : hosts[0].config,
    simUrls: hosts.flatMap((h) => h.simUrls),
    cpuMicros: async () => (await Promise.all(hosts.map((h) => h.cpuMicros()))).reduce((sum, micros) => sum + micros, 0),
    close: () => Promise.all(hosts.map((h) => h.close())),
  };
}

/** Simulators (all of a workload's, or one part's) in a child process; resolves once they listen. */
function startSimHost(workload, part) {
  const name = part === undefined ? `workload ${workload.id}` : `workload ${workload.id} part ${part}`;
  const child = fork(join(ROOT, 'bench', 'simhost.mjs'), part === undefined ? [workload.id] : [workload.id, part], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: process.env.BENCH_SIM_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [],
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let nextId = 0;
  const ask = (cmd) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error(`simulators of ${name} did not answer "${cmd}" within ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      const onMessage = (m) => {
        if (m?.cmd === cmd && m.id === id) {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.send({ cmd, id });
    });
  // Closes the simulators, and ends the process if it does not end by itself.
  const close = () =>
    new Promise((done) => {
      if (exited()) return done();
      child.removeAllListeners('exit');
      const kill = setTimeout(() => child.kill('SIGKILL'), ASK_TIMEOUT_MS);
      child.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      if (child.connected) child.send({ cmd: 'close' });
      else child.kill('SIGKILL');
    });
  return new Promise((resolve, reject) => {
    const fail = async (error) => {
      clearTimeout(timer);
      await close();
      reject(error);
    };
    const timer = setTimeout(() => void fail(new Error(`simulators of ${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.once('error', (error) => void fail(error));
    child.once('exit', (code) => void fail(new Error(`simulators of ${name} exited with ${code} before they listened`)));
    child.once('message', (m) => {
      if (m?.cmd !== 'ready') return void fail(new Error(`simulators of ${name} did not start`));
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      resolve({ config: m.config, targets: m.targets, simUrls: m.simUrls, cpuMicros: async () => (await ask('cpu')).cpuMicros, close });
    });
  });
}

/** Answers the simulators gave and the time they took, summed over every simulator of the workload. */
async function answerStats(simUrls) {
  const all = await Promise.all(
    simUrls.map(async (url) => {
      const res = await request(`${url}/_sim/stats`);
      return res.body.json();
    }),
  );
  return { answered: all.reduce((s, x) => s + x.answered, 0), ms: all.reduce((s, x) => s + x.answerMsTotal, 0) };
}

async function runWorkload(workload) {
  const setup = await startSimulators(workload);
  let config;
  try {
    config = onlyTargets(setup.config);
  } catch (err) {
    await setup.close();
    throw err;
  }
  const exporter = await startExporter(config);
  try {
    const rows = [];
    for (const phase of workload.phases(setup, exporter.url)) {
      const times = [];
      const cpu = [];
      const simCpu = [];
      const delays = [];
      const answers = { answered: 0, ms: 0 };
      let last;
      const runs = phase.runs ?? repeat;
      for (let i = 0; i < runs; i++) {
        await phase.before?.();
        const before = await exporter.sample(true);
        const simBefore = await setup.cpuMicros();
        const answersBefore = await answerStats(setup.simUrls);
        const results = await phase.scrape();
        const after = await exporter.sample();
        const answersAfter = await answerStats(setup.simUrls);
        answers.answered += answersAfter.answered - answersBefore.answered;
        answers.ms += answersAfter.ms - answersBefore.ms;
        simCpu.push(((await setup.cpuMicros()) - simBefore) / 1000);
        times.push(Math.max(...results.map((r) => r.ms)));
        cpu.push((after.cpuMicros - before.cpuMicros) / 1000);
        delays.push(after.maxDelayMs);
        last = { results, after, upstreamSeen: await phase.upstreamSeen?.() };
      }
      if (last.results.some((r) => r.down > 0)) throw new Error(`${workload.id} ${phase.name}: a target was down`);
      const critical = phase.criticalPathMs;
      const p50 = quantile(times, 0.5);
      // The same chain of requests at the latency the simulators really gave (their answer time per
      // request, measured where they answer): the nominal latency plus their own routing, checking
      // and timer slack on this shared machine. The exporter cannot be faster than that either.
      const answerMs = answers.answered > 0 ? answers.ms / answers.answered : NaN;
      const measuredCritical = (critical * answerMs) / workload.latencyMs;
      rows.push({
        workload: `${workload.id}${phase.name ? ` (${phase.name})` : ''}`,
        description: workload.description,
        scrapes: runs,
        p50,
        p95: quantile(times, 0.95),
        critical,
        ratio: p50 / critical,
        answerMs,
        measuredCritical,
        measuredRatio: p50 / measuredCritical,
        cpuMs: quantile(cpu, 0.5),
        simCpuMs: quantile(simCpu, 0.5),
        maxRssMb: last.after.maxRssBytes / 1024 / 1024,
        upstream: last.upstreamSeen ?? last.results.reduce((s, r) => s + r.upstream, 0),
        series: last.results[0].series,
        maxDelayMs: Math.max(...delays),
      });
    }
    return rows;
  } finally {
    await exporter.stop();
    await setup.close();
  }
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
function table(rows) {
  const head =
    '| workload | scrapes | scrape p50 ms | scrape p95 ms | critical path ms | p50 / critical | simulators\' answer ms / request | critical path at that answer time ms | p50 / that | exporter CPU ms / scrape | simulators CPU ms / scrape | peak RSS MB | upstream requests / scrape | series | max event-loop delay ms |';
  const rule = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.workload} | ${r.scrapes} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.critical)} | ${fmt(r.ratio, 2)} | ${fmt(r.answerMs, 1)} | ${fmt(r.measuredCritical)} | ${fmt(r.measuredRatio, 2)} | ${fmt(r.cpuMs)} | ${fmt(r.simCpuMs)} | ${fmt(r.maxRssMb)} | ${r.upstream} | ${r.series} | ${fmt(r.maxDelayMs)} |`,
  );
  return [head, rule, ...body].join('\n');
}

const selected = workloads.filter((w) => !only || only.includes(w.id));
const rows = [];
for (const workload of selected) {
  process.stderr.write(`workload ${workload.id}: ${workload.description} ...\n`);
  rows.push(...(await runWorkload(workload)));
}
const output = table(rows);
process.stdout.write(`${output}\n`);

if (write) {
  const file = join(ROOT, 'docs', 'performance.md');
  const doc = readFileSync(file, 'utf8');
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, ${os.platform()} ${os.release()}`;
  const block = `<!-- bench:start -->\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`npm run bench -- --write${only ? ` --only=${only.join(',')}` : ''}${flag('repeat') ? ` --repeat=${repeat}` : ''}\`:\n\n${descriptions()}\n\n${output}\n<!-- bench:end -->`;
  writeFileSync(file, doc.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, block));
  process.stderr.write(`written to ${file}\n`);
}
process.exit(0);

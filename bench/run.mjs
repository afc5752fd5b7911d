#!/usr/bin/env node
// The benchmark harness: starts product simulators of a chosen size and latency (in processes of
// their own), runs the exporter (dist/) in a child process with bench/probe.cjs preloaded, scrapes
// it repeatedly, and prints one row per workload: the exporter's CPU per scrape and per 1,000 jobs,
// that CPU against the parse floor measured in the same run (UTF-8 decoding and JSON.parse of the
// answers the scrape received, in the exporter's process), peak RSS, the time the scrape adds over
// the upstream time seen at the exporter's sockets, upstream requests per scrape, series served and
// the longest event-loop delay. See docs/performance.md.
//
//   npm run bench                      every workload but the opt-in ones (f, f2), table printed
//   npm run bench -- --write           ... and written into docs/performance.md
//   npm run bench -- --only=b,d --repeat=5
//   npm run bench -- --only=f,f2       the million-job workloads (minutes each)
//   npm run bench -- --only=a --targets=ops       only these of the workload's targets are configured
//   npm run bench -- --only=g,b --compare=main    the same workloads on a build of `main` too, in
//                                                 interleaved blocks (--blocks=4), with the ratios
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { children, tempDirs } from './client.mjs';
import { ROOT, startExporter } from './exporter.mjs';
import { workloads } from './workloads.mjs';

const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const only = flag('only')?.split(',');
const repeat = Number(flag('repeat') ?? 10);
const write = args.includes('--write');
const compareRef = flag('compare');
const blocks = Number(flag('blocks') ?? (compareRef ? 4 : 1));
/** Bounds on waiting for a simulator process: building a million jobs takes a while, not minutes. */
const START_TIMEOUT_MS = 300_000;
const ASK_TIMEOUT_MS = 10_000;
const targets = flag('targets')?.split(',');
if (write && targets) throw new Error('--write takes every target of a workload; leave out --targets');
if (write && compareRef) throw new Error('--write writes one checkout\'s table; leave out --compare');
if (!(blocks >= 1)) throw new Error('--blocks: a number of blocks, 1 or more');

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

const descriptions = () => selected.map((w) => `- **${w.id}**: ${w.description}`).join('\n');

const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
    execArgv: [...(workload.simNodeOptions ?? []), ...(process.env.BENCH_SIM_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [])],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
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

/**
 * A build of `ref` in a temporary folder: its tree from git (not a worktree, so that the repository's
 * shared metadata is left alone), this checkout's node_modules linked in, `tsc` run on it.
 */
function checkoutOf(ref) {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(os.tmpdir(), 'backup-exporter-ref-'));
  tempDirs.add(dir);
  const tree = execFileSync('git', ['archive', '--format=tar', commit], { cwd: ROOT, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: tree });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  process.stderr.write(`building ${ref} (${commit.slice(0, 10)}) in ${dir} ...\n`);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return { label: `${ref} (${commit.slice(0, 7)})`, root: dir };
}

/**
 * Measures one side's scrapes of a phase: `runs` of them, each followed by the parse floor of the
 * answers recorded for the phase (same run, same process, same moment of the machine).
 */
async function measure(side, phase, runs, stats) {
  const { exporter } = side;
  for (let i = 0; i < runs; i++) {
    await phase.before?.();
    const before = await exporter.sample(true);
    const results = await phase.scrape();
    const after = await exporter.sample();
    const upstreamSeen = await phase.upstreamSeen?.();
    if (results.some((r) => r.down > 0)) throw new Error(`${side.label}: a target was down`);
    // Answers other than 2xx (digest challenges, retried 429/5xx) are requests the exporter repeats.
    const statuses = Object.entries(after.upstreamStatuses ?? {});
    if (statuses.some(([status]) => !status.startsWith('2'))) {
      process.stderr.write(`${side.label}, ${phase.name || 'scrape'} ${i + 1}: upstream answers by status ${statuses.map(([status, n]) => `${status}: ${n}`).join(', ')}\n`);
    }
    const cpuMs = (after.cpuMicros - before.cpuMicros) / 1000;
    stats.times.push(Math.max(...results.map((r) => r.ms)));
    stats.cpu.push(cpuMs);
    stats.delays.push(after.maxDelayMs);
    stats.held.push(after.maxHeldMs);
    stats.overhead.push(after.wallMs - after.upstreamMs);
    stats.upstreamMs.push(after.upstreamMs);
    stats.bytes.push(after.upstreamBytes);
    if (stats.recorded) {
      const floor = await exporter.floor();
      const floorMs = floor.micros / 1000;
      stats.floor.push(floorMs);
      stats.floorRatio.push(cpuMs / floorMs);
      stats.beyondFloor.push(cpuMs - floorMs);
      // Replayed answers are the same bytes every scrape; a scrape that read other bytes than the
      // recorded ones (answers recomputed, a list grown) is not held against that floor.
      if (Math.abs(after.upstreamBytes - floor.bytes) > 0.01 * floor.bytes) stats.mismatched++;
    }
    stats.upstream.push(upstreamSeen ?? results.reduce((sum, r) => sum + r.upstream, 0));
    stats.last = { results, after, upstreamSeen };
  }
}

async function runWorkload(workload, sides) {
  const setup = await startSimulators(workload);
  let config;
  try {
    config = onlyTargets(setup.config);
  } catch (err) {
    await setup.close();
    throw err;
  }
  const started = [];
  try {
    for (const side of sides) started.push({ ...side, exporter: await startExporter(config, { root: side.root }) });
    const phasesOf = started.map((side) => workload.phases(setup, side.exporter.url, side.exporter));
    const rows = [];
    for (let p = 0; p < phasesOf[0].length; p++) {
      const name = phasesOf[0][p].name;
      const statsOf = started.map(() => ({ upstream: [], times: [], cpu: [], delays: [], held: [], overhead: [], upstreamMs: [], bytes: [], floor: [], floorRatio: [], beyondFloor: [], mismatched: 0, recorded: false }));
      const runs = phasesOf[0][p].runs ?? repeat;
      const blockCount = phasesOf[0][p].cold ? 1 : Math.min(blocks, runs);
      for (let b = 0; b < blockCount; b++) {
        // ABBA...: neither side always runs first in a block, or always on a machine that just idled.
        const order = started.map((_, i) => i);
        if (b % 2 === 1) order.reverse();
        for (const s of order) {
          const phase = phasesOf[s][p];
          const stats = statsOf[s];
          if (!phase.cold && !stats.recorded) {
            // One scrape not measured, whose answers are recorded for the floor.
            await phase.before?.();
            await started[s].exporter.record();
            await phase.scrape();
            await started[s].exporter.stopRecording();
            stats.recorded = true;
          }
          const share = Math.floor(runs / blockCount) + (b < runs % blockCount ? 1 : 0);
          await measure(started[s], phase, share, stats);
        }
      }
      started.forEach((side, s) => {
        const stats = statsOf[s];
        const { last } = stats;
        const jobs = workload.jobs ?? last.results[0].jobsInWindow;
        const cpuMs = median(stats.cpu);
        if (stats.mismatched > 0) process.stderr.write(`${workload.id} ${name} (${side.label}): ${stats.mismatched} scrapes read other bytes than were recorded for the floor\n`);
        rows.push({
          side: side.label,
          workload: `${workload.id}${name ? ` (${name})` : ''}`,
          scrapes: stats.cpu.length,
          p50: median(stats.times),
          cpuMs,
          jobs,
          jobsCounted: workload.jobs === undefined,
          cpuPer1k: (cpuMs / jobs) * 1000,
          floorMs: median(stats.floor),
          floorRatio: median(stats.floorRatio),
          beyondFloorPer1k: (median(stats.beyondFloor) / jobs) * 1000,
          answerMb: median(stats.bytes) / 1e6,
          upstreamMs: median(stats.upstreamMs),
          overheadMs: median(stats.overhead),
          maxRssMb: last.after.maxRssBytes / 1024 / 1024,
          // Median over the measured scrapes, and the most when they differ (inventory reads falling due).
          upstream: Math.min(...stats.upstream) === Math.max(...stats.upstream) ? String(stats.upstream[0]) : `${median(stats.upstream)} (max ${Math.max(...stats.upstream)})`,
          series: last.results[0].series,
          maxDelayMs: Math.max(...stats.delays),
          maxHeldMs: Math.max(...stats.held),
        });
      });
    }
    return rows;
  } finally {
    for (const side of started) await side.exporter.stop();
    await setup.close();
  }
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
function table(rows, withSide) {
  const head = `|${withSide ? ' checkout |' : ''} workload | scrapes | scrape p50 ms | exporter CPU ms / scrape | jobs | CPU ms / 1,000 jobs | parse floor ms / scrape | CPU / floor | CPU beyond the floor ms / 1,000 jobs | answers MB / scrape | upstream at the sockets ms | overhead ms | peak RSS MB | upstream requests / scrape | series | max event-loop delay ms | longest delay on a core ms |`;
  const rule = `|${withSide ? '---|' : ''}---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`;
  const body = rows.map(
    (r) =>
      `|${withSide ? ` ${r.side} |` : ''} ${r.workload} | ${r.scrapes} | ${fmt(r.p50)} | ${fmt(r.cpuMs)} | ${r.jobs.toLocaleString('en')}${r.jobsCounted ? '*' : ''} | ${fmt(r.cpuPer1k, 1)} | ${fmt(r.floorMs)} | ${fmt(r.floorRatio, 2)} | ${fmt(r.beyondFloorPer1k, 1)} | ${fmt(r.answerMb, 1)} | ${fmt(r.upstreamMs)} | ${fmt(r.overheadMs, 1)} | ${fmt(r.maxRssMb)} | ${r.upstream} | ${r.series} | ${fmt(r.maxDelayMs)} | ${fmt(r.maxHeldMs)} |`,
  );
  return [head, rule, ...body].join('\n');
}

/** This checkout against the reference, workload by workload: medians of each side, and this / reference. */
function comparison(rows, [ref, mine]) {
  const head = `| workload | figure | ${ref.label} | ${mine.label} | ratio |\n|---|---|---:|---:|---:|`;
  const figures = [
    ['CPU ms / 1,000 jobs', (r) => r.cpuPer1k, 1],
    ['CPU / floor', (r) => r.floorRatio, 2],
    ['CPU beyond the floor ms / 1,000 jobs', (r) => r.beyondFloorPer1k, 1],
    ['parse floor ms / scrape', (r) => r.floorMs, 0],
    ['peak RSS MB', (r) => r.maxRssMb, 0],
    ['scrape p50 ms', (r) => r.p50, 0],
    ['overhead ms', (r) => r.overheadMs, 1],
    ['longest event-loop delay on a core ms', (r) => r.maxHeldMs, 0],
  ];
  const lines = [];
  for (const workload of [...new Set(rows.map((r) => r.workload))]) {
    const a = rows.find((r) => r.workload === workload && r.side === ref.label);
    const b = rows.find((r) => r.workload === workload && r.side === mine.label);
    for (const [name, of, digits] of figures) lines.push(`| ${workload} | ${name} | ${fmt(of(a), digits)} | ${fmt(of(b), digits)} | ${fmt(of(b) / of(a), 2)} |`);
  }
  return `${head}\n${lines.join('\n')}`;
}

const selected = workloads.filter((w) => (only ? only.includes(w.id) : !w.optIn));
if (only) {
  const unknown = only.filter((id) => !workloads.some((w) => w.id === id));
  if (unknown.length > 0) throw new Error(`--only: no workload ${unknown.join(', ')} (there are ${workloads.map((w) => w.id).join(', ')})`);
}
const sides = [{ label: 'this checkout', root: ROOT }];
if (compareRef) sides.unshift(checkoutOf(compareRef));
const rows = [];
for (const workload of selected) {
  process.stderr.write(`workload ${workload.id}: ${workload.description} ...\n`);
  rows.push(...(await runWorkload(workload, sides)));
}
const jobsNote = rows.some((r) => r.jobsCounted) ? '\n\n\\* jobs the exposition counts in the lookback window (`backup_jobs`), where the products\' lists do not make the jobs read a fixed number.' : '';
let output = `${table(rows, sides.length > 1)}${jobsNote}`;
if (sides.length > 1) output += `\n\nIn interleaved blocks (${blocks} a side, ABBA order):\n\n${comparison(rows, sides)}`;
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

// The benchmark workloads. Each starts its simulators (in a process the harness starts
// for them; a workload with `parts` has one such process per part, and its configuration is joined
// from the parts' target blocks), gives the exporter configuration, says what one measured scrape
// is, and how many jobs a scrape reads (`jobs`; where the products' lists do not make that a fixed
// number, the harness takes the jobs the exposition counts in the lookback window instead).
// `optIn` workloads run only when named in --only; `simNodeOptions` are the simulators' process'
// Node.js options (a million jobs' replayed answers need a larger heap than the default).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startSimulator } = require('../build/simulators/framework.js');
const { createOpsManagerSimulator } = require('../build/simulators/opsmanager.js');
const { createBlueXpSimulator } = require('../build/simulators/bluexp.js');
const { createAhsaySimulator } = require('../build/simulators/ahsay.js');
const { createCbrSimulator } = require('../build/simulators/cbr.js');
const { request } = require('undici');

/**
 * The simulators' behaviour in every workload: the given latency per request, and answers computed
 * once and replayed (authentication still checked), so that the simulators, which share this
 * machine's cores with the exporter, do not charge their own work to it (see docs/performance.md).
 */
const simulated = (latencyMs, replayMs = 10 * 60_000) => ({ latencyMs, replayMs });

async function opsManager({ clusters, jobsPerCluster, latencyMs, projects = 1, replayMs }) {
  const sim = createOpsManagerSimulator({
    publicKey: 'bench',
    privateKey: 'bench-secret',
    projects,
    clustersPerProject: clusters,
    shardedEvery: 0,
    jobsPerCluster,
    jobIntervalMs: 10 * 60_000,
    faults: simulated(latencyMs, replayMs),
  });
  const server = await startSimulator(sim.app);
  return { sim, server };
}

const opsTarget = (name, url) => `  - name: ${name}
    provider: opsmanager
    url: ${url}
    opsmanager: { public_key: bench, private_key: bench-secret }
`;

async function get(url, timeoutSeconds = 30) {
  const started = performance.now();
  const res = await request(url, { headers: { 'x-prometheus-scrape-timeout-seconds': String(timeoutSeconds) }, headersTimeout: 0, bodyTimeout: 0 });
  const text = await res.body.text();
  const ms = performance.now() - started;
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  const sum = (name) => lines.filter((l) => l.startsWith(`${name}{`)).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  return { ms, series: lines.length, upstream: sum('backup_collect_upstream_requests'), jobsInWindow: sum('backup_jobs'), down: lines.filter((l) => l.startsWith('backup_up{') && l.endsWith(' 0')).length };
}

/** Requests a simulator has answered, from its control API (simulators run in another process). */
async function simulatorRequests(simUrl) {
  const res = await request(`${simUrl}/_sim/stats`);
  return (await res.body.json()).requests;
}

/**
 * Scrapes that are not measured, until the exporter is in its steady state: digest challenges,
 * token grants, cold caches, and details a provider reads a bounded number of per scrape (CBR
 * checkpoints) all behind it. Steady = two scrapes in a row made the same number of requests;
 * at most 30 scrapes.
 */
const warmed = (scrapeOnce) => {
  let warm = false;
  return async () => {
    if (warm) return;
    warm = true;
    let previous = -1;
    for (let i = 0; i < 30; i++) {
      const { upstream } = await scrapeOnce();
      if (upstream === previous) return;
      previous = upstream;
    }
  };
};

/**
 * One simulator of each product, about 2,500 jobs each, all with the same latency per request. Each
 * is a part of its own: the harness runs each part's simulators in a process of their own, as four
 * products are four servers (in one process, writing one product's large answer would delay reading
 * another's request, which no real deployment does).
 */
const fourProducts = {
  ops: (faults) => simulatorPart(createOpsManagerSimulator({ publicKey: 'bench', privateKey: 'bench-secret', projects: 1, clustersPerProject: 5, shardedEvery: 0, jobsPerCluster: 500, jobIntervalMs: 10 * 60_000, faults }), (url) => opsTarget('ops', url)),
  bluexp: (faults) =>
    simulatorPart(createBlueXpSimulator({ accountId: 'account-bench', agentId: 'benchclients', refreshToken: 'bench-refresh', jobs: 1200, jobIntervalMs: 5 * 60_000, faults }), (url) => `  - name: bluexp
    provider: bluexp
    url: ${url}
    bluexp: { account_id: account-bench, agent_id: benchclients, token_url: "${url}/oauth/token", refresh_token: bench-refresh }
`),
  ahsay: (faults) =>
    simulatorPart(createAhsaySimulator({ sysUser: 'bench', sysPwd: 'bench-secret', users: 4, backupIntervalMs: 5 * 60_000, backupDurationMs: 60_000, faults }), (url) => `  - name: ahsay
    provider: ahsay
    url: ${url}
    ahsay: { username: bench, password: bench-secret, days: 2 }
`),
  cbr: (faults) =>
    simulatorPart(createCbrSimulator({ projectId: 'benchproject', accessKeys: { BENCHAK: 'bench-sk' }, akLockout: false, vaults: 5, resourcesPerVault: 10, backupsPerResource: 25, restores: 50, faults }), (url) => `  - name: cbr
    provider: cbr
    url: ${url}
    cbr: { project_id: benchproject, access_key: BENCHAK, secret_key: bench-sk }
`),
};

/** A started simulator as a workload part: its target block(s) of the exporter configuration. */
async function simulatorPart(sim, targetsFor) {
  const server = await startSimulator(sim.app);
  return { targets: targetsFor(server.url), simUrls: [server.url], close: () => server.close() };
}

/**
 * Restore jobs of `clusters` clusters on one Ops Manager at 20 ms per request, scraped through
 * /probe. A cluster's jobs are 10 minutes apart, so with 500 a cluster all are in the 7-day lookback;
 * with 100,000 most are older, and are read and mapped but not counted.
 */
function opsWorkload({ id, clusters, jobsPerCluster, optIn = false, runs }) {
  const jobs = clusters * jobsPerCluster;
  const large = jobs >= 1_000_000;
  const timeoutSeconds = large ? 600 : 60;
  return {
    id,
    latencyMs: 20,
    jobs,
    optIn,
    simNodeOptions: large ? ['--max-old-space-size=8192'] : [],
    description: `${jobs.toLocaleString('en')} restore jobs on one Ops Manager (${clusters.toLocaleString('en')} clusters of ${jobsPerCluster.toLocaleString('en')}), 20 ms per request`,
    async setup() {
      // The simulator computes a million jobs' answers in minutes on this machine: they are replayed
      // for the whole run, not recomputed (and shifted by the clock) halfway through it.
      const ops = await opsManager({ clusters, jobsPerCluster, latencyMs: this.latencyMs, replayMs: large ? 4 * 3_600_000 : undefined });
      return {
        simUrls: [ops.server.url],
        config: `global: { timeout: ${timeoutSeconds}s, lookback: 7d }\ntargets:\n${opsTarget('ops-big', ops.server.url)}`,
        close: () => ops.server.close(),
      };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/probe?target=ops-big`, timeoutSeconds);
      return [{ name: '', runs, before: warmed(once), scrape: async () => [await once()] }];
    },
  };
}

export const workloads = [
  {
    id: 'a',
    latencyMs: 50,
    description: 'about 10,000 jobs across the four providers (one target each), 50 ms per request, one /metrics scrape',
    parts: Object.keys(fourProducts),
    setup(part) {
      return fourProducts[part](simulated(this.latencyMs));
    },
    config: (targets) => `global: { timeout: 30s, lookback: 7d }\ntargets:\n${targets}`,
    phases(_setup, url) {
      const once = () => get(`${url}/metrics`);
      // Warm stages per target, all targets in parallel: Ops Manager groups, clusters, 5 job lists;
      // BlueXP /job with /restore/status; AhsayCBS ListUsers, then today's 4 users x 2 kinds;
      // CBR three lists of up to 1,250 items, each paged by 1,000: two pages in sequence.
      return [{ name: '', before: warmed(once), scrape: async () => [await once()] }];
    },
  },
  {
    id: 'e',
    latencyMs: 20,
    description: '2,000 AhsayCBS users, 2 days, 20 ms per request, max_concurrency 32: cold, then warm, then 16 scrapes a minute apart (the exporter\'s clock moved) while the users\' hourly inventory reads fall due',
    async setup() {
      const sim = createAhsaySimulator({ sysUser: 'bench', sysPwd: 'bench-secret', users: 2000, faults: simulated(this.latencyMs) });
      const server = await startSimulator(sim.app);
      return {
        simUrls: [server.url],
        config: `global: { timeout: 120s }\ntargets:\n  - name: cbs\n    provider: ahsay\n    url: ${server.url}\n    max_concurrency: 32\n    ahsay: { username: bench, password: bench-secret, days: 2 }\n`,
        close: () => server.close(),
      };
    },
    phases(setup, url, exporter) {
      const once = () => get(`${url}/probe?target=cbs`, 120);
      let before = 0;
      const counted = {
        before: async () => {
          before = await simulatorRequests(setup.simUrls[0]);
        },
        upstreamSeen: async () => (await simulatorRequests(setup.simUrls[0])) - before,
      };
      // The users' inventory reads (every 60 minutes by default, each user's up to a quarter later)
      // fall due only an hour after the cold scrape: the exporter's clock is moved forward by the
      // interval once, then by a scrape interval (60 s) before every scrape, over the whole spread.
      let moved = false;
      const inventoriesDue = async () => {
        await exporter.advanceClock(moved ? 60_000 : 60 * 60_000);
        moved = true;
        await counted.before();
      };
      return [
        // The first scrape of a fresh exporter: nothing to record its answers in before it.
        { name: 'cold', runs: 1, cold: true, ...counted, scrape: async () => [await once()] },
        { name: 'warm', runs: 3, ...counted, scrape: async () => [await once()] },
        { name: 'inventories due', runs: 16, ...counted, before: inventoriesDue, scrape: async () => [await once()] },
      ];
    },
  },
  opsWorkload({ id: 'g', clusters: 20, jobsPerCluster: 500 }),
  opsWorkload({ id: 'b', clusters: 200, jobsPerCluster: 500 }),
  // A million jobs: minutes per workload (the simulators build and replay 0.8 GB of answers, each
  // scrape reads them), so these run only when named: --only=f,f2.
  opsWorkload({ id: 'f', clusters: 2000, jobsPerCluster: 500, optIn: true, runs: 3 }),
  opsWorkload({ id: 'f2', clusters: 10, jobsPerCluster: 100_000, optIn: true, runs: 3 }),
  // f2's shape at a fifth of its size (2 clusters of 100,000): a long list's 200 pages asked at once,
  // in about a minute instead of ten.
  opsWorkload({ id: 'f3', clusters: 2, jobsPerCluster: 100_000, optIn: true, runs: 3 }),
  {
    id: 'c',
    latencyMs: 200,
    description: '50 Ops Manager targets (2 clusters, 20 jobs each), 200 ms per request, one /metrics scrape',
    jobs: 50 * 2 * 20,
    async setup() {
      const ops = await opsManager({ clusters: 2, jobsPerCluster: 20, latencyMs: this.latencyMs });
      const targets = Array.from({ length: 50 }, (_, i) => opsTarget(`ops-${i}`, ops.server.url)).join('');
      return { simUrls: [ops.server.url], config: `global: { timeout: 30s }\ntargets:\n${targets}`, close: () => ops.server.close() };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/metrics`);
      return [{ name: '', runs: 5, before: warmed(once), scrape: async () => [await once()] }];
    },
  },
  {
    id: 'd',
    latencyMs: 50,
    description: '100 concurrent scrapes of one Ops Manager target (4 clusters, 100 jobs each), 50 ms per request',
    jobs: 4 * 100,
    async setup() {
      const ops = await opsManager({ clusters: 4, jobsPerCluster: 100, latencyMs: this.latencyMs });
      return { simUrls: [ops.server.url], config: `targets:\n${opsTarget('ops', ops.server.url)}`, close: () => ops.server.close() };
    },
    phases(setup, url) {
      const once = () => get(`${url}/probe?target=ops`);
      const warmOnce = warmed(once);
      let before = 0;
      return [
        {
          name: '',
          runs: 5,
          before: async () => {
            await warmOnce();
            before = await simulatorRequests(setup.simUrls[0]);
          },
          scrape: () => Promise.all(Array.from({ length: 100 }, once)),
          // What the product saw for all 100 scrapes together: one collection's requests.
          upstreamSeen: async () => (await simulatorRequests(setup.simUrls[0])) - before,
        },
      ];
    },
  },
];

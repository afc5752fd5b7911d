// The benchmark workloads. Each starts its simulators (in a process the harness starts
// for them; a workload with `parts` has one such process per part, and its configuration is joined
// from the parts' target blocks), gives the exporter configuration, and says what one measured
// scrape is and what its critical path costs:
// the requests that must follow one another, each stage taking ceil(requests / max_concurrency)
// round trips of the simulated latency (`latencyMs`, which the harness also scales by the answer
// time the simulators really gave).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startSimulator } = require('../build/simulators/framework.js');
const { createOpsManagerSimulator } = require('../build/simulators/opsmanager.js');
const { createBlueXpSimulator } = require('../build/simulators/bluexp.js');
const { createAhsaySimulator } = require('../build/simulators/ahsay.js');
const { createCbrSimulator } = require('../build/simulators/cbr.js');
const { request } = require('undici');

const CONCURRENCY = 8;
/**
 * The simulators' behaviour in every workload: the given latency per request, and answers computed
 * once and replayed (authentication still checked), so that the simulators, which share this
 * machine's cores with the exporter, do not charge their own work to it (see docs/performance.md).
 */
const simulated = (latencyMs) => ({ latencyMs, replayMs: 10 * 60_000 });
const stagesMs = (latencyMs, stages) => stages.reduce((sum, requests) => sum + Math.ceil(requests / CONCURRENCY) * latencyMs, 0);

async function opsManager({ clusters, jobsPerCluster, latencyMs, projects = 1 }) {
  const sim = createOpsManagerSimulator({
    publicKey: 'bench',
    privateKey: 'bench-secret',
    projects,
    clustersPerProject: clusters,
    shardedEvery: 0,
    jobsPerCluster,
    jobIntervalMs: 10 * 60_000,
    faults: simulated(latencyMs),
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
  return { ms, series: lines.length, upstream: sum('backup_collect_upstream_requests'), down: lines.filter((l) => l.startsWith('backup_up{') && l.endsWith(' 0')).length };
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
      return [{ name: '', before: warmed(once), scrape: async () => [await once()], criticalPathMs: Math.max(...[[1, 1, 5], [2], [1, 8], [3, 3]].map((stages) => stagesMs(this.latencyMs, stages))) }];
    },
  },
  {
    id: 'e',
    latencyMs: 20,
    description: '2,000 AhsayCBS users, 2 days, 20 ms per request, max_concurrency 32: cold, then warm',
    async setup() {
      const sim = createAhsaySimulator({ sysUser: 'bench', sysPwd: 'bench-secret', users: 2000, faults: simulated(this.latencyMs) });
      const server = await startSimulator(sim.app);
      return {
        simUrls: [server.url],
        config: `global: { timeout: 120s }\ntargets:\n  - name: cbs\n    provider: ahsay\n    url: ${server.url}\n    max_concurrency: 32\n    ahsay: { username: bench, password: bench-secret, days: 2 }\n`,
        close: () => server.close(),
      };
    },
    phases(setup, url) {
      const once = () => get(`${url}/probe?target=cbs`, 120);
      const CONC = 32;
      const rounds = (requests) => Math.ceil(requests / CONC) * this.latencyMs;
      let before = 0;
      const counted = {
        before: async () => {
          before = await simulatorRequests(setup.simUrls[0]);
        },
        upstreamSeen: async () => (await simulatorRequests(setup.simUrls[0])) - before,
      };
      return [
        { name: 'cold', runs: 1, ...counted, scrape: async () => [await once()], criticalPathMs: this.latencyMs + rounds(2000 * 2 * 2) },
        { name: 'warm', runs: 3, ...counted, scrape: async () => [await once()], criticalPathMs: this.latencyMs + rounds(2000 * 2) },
      ];
    },
  },
  {
    id: 'b',
    latencyMs: 20,
    description: '100,000 restore jobs on one Ops Manager (200 clusters of 500), 20 ms per request',
    async setup() {
      const ops = await opsManager({ clusters: 200, jobsPerCluster: 500, latencyMs: this.latencyMs });
      return {
        simUrls: [ops.server.url],
        config: `global: { timeout: 30s, lookback: 7d }\ntargets:\n${opsTarget('ops-big', ops.server.url)}`,
        close: () => ops.server.close(),
      };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/probe?target=ops-big`);
      return [{ name: '', before: warmed(once), scrape: async () => [await once()], criticalPathMs: stagesMs(this.latencyMs, [1, 1, 200]) }];
    },
  },
  {
    id: 'c',
    latencyMs: 200,
    description: '50 Ops Manager targets (2 clusters, 20 jobs each), 200 ms per request, one /metrics scrape',
    async setup() {
      const ops = await opsManager({ clusters: 2, jobsPerCluster: 20, latencyMs: this.latencyMs });
      const targets = Array.from({ length: 50 }, (_, i) => opsTarget(`ops-${i}`, ops.server.url)).join('');
      return { simUrls: [ops.server.url], config: `global: { timeout: 30s }\ntargets:\n${targets}`, close: () => ops.server.close() };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/metrics`);
      return [{ name: '', runs: 5, before: warmed(once), scrape: async () => [await once()], criticalPathMs: stagesMs(this.latencyMs, [1, 1, 2]) }];
    },
  },
  {
    id: 'd',
    latencyMs: 50,
    description: '100 concurrent scrapes of one Ops Manager target (4 clusters, 100 jobs each), 50 ms per request',
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
          criticalPathMs: stagesMs(this.latencyMs, [1, 1, 4]),
        },
      ];
    },
  },
];

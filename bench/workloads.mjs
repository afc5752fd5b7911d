// The benchmark workloads of issue 7. Each starts its simulators (in the harness process), gives the
// exporter configuration, and says what one measured scrape is and what its critical path costs:
// the requests that must follow one another, each stage taking ceil(requests / max_concurrency)
// round trips of the simulated latency.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startSimulator } = require('../dist/simulators/framework.js');
const { createOpsManagerSimulator } = require('../dist/simulators/opsmanager.js');
const { request } = require('undici');

const CONCURRENCY = 8;
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
    faults: { latencyMs },
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

/** A first scrape that is not measured: digest challenges, token grants and cold caches. */
const warmed = (scrapeOnce) => {
  let warm = false;
  return async () => {
    if (!warm) {
      warm = true;
      await scrapeOnce();
    }
  };
};

export const workloads = [
  {
    id: 'b',
    description: '100,000 restore jobs on one Ops Manager (200 clusters of 500), 20 ms per request',
    async setup() {
      const ops = await opsManager({ clusters: 200, jobsPerCluster: 500, latencyMs: 20 });
      return {
        config: `global: { timeout: 30s, lookback: 7d }\ntargets:\n${opsTarget('ops-big', ops.server.url)}`,
        close: () => ops.server.close(),
      };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/probe?target=ops-big`);
      return [{ name: '', before: warmed(once), scrape: async () => [await once()], criticalPathMs: stagesMs(20, [1, 1, 200]) }];
    },
  },
  {
    id: 'c',
    description: '50 Ops Manager targets (2 clusters, 20 jobs each), 200 ms per request, one /metrics scrape',
    async setup() {
      const ops = await opsManager({ clusters: 2, jobsPerCluster: 20, latencyMs: 200 });
      const targets = Array.from({ length: 50 }, (_, i) => opsTarget(`ops-${i}`, ops.server.url)).join('');
      return { config: `global: { timeout: 30s }\ntargets:\n${targets}`, close: () => ops.server.close() };
    },
    phases(_setup, url) {
      const once = () => get(`${url}/metrics`);
      return [{ name: '', runs: 5, before: warmed(once), scrape: async () => [await once()], criticalPathMs: stagesMs(200, [1, 1, 2]) }];
    },
  },
  {
    id: 'd',
    description: '100 concurrent scrapes of one Ops Manager target (4 clusters, 100 jobs each), 50 ms per request',
    async setup() {
      const ops = await opsManager({ clusters: 4, jobsPerCluster: 100, latencyMs: 50 });
      return { ops, config: `targets:\n${opsTarget('ops', ops.server.url)}`, close: () => ops.server.close() };
    },
    phases(setup, url) {
      const once = () => get(`${url}/probe?target=ops`);
      let before = 0;
      return [
        {
          name: '',
          runs: 5,
          before: async () => {
            await warmed(once)();
            before = setup.ops.sim.stats.requests;
          },
          scrape: () => Promise.all(Array.from({ length: 100 }, once)),
          // What the product saw for all 100 scrapes together: one collection's requests.
          upstreamSeen: async () => setup.ops.sim.stats.requests - before,
          criticalPathMs: stagesMs(50, [1, 1, 4]),
        },
      ];
    },
  },
];

/**
 * Starts the product simulators for the exporter's demo mode, with credentials and sizes that make
 * a dashboard show life within minutes: new restores every two minutes, each running ~45 s.
 */
import { startSimulator, type RunningSimulator } from './framework';
import { createOpsManagerSimulator } from './opsmanager';

export { createSimulator, startSimulator, sendJson, defaultFaults, paginate, pageWindow } from './framework';
export type { Faults, Simulator, RunningSimulator } from './framework';
export { createOpsManagerSimulator, OPS_MANAGER_API_BASE } from './opsmanager';
export type { OpsManagerSimulator, OpsManagerSimulatorOptions } from './opsmanager';

export const DEMO_OPSMANAGER_PUBLIC_KEY = 'demo-public-key';
export const DEMO_OPSMANAGER_PRIVATE_KEY = 'demo-private-key';

export interface SimulatorsConfig {
  opsmanager?: { listen: string };
}

export interface RunningSimulators {
  /** Base URL per simulator name (e.g. urls.opsmanager = "http://127.0.0.1:9101"); the API paths go after it. */
  urls: Record<string, string>;
  close(): Promise<void>;
}

/** Parses "host:port", "[::1]:port" or ":port" (host 127.0.0.1); port 0 picks a free one. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid listen address "${listen}": expected host:port`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

export async function startSimulators(config: SimulatorsConfig): Promise<RunningSimulators> {
  const running: Array<[string, RunningSimulator]> = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(running.map(([, sim]) => sim.close()));
  };
  try {
    if (config.opsmanager) running.push(['opsmanager', await startDemoOpsManager(config.opsmanager.listen)]);
  } catch (err) {
    // A half-started demo would leave ports bound behind a failed start.
    await closeAll();
    throw err;
  }
  return { urls: Object.fromEntries(running.map(([name, sim]) => [name, sim.url])), close: closeAll };
}

function startDemoOpsManager(listen: string): Promise<RunningSimulator> {
  const sim = createOpsManagerSimulator({
    publicKey: DEMO_OPSMANAGER_PUBLIC_KEY,
    privateKey: DEMO_OPSMANAGER_PRIVATE_KEY,
    projects: 2,
    clustersPerProject: 3,
    shardedEvery: 3,
    jobsPerCluster: 20,
    jobIntervalMs: 2 * 60_000,
    jobDurationMs: 45_000,
  });
  return startSimulator(sim.app, parseListen(listen));
}

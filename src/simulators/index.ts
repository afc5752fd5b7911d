/**
 * The demo: starts the simulators named in the configuration's `simulators` block, each on its
 * listen address, with credentials and sizes that make a dashboard show life within minutes.
 * Each product's simulator file exports its own `startDemo`; this map is the one place they meet.
 */
import type { SimulatorsConfig } from '../config/schema';
import { parseListenAddress } from '../listen-address';
import type { RunningSimulator } from './framework';
import { startDemo as startAhsayDemo } from './ahsay';
import { startDemo as startBlueXpDemo } from './bluexp';
import { startDemo as startCbrDemo } from './cbr';
import { startDemo as startOpsManagerDemo } from './opsmanager';

export { DEMO_OPSMANAGER_PRIVATE_KEY, DEMO_OPSMANAGER_PUBLIC_KEY } from './opsmanager';

type DemoStarter = (listen: { host: string; port: number }) => Promise<RunningSimulator>;

const DEMOS: Record<keyof SimulatorsConfig, DemoStarter> = {
  opsmanager: startOpsManagerDemo,
  bluexp: startBlueXpDemo,
  ahsay: startAhsayDemo,
  cbr: startCbrDemo,
};

export interface RunningSimulators {
  /** Base URL per simulator (e.g. urls.opsmanager = "http://127.0.0.1:19101"). */
  urls: Record<string, string>;
  close(): Promise<void>;
}

/** Parses "host:port", "[::1]:port" or ":port"; simulators listen on 127.0.0.1 unless told otherwise. */
export function parseListen(listen: string): { host: string; port: number } {
  const { host, port } = parseListenAddress(listen.trim());
  return { host: host ?? '127.0.0.1', port };
}

export async function startSimulators(config: SimulatorsConfig): Promise<RunningSimulators> {
  const running: Array<[string, RunningSimulator]> = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(running.map(([, sim]) => sim.close()));
  };
  try {
    for (const [name, settings] of Object.entries(config) as Array<[keyof SimulatorsConfig, { listen: string } | undefined]>) {
      if (settings) running.push([name, await DEMOS[name](parseListen(settings.listen))]);
    }
  } catch (err) {
    // A half-started demo would leave ports bound behind a failed start.
    await closeAll();
    throw err;
  }
  return { urls: Object.fromEntries(running.map(([name, sim]) => [name, sim.url])), close: closeAll };
}

/**
 * The demo: each product's simulator with credentials and sizes that make a dashboard show life
 * within minutes (they match the targets of exporter.yml). Each product's simulator file exports
 * its own `startDemo`; this map is the one place they meet.
 */
import type { RunningSimulator } from './framework';
import { startDemo as startAhsayDemo } from './ahsay';
import { startDemo as startBlueXpDemo } from './bluexp';
import { startDemo as startCbrDemo } from './cbr';
import { startDemo as startOpsManagerDemo } from './opsmanager';

export { DEMO_OPSMANAGER_PRIVATE_KEY, DEMO_OPSMANAGER_PUBLIC_KEY } from './opsmanager';

export const PRODUCTS = ['opsmanager', 'bluexp', 'ahsay', 'cbr'] as const;
export type Product = (typeof PRODUCTS)[number];

/** The demo's addresses: the ones exporter.yml's targets point at. */
export const DEFAULT_PORTS: Record<Product, number> = { opsmanager: 19101, bluexp: 19102, ahsay: 19103, cbr: 19104 };

type DemoStarter = (listen: { host: string; port: number }) => Promise<RunningSimulator>;

const DEMOS: Record<Product, DemoStarter> = {
  opsmanager: startOpsManagerDemo,
  bluexp: startBlueXpDemo,
  ahsay: startAhsayDemo,
  cbr: startCbrDemo,
};

export interface Listen {
  host: string;
  port: number;
}

export interface RunningSimulators {
  /** Base URL per simulator (e.g. urls.opsmanager = "http://127.0.0.1:19101"). */
  urls: Partial<Record<Product, string>>;
  close(): Promise<void>;
}

/** Thrown when a simulator cannot listen; names the product so the caller can name its flag. */
export class ListenError extends Error {
  constructor(
    readonly product: Product,
    readonly listen: Listen,
    readonly error: NodeJS.ErrnoException,
  ) {
    super(`${product}: cannot listen on ${listen.host}:${listen.port}: ${error.code ?? error.message}`);
    this.name = 'ListenError';
  }
}

/** Starts the demo simulator of each product given, in order; none stays bound if one fails. */
export async function startSimulators(listen: Partial<Record<Product, Listen>>): Promise<RunningSimulators> {
  const running: Array<[Product, RunningSimulator]> = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(running.map(([, sim]) => sim.close()));
  };
  for (const product of PRODUCTS) {
    const address = listen[product];
    if (!address) continue;
    try {
      running.push([product, await DEMOS[product](address)]);
    } catch (err) {
      // A half-started demo would leave ports bound behind a failed start.
      await closeAll();
      throw new ListenError(product, address, err as NodeJS.ErrnoException);
    }
  }
  return { urls: Object.fromEntries(running.map(([name, sim]) => [name, sim.url])), close: closeAll };
}

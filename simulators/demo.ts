/**
 * The demo: each product's simulator with credentials and sizes that make a dashboard show life
 * within minutes (they match the targets of exporter.yml). Each product's simulator file exports
 * its `demo` definition; the list below is the one place they meet.
 */
import { demo as ahsay } from './ahsay';
import { demo as atlas } from './atlas';
import { demo as bluexp } from './bluexp';
import { demo as cbr } from './cbr';
import type { RunningSimulator } from './framework';
import { demo as opsmanager } from './opsmanager';

export { DEMO_OPSMANAGER_PRIVATE_KEY, DEMO_OPSMANAGER_PUBLIC_KEY } from './opsmanager';

/** One product of the demo. */
export interface DemoDefinition {
  product: string;
  /** The product's name for people (usage text). */
  title: string;
  /** Its port in the demo: the one exporter.yml's target points at. */
  port: number;
  start(listen: { host: string; port: number }): Promise<RunningSimulator>;
}

export const DEMOS = [opsmanager, bluexp, ahsay, cbr, atlas] as const;

export type Product = (typeof DEMOS)[number]['product'];
export const PRODUCTS = DEMOS.map((d) => d.product) as Product[];

/** The demo's addresses: the ones exporter.yml's targets point at. */
export const DEFAULT_PORTS = Object.fromEntries(DEMOS.map((d) => [d.product, d.port])) as Record<Product, number>;

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
      running.push([product, await DEMOS.find((d) => d.product === product)!.start(address)]);
    } catch (err) {
      // A half-started demo would leave ports bound behind a failed start.
      await closeAll();
      throw new ListenError(product, address, err as NodeJS.ErrnoException);
    }
  }
  return { urls: Object.fromEntries(running.map(([name, sim]) => [name, sim.url])), close: closeAll };
}

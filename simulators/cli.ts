/** The simulators program's command line: which products to serve, and where. */
import { parseListenAddress } from '../src/listen-address';
import { DEFAULT_PORTS, DEMOS, PRODUCTS, type Listen, type Product } from './demo';

export const USAGE = `usage: backup-simulators [product...] [flags]

Serves the demo product simulators that exporter.yml's targets point at, until SIGINT or SIGTERM.
Products: ${PRODUCTS.join(', ')} (default: all of them).

${DEMOS.map((d) => `  ${`--${d.product}=ADDR`.padEnd(19)}${d.title} (default 127.0.0.1:${d.port})`).join('\n')}
  --host=HOST        host of the default addresses and of ADDRs without one (default 127.0.0.1)
  -h, --help         this text

ADDR is host:port, [ipv6]:port, :port or port; port 0 picks a free port. Each simulator prints
"<product> listening on <url>" when it listens, and "ready" follows once all of them do.
`;

export class UsageError extends Error {}

export interface Args {
  help: boolean;
  /** The products to serve and their addresses, in the order of PRODUCTS. */
  listen: Partial<Record<Product, Listen>>;
  /** The flag that set each address, as given, or as it would be given for a default: for error messages. */
  flags: Partial<Record<Product, string>>;
}

function isProduct(name: string): name is Product {
  return (PRODUCTS as readonly string[]).includes(name);
}

/** host:port, [ipv6]:port, :port or a bare port; the host defaults to `host`. */
export function parseListen(address: string, host = '127.0.0.1'): Listen {
  const text = address.trim();
  const parsed = parseListenAddress(/^\d+$/.test(text) ? `:${text}` : text);
  return { host: parsed.host ?? host, port: parsed.port };
}

export function parseArgs(argv: readonly string[]): Args {
  const selected: Product[] = [];
  const given: Partial<Record<Product, string>> = {};
  let host = '127.0.0.1';
  let help = false;
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const flag = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!flag) {
      if (!isProduct(arg)) throw new UsageError(`unknown product "${arg}" (want ${PRODUCTS.join(', ')})`);
      if (!selected.includes(arg)) selected.push(arg);
      continue;
    }
    const [, name = '', value] = flag;
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value: --${name}=...`);
    if (name === 'host') host = value;
    else if (isProduct(name)) given[name] = value;
    else throw new UsageError(`unknown flag --${name}`);
  }
  const products = selected.length > 0 ? selected : [...PRODUCTS];
  const listen: Args['listen'] = {};
  const flags: Args['flags'] = {};
  for (const product of PRODUCTS) {
    const value = given[product];
    if (!products.includes(product)) {
      if (value !== undefined) throw new UsageError(`--${product} given, but ${product} is not among the products to serve (${products.join(', ')})`);
      continue;
    }
    const address = value ?? `${host.includes(':') ? `[${host}]` : host}:${DEFAULT_PORTS[product]}`;
    try {
      listen[product] = parseListen(address, host);
    } catch (err) {
      throw new UsageError(`--${product}=${address}: ${(err as Error).message}`);
    }
    flags[product] = `--${product}=${address}`;
  }
  return { help, listen, flags };
}

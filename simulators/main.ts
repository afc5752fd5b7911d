#!/usr/bin/env node
/**
 * The simulators program: serves the demo product simulators until SIGINT or SIGTERM. Apart from
 * the exporter so that nothing of it ships with the exporter, and so that the exporter talks to it
 * over the network exactly as it talks to a real product.
 */
import { parseArgs, USAGE, UsageError, type Args } from './cli';
import { ListenError, startSimulators, type Product } from './demo';

const PROGRAM = 'backup-simulators';

/** What a listen failure means, in words: the codes Node reports for a bad or busy address. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
};

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${PROGRAM}: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let running: Awaited<ReturnType<typeof startSimulators>>;
  try {
    running = await startSimulators(args.listen);
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    const code = err.error.code ?? '';
    const why = LISTEN_ERRORS[code] ? `${LISTEN_ERRORS[code]} (${code})` : err.error.message;
    process.stderr.write(`${PROGRAM}: ${args.flags[err.product]}: cannot listen: ${why}\n`);
    return 1;
  }
  for (const [product, url] of Object.entries(running.urls) as Array<[Product, string]>) {
    process.stdout.write(`${product} listening on ${url}\n`);
  }
  process.stdout.write('ready\n');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${PROGRAM}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
/** Entry point: flags, configuration, the demo simulators, the HTTP server and signals. */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { parseFlags, USAGE, UsageError } from './cli';
import type { Flags } from './cli';
import { ConfigError, loadConfigFile } from './config/load';
import type { Config } from './config/schema';
import { Exporter } from './exporter';
import { parseListenAddress } from './listen-address';
import { createExporterMetrics } from './metrics';
import { createApp } from './server';
import { startSimulators } from './simulators';

/** Longest a graceful stop waits for scrapes in flight. */
const STOP_GRACE_MS = 10_000;

export const VERSION: string = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

async function main(argv: string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`backup-exporter: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`backup-exporter ${VERSION} (node ${process.version})\n`);
    return 0;
  }

  let config: Config;
  try {
    config = loadConfigFile(flags.configFile);
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : `${flags.configFile}: ${err instanceof Error ? err.message : String(err)}`}\n`);
    return 1;
  }
  if (flags.configCheck) {
    process.stdout.write(`${flags.configFile}: valid (${config.targets.length} target${config.targets.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  await serve(flags, config);
  return -1;
}

async function serve(flags: Flags, config: Config): Promise<void> {
  const log = pino({ level: flags.logLevel, base: { app: 'backup-exporter' } });
  const simulators = await startSimulators(config.simulators);
  const metrics = createExporterMetrics(VERSION);
  const exporter = new Exporter(flags.configFile, config, metrics, log, VERSION);
  let ready = false;
  const app = createApp(exporter, log, () => ready);
  const { host, port } = parseListenAddress(flags.listenAddress);
  const server = await new Promise<Server>((resolve, reject) => {
    // Without a host Node listens on every interface, IPv6 and IPv4 where the machine has both.
    const s = host === undefined ? app.listen(port, () => resolve(s)) : app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  }).catch((err: Error): never => {
    log.fatal({ err: err.message, address: flags.listenAddress }, 'cannot listen');
    process.exit(1);
  });
  ready = true;
  log.info(
    { version: VERSION, address: flags.listenAddress, config: flags.configFile, targets: config.targets.length, simulators: simulators.urls },
    'backup-exporter started',
  );

  process.on('SIGHUP', () => {
    void exporter.reload();
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing scrapes in flight');
    const force = setTimeout(() => {
      log.warn('scrapes still in flight after the grace period; exiting');
      process.exit(0);
    }, STOP_GRACE_MS);
    force.unref();
    server.close(() => {
      void Promise.all([exporter.close(), simulators.close()]).finally(() => {
        log.info('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`backup-exporter: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
/** Entry point: flags, configuration, the HTTP server and signals. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:http';
import https from 'node:https';
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
import { loadWebConfig } from './web-config';
import type { WebConfig } from './web-config';

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

  // Both files are checked before either is reported, so that one run names every problem.
  let config: Config | undefined;
  let webConfig: WebConfig | undefined;
  const problems: string[] = [];
  try {
    config = loadConfigFile(flags.configFile);
  } catch (err) {
    problems.push(err instanceof ConfigError ? err.message : `${flags.configFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    webConfig = flags.webConfigFile ? loadWebConfig(flags.webConfigFile) : undefined;
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0 || !config) {
    process.stderr.write(`${problems.join('\n')}\n`);
    return 1;
  }
  if (flags.configCheck) {
    process.stdout.write(`${flags.configFile}: valid (${config.targets.length} target${config.targets.length === 1 ? '' : 's'})\n`);
    if (flags.webConfigFile) process.stdout.write(`${flags.webConfigFile}: valid\n`);
    return 0;
  }
  await serve(flags, config, webConfig);
  return -1;
}

async function serve(flags: Flags, config: Config, initialWebConfig: WebConfig | undefined): Promise<void> {
  let webConfig = initialWebConfig;
  const log = pino({ level: flags.logLevel, base: { app: 'backup-exporter' } });
  const metrics = createExporterMetrics(VERSION);
  const exporter = new Exporter(flags.configFile, config, metrics, log, VERSION);
  let ready = false;
  const app = createApp(exporter, log, { isReady: () => ready, webConfig: () => webConfig, lifecycle: flags.enableLifecycle, showConfig: !flags.hideConfig });
  const { host, port } = parseListenAddress(flags.listenAddress);
  const server: Server = webConfig?.tls ? https.createServer(tlsOptions(webConfig.tls), app) : http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Without a host Node listens on every interface, IPv6 and IPv4 where the machine has both.
    if (host === undefined) server.listen(port, resolve);
    else server.listen(port, host, resolve);
  }).catch((err: Error): never => {
    log.fatal({ err: err.message, address: flags.listenAddress }, 'cannot listen');
    process.exit(1);
  });
  ready = true;
  log.info(
    {
      version: VERSION,
      address: flags.listenAddress,
      tls: Boolean(webConfig?.tls),
      basic_auth: (webConfig?.users.size ?? 0) > 0,
      config: flags.configFile,
      targets: config.targets.length,
    },
    'backup-exporter started',
  );

  process.on('SIGHUP', () => {
    void exporter.reload();
    if (flags.webConfigFile) webConfig = reloadWebConfig(flags.webConfigFile, webConfig, server, log);
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
      void exporter.close().finally(() => {
        log.info('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function tlsOptions(tls: NonNullable<WebConfig['tls']>): https.ServerOptions {
  const { cert, key, ca, requestCert, rejectUnauthorized, minVersion, maxVersion } = tls;
  return { cert, key, ca, requestCert, rejectUnauthorized, minVersion, maxVersion };
}

/**
 * Re-reads the web configuration on SIGHUP: new users and headers apply to the next request, new
 * certificates to the next connection. TLS cannot be switched on or off without a restart.
 */
function reloadWebConfig(file: string, previous: WebConfig | undefined, server: Server, log: pino.Logger): WebConfig | undefined {
  try {
    const next = loadWebConfig(file);
    if (Boolean(next.tls) !== Boolean(previous?.tls)) {
      log.error({ file }, 'web configuration reload: switching TLS on or off needs a restart; keeping the running web configuration');
      return previous;
    }
    if (next.tls) (server as https.Server).setSecureContext(tlsOptions(next.tls));
    log.info({ file }, 'web configuration reloaded');
    return next;
  } catch (err) {
    log.error({ file, err: (err as Error).message }, 'web configuration reload failed; keeping the running web configuration');
    return previous;
  }
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

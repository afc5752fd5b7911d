import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { request } from 'undici';
import { loadConfigFile } from '../../src/config/load';
import { Exporter } from '../../src/exporter';
import { createExporterMetrics } from '../../src/metrics';
import { createApp } from '../../src/server';
import type { AppOptions } from '../../src/server';

export interface RunningExporter {
  url: string;
  exporter: Exporter;
  configFile: string;
  /** Every log line written so far. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * An exporter on 127.0.0.1 with the given exporter.yml text, in this process; its endpoints as
 * the flags' defaults leave them unless `web` says otherwise (e.g. `{ lifecycle: true }`).
 */
export async function startExporter(yaml: string, web: Omit<AppOptions, 'isReady'> = {}): Promise<RunningExporter> {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-test-'));
  const configFile = join(dir, 'exporter.yml');
  writeFileSync(configFile, yaml);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const exporter = new Exporter(configFile, loadConfigFile(configFile), createExporterMetrics('0.0.0-test'), log, '0.0.0-test');
  const app = createApp(exporter, log, { isReady: () => true, ...web });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exporter,
    configFile,
    logs,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await exporter.close();
    },
  };
}

/** Samples of an exposition as [name{labels}, value]; comment lines dropped. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Samples of one metric whose labels include all of `labels`. */
export function series(text: string, name: string, labels: Record<string, string> = {}): Array<[string, number]> {
  return [...samples(text)].filter(
    ([key]) => key.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`)),
  );
}

/** An afterEach for this test file that closes whatever was tracked during the test; returns the tracker. */
export function closedAfterEach(): <T extends { close(): Promise<unknown> }>(item: T) => T {
  const open: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((item) => item.close()));
  });
  return (item) => {
    open.push(item);
    return item;
  };
}

/** GET `url`: the status and the body as text. */
export async function fetchText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(url, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, text: await res.body.text() };
}

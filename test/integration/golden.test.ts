/**
 * Golden expositions, one per provider (in the manner of json_exporter's testdata): a fixture server
 * answers one collection from test/golden/<provider>/answers.json, and what the exporter renders
 * must equal test/golden/<provider>/expected.prom byte for byte. `npm run golden:update` rewrites
 * the expected files; test/golden/README.md describes the format.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { TargetRuntime } from '../../src/collect';
import { parseConfig } from '../../src/config/load';
import { createExporterMetrics, joinRendered } from '../../src/metrics';
import { UnknownStatusLog } from '../../src/model';
import { PROVIDER_NAMES } from '../../src/providers';
import type { ProviderName } from '../../src/providers';
import { promtoolCheckMetrics } from '../helpers/promtool';
import { startServer } from '../helpers/servers';
import type { TestServer } from '../helpers/servers';

const ROOT = resolve(__dirname, '..', '..');
const GOLDEN = join(ROOT, 'test', 'golden');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/**
 * The clock of a case (epoch ms): the `# clock: <ISO-8601 UTC>` line of its config.yml, just after the
 * day its fixture files describe (the shapes come from the products' documentation examples, each
 * dated on its own day). It fixes the lookback window, the days or start times a provider asks for,
 * and backup_collect_timestamp_seconds.
 */
function clockOf(provider: string): number {
  const file = join(GOLDEN, provider, 'config.yml');
  const line = /^# clock: (\S+)$/m.exec(readFileSync(file, 'utf8'));
  const ms = line ? Date.parse(line[1]!) : NaN;
  if (!Number.isFinite(ms)) throw new Error(`${file}: needs a "# clock: <ISO-8601 UTC>" line`);
  return ms;
}

/** One case per registered provider: a provider without its golden case fails here. */
const CLOCKS: ReadonlyArray<readonly [ProviderName, number]> = PROVIDER_NAMES.map((provider) => [provider, clockOf(provider)] as const);

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** `key=value` pairs sorted and joined with `&`, decoded (the route table stays readable). */
function canonicalQuery(search: string): string {
  const pairs = [...new URLSearchParams(search)].map(([k, v]) => `${k}=${v}`);
  pairs.sort();
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** JSON with every object's keys sorted and no spaces; text that is not JSON stays as it is. */
function canonicalBody(text: string): string {
  if (text === '') return '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sorted(value));
}

/** The route key of a request: `GET /path?sorted&query` or `POST /path <canonical JSON body>`. */
function routeKey(method: string, url: string, body: string): string {
  const parsed = new URL(url, 'http://golden.invalid');
  const key = `${method} ${parsed.pathname}${canonicalQuery(parsed.search)}`;
  const canonical = canonicalBody(body);
  return canonical === '' ? key : `${key} ${canonical}`;
}

/**
 * Replaces every string "@<file>" or "@<file>#<JSON pointer>" in `value` by that file of
 * test/fixtures/<provider>/ (or the part the pointer names); "@@..." is the literal string "@...".
 */
function resolveFixtures(value: unknown, provider: string, where: string): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('@@')) return value.slice(1);
    if (!value.startsWith('@')) return value;
    const [file, pointer] = value.slice(1).split('#', 2) as [string, string | undefined];
    let found: unknown = JSON.parse(readFileSync(join(FIXTURES, provider, file), 'utf8'));
    for (const token of (pointer ?? '').split('/').slice(1)) {
      const segment = token.replace(/~1/g, '/').replace(/~0/g, '~');
      if (found === null || typeof found !== 'object' || !Object.prototype.hasOwnProperty.call(found, segment)) {
        throw new Error(`${where}: ${value} names nothing in ${file}`);
      }
      found = (found as Record<string, unknown>)[segment];
    }
    return found;
  }
  if (Array.isArray(value)) return value.map((item) => resolveFixtures(item, provider, where));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveFixtures(v, provider, where)]));
  }
  return value;
}

function loadAnswers(provider: string): Map<string, Answer> {
  const file = join(GOLDEN, provider, 'answers.json');
  const table = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Answer>;
  const answers = new Map<string, Answer>();
  for (const [key, answer] of Object.entries(table)) {
    const [method, rest] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
    const space = rest.indexOf(' ');
    const url = space < 0 ? rest : rest.slice(0, space);
    const body = space < 0 ? '' : rest.slice(space + 1);
    // Written the way routeKey writes a request, or it could never match.
    const canonical = routeKey(method, url, body);
    if (canonical !== key) throw new Error(`${file}: route "${key}" is not canonical; write it as "${canonical}"`);
    answers.set(key, { ...answer, body: resolveFixtures(answer.body, provider, `${file} "${key}"`) });
  }
  return answers;
}

interface FixtureServer extends TestServer {
  /** Route keys of requests no route answered, in order. */
  unanswered: string[];
  /** Route keys asked for, with how often. */
  asked: Map<string, number>;
}

/** Answers from the route table; authentication headers are not looked at (no digest challenge either). */
async function startFixtureServer(answers: Map<string, Answer>): Promise<FixtureServer> {
  const unanswered: string[] = [];
  const asked = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const key = routeKey(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'));
      asked.set(key, (asked.get(key) ?? 0) + 1);
      const answer = answers.get(key);
      if (!answer) {
        unanswered.push(key);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'no route in answers.json' }));
        return;
      }
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.body));
    });
  };
  const server = await startServer(handler);
  return { ...server, unanswered, asked };
}

describe.each(CLOCKS)('golden exposition: %s', (provider, now) => {
  const dir = join(GOLDEN, provider);
  let server: FixtureServer | undefined;
  let runtime: TargetRuntime | undefined;

  afterEach(async () => {
    await runtime?.close();
    await server?.close();
    runtime = undefined;
    server = undefined;
  });

  test(`fixture answers in, ${provider}/expected.prom out`, async () => {
    const answers = loadAnswers(provider);
    server = await startFixtureServer(answers);
    const text = readFileSync(join(dir, 'config.yml'), 'utf8').replaceAll('${URL}', server.url);
    const config = parseConfig(text, { baseDir: dir, env: {}, source: `test/golden/${provider}/config.yml` });
    expect(config.targets.map((t) => t.provider)).toEqual([provider]);
    runtime = new TargetRuntime(config.targets[0]!, createExporterMetrics('golden'), pino({ level: 'silent' }), new UnknownStatusLog(), 'golden', () => now);

    const result = await runtime.collect(10_000);

    // Every request answered, every route asked for: the table is exactly what one collection asks.
    expect(server.unanswered).toEqual([]);
    expect([...answers.keys()].filter((key) => !server!.asked.has(key))).toEqual([]);
    expect(result.error?.message).toBeUndefined();
    const exposition = joinRendered([result.rendered]);
    expect(promtoolCheckMetrics(exposition)).toBe('');

    const expectedFile = join(dir, 'expected.prom');
    if (UPDATE) {
      writeFileSync(expectedFile, exposition);
      return;
    }
    if (!existsSync(expectedFile)) throw new Error(`${expectedFile} is missing: run npm run golden:update`);
    expect(exposition).toBe(readFileSync(expectedFile, 'utf8'));
  });
});

/**
 * /docs/: the documentation that `npm run build` renders into dist/docs (scripts/build-docs.mjs),
 * served by the exporter (src/docs-pages.ts). Every page linked from the index answers, every link
 * between pages and every heading anchor they use exists, every alert's runbook_url has its anchor in
 * runbooks.html, and nothing but the rendered pages can be had (no traversal, no other files).
 *
 * Needs the build: `npm run build` (npm test and npm run test:integration do it).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import express from 'express';
import { parse } from 'yaml';
import { DOCS_DIR, docsPages } from '../../src/docs-pages';
import { startExporter } from '../helpers/exporter';
import type { RunningExporter } from '../helpers/exporter';
import { ROOT } from '../helpers/process';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request with `path` sent exactly as given (no URL normalisation of `..` by the client). */
function raw(base: string, path: string, method = 'GET'): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

const ids = (html: string) => new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
const hrefs = (html: string) => [...html.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));

let ex: RunningExporter;
beforeAll(async () => {
  if (readdirSync(DOCS_DIR, { withFileTypes: true }).length === 0) throw new Error(`${DOCS_DIR} is empty: run \`npm run build\``);
  ex = await startExporter('targets: []\n');
});
afterAll(async () => {
  await ex?.close();
});

test('/docs/ is the index: HTML in UTF-8, linking every rendered page of docs/ and docs/providers/', async () => {
  const res = await raw(ex.url, '/docs/');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  const expected = [
    ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')),
    ...readdirSync(join(ROOT, 'docs', 'providers'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `providers/${f}`),
  ].map((f) => f.replace(/\.md$/, '.html'));
  expect(expected).toContain('runbooks.html');
  for (const page of expected) expect(hrefs(res.text)).toContain(page);
});

test('/docs redirects to /docs/, where the pages\' relative links work', async () => {
  const res = await raw(ex.url, '/docs');
  expect(res.status).toBe(301);
  expect(res.headers.location).toBe('/docs/');
});

test('the landing page links /docs/', async () => {
  const res = await raw(ex.url, '/');
  expect(hrefs(res.text)).toContain('/docs/');
});

test('every page answers, and every link between pages leads to a page and a heading that exist', async () => {
  const index = await raw(ex.url, '/docs/');
  const pages = hrefs(index.text).filter((h) => h.endsWith('.html'));
  const bodies = new Map<string, string>([['index.html', index.text]]);
  for (const page of pages) {
    const res = await raw(ex.url, `/docs/${page}`);
    expect({ page, status: res.status }).toEqual({ page, status: 200 });
    bodies.set(page, res.text);
  }
  const broken: string[] = [];
  let checked = 0;
  for (const [page, html] of bodies) {
    for (const href of hrefs(html)) {
      if (/^[a-z]+:|^\//.test(href)) continue; // the landing page "/" and outside links
      const [path, anchor] = href.split('#');
      const target = path ? posix.normalize(posix.join(posix.dirname(page), path)) : page;
      const body = bodies.get(target);
      checked += 1;
      if (body === undefined || (anchor && !ids(body).has(anchor))) broken.push(`${page}: ${href}`);
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(50);
});

test('runbooks.html holds the anchor of every runbook_url in alerts/*.yml and prometheusrule.yaml, and the default base is this page', async () => {
  const res = await raw(ex.url, '/docs/runbooks.html');
  expect(res.status).toBe(200);
  const anchors = ids(res.text);
  type Rules = { groups: Array<{ rules: Array<{ alert?: string; annotations?: Record<string, string> }> }> };
  const ruleFiles = readdirSync(join(ROOT, 'alerts')).filter((f) => /\.ya?ml$/.test(f));
  const groups = [
    ...ruleFiles.flatMap((f) => (parse(readFileSync(join(ROOT, 'alerts', f), 'utf8')) as Rules).groups),
    ...(parse(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'prometheusrule.yaml'), 'utf8')) as { spec: Rules }).spec.groups,
  ];
  const urls = groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.annotations?.runbook_url ?? `(none for ${r.alert})`] : []));
  expect(urls.length).toBeGreaterThan(10);
  const missing = urls.filter((url) => !/^https?:\/\//.test(url) || !anchors.has(new URL(url).hash.slice(1)));
  expect(missing).toEqual([]);

  const base = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config: { runbook_base_url: string } }).config.runbook_base_url;
  const { pathname } = new URL(base);
  if (pathname.startsWith('/docs/')) expect((await raw(ex.url, pathname)).status).toBe(200);
});

test.each([
  ['/docs/nope.html', 'not found: /docs/nope.html; the pages are listed at /docs/'],
  ['/docs/runbooks.md', 'not found: /docs/runbooks.md'],
  ['/docs/providers/', 'not found: /docs/providers/'],
  ['/docs/../config', 'not found'],
  ['/docs/..%2fconfig', 'not found'],
  ['/docs/%2e%2e/%2e%2e/package.json', 'not found'],
  ['/docs/providers/../../package.json', 'not found'],
  ['/docs//etc/passwd', 'not found'],
])('GET %s -> 404 with one line', async (path, line) => {
  const res = await raw(ex.url, path);
  expect(res.status).toBe(404);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  expect(res.text).toContain(line);
  expect(res.text.trim().split('\n')).toHaveLength(1);
});

test('HEAD answers like GET without a body; other methods are refused with 405', async () => {
  const head = await raw(ex.url, '/docs/runbooks.html', 'HEAD');
  expect(head.status).toBe(200);
  expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(head.text).toBe('');
  const post = await raw(ex.url, '/docs/runbooks.html', 'POST');
  expect(post.status).toBe(405);
  expect(post.text).toContain('method POST not allowed on /docs/runbooks.html');
});

describe('a folder of pages of its own', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });
  async function serve(dir: string): Promise<string> {
    const app = express();
    app.use('/docs', docsPages(dir));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  test('only .html files are served; links and other files are not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-docs-'));
    const outside = mkdtempSync(join(tmpdir(), 'backup-exporter-outside-'));
    writeFileSync(join(outside, 'secret.html'), 'outside');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'index.html'), '<p>index</p>');
    writeFileSync(join(dir, 'sub', 'page.html'), '<p>page</p>');
    writeFileSync(join(dir, 'notes.txt'), 'text');
    symlinkSync(join(outside, 'secret.html'), join(dir, 'linked.html'));
    const url = await serve(dir);
    expect((await raw(url, '/docs/')).text).toBe('<p>index</p>');
    expect((await raw(url, '/docs/sub/page.html')).text).toBe('<p>page</p>');
    expect((await raw(url, '/docs/notes.txt')).status).toBe(404);
    expect((await raw(url, '/docs/linked.html')).status).toBe(404);
  });

  test('without a build the answer says so', async () => {
    const url = await serve(join(tmpdir(), 'backup-exporter-no-such-folder', 'docs'));
    const res = await raw(url, '/docs/');
    expect(res.status).toBe(404);
    expect(res.text).toContain('has no documentation (`npm run build` renders it into dist/docs)');
  });
});

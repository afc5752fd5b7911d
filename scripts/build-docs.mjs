#!/usr/bin/env node
// Renders docs/*.md and docs/providers/*.md to HTML in dist/docs/, which the exporter serves at
// /docs/ (src/docs-pages.ts): the project has no public home page, so every running exporter carries
// the documentation of its own version, and alert runbook_urls can point at it. Part of `npm run build`.
//
// Headings get GitHub's ids (runbooks.html#backuptargetdown is the same anchor as on GitHub), links
// between the Markdown files become links between the pages, and a link to a file outside docs/ (which
// the exporter does not serve) keeps its text and names the repository path. A link to a missing page
// or heading stops the build with every broken link listed.
//
//   node scripts/build-docs.mjs                       docs/ -> dist/docs/
//   --docs-dir=DIR / --out=DIR                        other input / output folder
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Marked } from 'marked';
import { gfmHeadingId, getHeadingList } from 'marked-gfm-heading-id';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The folders below docs/ that are rendered, besides docs/ itself. */
const SUBDIRS = ['providers'];

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** The Markdown files to render, as posix paths relative to the docs folder, index order. */
function sources(docsDir) {
  const list = (sub) => {
    const dir = join(docsDir, sub);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.md') && statSync(join(dir, name)).isFile())
      .sort()
      .map((name) => (sub ? `${sub}/${name}` : name));
  };
  return [list(''), ...SUBDIRS.map(list)].flat();
}

const htmlName = (mdPath) => mdPath.replace(/\.md$/, '.html');

/**
 * Where a relative link of page `from` leads: a page with an optional anchor, the index, or a file
 * outside the rendered set (`repoPath`, relative to the repository root). Absolute URLs and `#x` are left alone.
 */
export function resolveLink(from, href, pages) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//') || href.startsWith('#') || href === '') return { keep: true };
  const [path, anchor] = href.split('#', 2);
  const target = posix.normalize(posix.join(posix.dirname(from), path));
  if (target.startsWith('../') || target === '..') return { repoPath: posix.normalize(posix.join('docs', posix.dirname(from), path)) };
  if (target === '.' || target === './' || SUBDIRS.some((d) => target === d || target === `${d}/`)) return { page: 'index.html', anchor };
  if (target.endsWith('.md')) return { page: htmlName(target), anchor, missing: !pages.includes(target) };
  return { repoPath: posix.join('docs', target) };
}

function pageHtml({ title, body, depth, version }) {
  const up = depth > 0 ? '../'.repeat(depth) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Backup Exporter</title>
<style>
body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em;line-height:1.45}
nav{font-size:.9em;border-bottom:1px solid #ccc;padding-bottom:.4em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 .2em}pre{background:#f4f4f4;padding:.6em;overflow-x:auto}pre code{padding:0}
.repo-path{border-bottom:1px dotted #888}
</style></head>
<body><nav><a href="/">Exporter</a> · <a href="${up}index.html">Documentation</a> · version ${escapeHtml(version)}</nav>
${body}</body></html>
`;
}

/** Renders every page of `docsDir` into `outDir` (emptied first); returns the pages written. Throws on broken links. */
export function buildDocs({ docsDir = join(ROOT, 'docs'), outDir = join(ROOT, 'dist', 'docs'), version = packageVersion() } = {}) {
  const pages = sources(docsDir);
  const links = [];
  const rendered = [];
  for (const page of pages) {
    const marked = new Marked({ gfm: true }, gfmHeadingId());
    marked.use({
      renderer: {
        link(token) {
          const text = this.parser.parseInline(token.tokens);
          const to = resolveLink(page, token.href, pages);
          if (to.repoPath) return `<span class="repo-path" title="${escapeHtml(`${to.repoPath} in the source repository`)}">${text}</span>`;
          let href = token.href;
          if (to.page) {
            const relativeHref = posix.relative(posix.dirname(page), to.page) || to.page;
            href = to.anchor ? `${relativeHref}#${to.anchor}` : relativeHref;
            links.push({ from: page, href: token.href, page: to.page, anchor: to.anchor, missing: to.missing });
          } else if (token.href.startsWith('#')) {
            links.push({ from: page, href: token.href, page: htmlName(page), anchor: token.href.slice(1) });
          }
          const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
          return `<a href="${escapeHtml(href)}"${title}>${text}</a>`;
        },
      },
    });
    const body = marked.parse(readFileSync(join(docsDir, page), 'utf8'), { async: false });
    const headings = getHeadingList();
    const h1 = headings.find((h) => h.level === 1);
    const title = h1 ? h1.raw : page;
    rendered.push({ page, html: htmlName(page), title, ids: new Set(headings.map((h) => h.id)), body });
  }

  const byHtml = new Map(rendered.map((r) => [r.html, r]));
  const broken = links.filter((link) => {
    if (link.missing) return true;
    if (link.page === 'index.html' || !link.anchor) return false;
    return !byHtml.get(link.page)?.ids.has(link.anchor);
  });
  if (broken.length) {
    const where = relative(ROOT, docsDir);
    throw new Error(`broken links in ${where && !where.startsWith('..') ? where : docsDir}:\n${broken.map((l) => `  ${l.from}: ${l.href}`).join('\n')}`);
  }

  rmSync(outDir, { recursive: true, force: true });
  for (const r of rendered) {
    const file = join(outDir, r.html);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, pageHtml({ title: r.title, body: r.body, depth: r.html.split('/').length - 1, version }));
  }
  const item = (r) => `<li><a href="${escapeHtml(r.html)}">${escapeHtml(r.title)}</a></li>`;
  const top = rendered.filter((r) => !r.html.includes('/'));
  const sections = SUBDIRS.map((sub) => {
    const inSub = rendered.filter((r) => r.html.startsWith(`${sub}/`));
    return inSub.length ? `<h2 id="${sub}">${sub[0].toUpperCase()}${sub.slice(1)}</h2>\n<ul>${inSub.map(item).join('\n')}</ul>\n` : '';
  }).join('');
  const index = `<h1 id="documentation">Backup Exporter documentation</h1>
<p>The documentation of the exporter that serves it. Alert rules link their runbooks here:
<a href="runbooks.html">runbooks.html</a>.</p>
<ul>${top.map(item).join('\n')}</ul>
${sections}`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'index.html'), pageHtml({ title: 'Documentation', body: index, depth: 0, version }));
  return ['index.html', ...rendered.map((r) => r.html)];
}

function packageVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
}

function main(argv) {
  const options = {};
  for (const arg of argv) {
    if (arg.startsWith('--docs-dir=')) options.docsDir = resolve(arg.slice('--docs-dir='.length));
    else if (arg.startsWith('--out=')) options.outDir = resolve(arg.slice('--out='.length));
    else {
      process.stderr.write(`unknown argument ${JSON.stringify(arg)}\nusage: node scripts/build-docs.mjs [--docs-dir=DIR] [--out=DIR]\n`);
      return 2;
    }
  }
  try {
    buildDocs(options);
  } catch (err) {
    process.stderr.write(`build-docs: ${err.message}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}

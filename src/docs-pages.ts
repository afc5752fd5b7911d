/**
 * The exporter's own documentation at /docs/: the HTML pages that scripts/build-docs.mjs rendered
 * from docs/ at build time (`npm run build`), so a running exporter links the documentation of its
 * own version and alert runbook_urls can point at it.
 *
 * The pages are read once, when the handler is made, into a map from URL path to content: a request
 * names a key of that map or gets a 404, so no part of a URL ever reaches the file system (no
 * traversal, no directory listings, nothing but the rendered .html files). The docs hold no secrets.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Request, RequestHandler, Response } from 'express';

/** dist/docs/ from src/ (ts-jest) and from dist/ (the build) alike: both are one level below the package. */
export const DOCS_DIR = resolve(__dirname, '..', 'dist', 'docs');

const CONTENT_TYPE = 'text/html; charset=utf-8';
/** Our own pages use inline styles and nothing else; a header of the web configuration wins. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/** The .html files below `dir` by URL path ("/index.html", "/providers/cbr.html"); empty when `dir` is missing. */
export function loadDocs(dir: string = DOCS_DIR): Map<string, Buffer> {
  const pages = new Map<string, Buffer>();
  const visit = (folder: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(folder).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(folder, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) visit(path, `${prefix}${name}/`);
      else if (stat.isFile() && name.endsWith('.html')) pages.set(`${prefix}${name}`, readFileSync(path));
    }
  };
  visit(dir, '/');
  return pages;
}

/** The handler to mount at /docs: GET and HEAD of a rendered page, /docs/ for the index. */
export function docsPages(dir: string = DOCS_DIR): RequestHandler {
  const pages = loadDocs(dir);
  return (req: Request, res: Response) => {
    const where = `${req.baseUrl}${req.path}`.slice(0, 200);
    // /docs without the slash: the pages' relative links need /docs/ as their base.
    if (req.path === '/' && !req.originalUrl.split('?')[0].endsWith('/')) {
      res.redirect(301, `${req.baseUrl}/`);
      return;
    }
    const page = pages.get(req.path === '/' ? '/index.html' : req.path);
    if (!page) {
      const hint = pages.size ? `the pages are listed at ${req.baseUrl}/` : 'this build of the exporter has no documentation (`npm run build` renders it into dist/docs)';
      res.status(404).type('text/plain').send(`not found: ${where}; ${hint}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('Allow', 'GET, HEAD').type('text/plain').send(`method ${req.method} not allowed on ${where}\n`);
      return;
    }
    res.setHeader('Content-Type', CONTENT_TYPE);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!res.getHeader('Content-Security-Policy')) res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.send(page);
  };
}

/** The exporter's HTTP endpoints. */
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { redactConfig } from './config/redact';
import { docsPages } from './docs-pages';
import type { Exporter } from './exporter';
import type { CollectResult } from './collect';
import { CONTENT_TYPE, jobsInState } from './metrics';
import { webProtection } from './web-config';
import type { WebConfig } from './web-config';

const SCRAPE_TIMEOUT_HEADER = 'x-prometheus-scrape-timeout-seconds';
const MAX_QUERY_LENGTH = 2048;
/** The documentation the exporter serves itself (see docs-pages.ts), of the version that runs. */
const DOCS_URL = '/docs/';

export interface AppOptions {
  isReady: () => boolean;
  /** The running web configuration (TLS, basic authentication, headers); none when undefined. */
  webConfig?: () => WebConfig | undefined;
  /** POST /-/reload answers only when true (--web.enable-lifecycle); SIGHUP always reloads. */
  lifecycle?: boolean;
  /** GET /config shows the redacted configuration unless false (--web.hide-config). */
  showConfig?: boolean;
}

export function createApp(exporter: Exporter, log: Logger, options: AppOptions): express.Express {
  const { isReady, webConfig = () => undefined, lifecycle = false, showConfig = true } = options;
  const app = express();
  app.disable('x-powered-by');
  // Every scrape's answer is new: a hash of a large exposition would cost time and serve no cache.
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(webProtection(webConfig));

  app.use((req, res, next) => {
    const query = req.originalUrl.split('?')[1] ?? '';
    if (query.length > MAX_QUERY_LENGTH) {
      res.status(414).type('text/plain').send(`query string longer than ${MAX_QUERY_LENGTH} characters\n`);
      return;
    }
    next();
  });

  app.get('/metrics', async (req, res, next) => {
    const only = req.query.targets;
    if (Array.isArray(only)) {
      res.status(400).type('text/plain').send(`parameter "targets" given ${only.length} times: it takes one value, "none"\n`);
      return;
    }
    if (only !== undefined && only !== 'none') {
      res.status(400).type('text/plain').send('parameter "targets" takes only the value "none" (the exporter\'s own metrics, no collection)\n');
      return;
    }
    try {
      // ?targets=none: when the targets are scraped through /probe, /metrics must not collect them again.
      const names = only === 'none' ? [] : exporter.targets.map((t) => t.config.name);
      const exposition = await exporter.metrics.exposition(() => exporter.scrape(names, req.header(SCRAPE_TIMEOUT_HEADER)));
      res.type(CONTENT_TYPE).send(exposition);
    } catch (err) {
      next(err);
    }
  });

  app.get('/probe', async (req, res, next) => {
    const name = req.query.target;
    if (Array.isArray(name)) {
      res.status(400).type('text/plain').send(`parameter "target" given ${name.length} times: /probe takes one target per scrape\n`);
      return;
    }
    if (typeof name !== 'string' || name === '') {
      res.status(400).type('text/plain').send('missing parameter "target": /probe?target=<name of a target in the configuration>\n');
      return;
    }
    if (!exporter.target(name)) {
      const known = exporter.targets.map((t) => t.config.name);
      res
        .status(400)
        .type('text/plain')
        .send(`unknown target ${JSON.stringify(name.slice(0, 100))}; configured targets: ${known.join(', ') || '(none)'}\n`);
      return;
    }
    try {
      res.type(CONTENT_TYPE).send(await exporter.scrape([name], req.header(SCRAPE_TIMEOUT_HEADER)));
    } catch (err) {
      next(err);
    }
  });

  // Prometheus http_sd_configs: one entry per target, for the multi-target /probe pattern and for
  // sharding targets across exporter replicas with hashmod.
  app.get('/sd', (_req, res) => {
    res.json(
      exporter.targets.map((t) => ({ targets: [t.config.name], labels: { target: t.config.name, provider: t.config.provider } })),
    );
  });

  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy\n');
  });

  app.get('/-/ready', (_req, res) => {
    if (isReady()) res.type('text/plain').send('Ready\n');
    else res.status(503).type('text/plain').send('Not ready\n');
  });

  app.post('/-/reload', async (_req, res, next) => {
    if (!lifecycle) {
      res.status(403).type('text/plain').send('Lifecycle API is not enabled: start the exporter with --web.enable-lifecycle, or send it SIGHUP\n');
      return;
    }
    try {
      const outcome = await exporter.reload();
      if (outcome.ok) res.type('text/plain').send('configuration reloaded\n');
      else res.status(500).type('text/plain').send(`failed to reload configuration: ${outcome.error}\n`);
    } catch (err) {
      next(err);
    }
  });

  app.get('/config', (_req, res) => {
    if (!showConfig) {
      res.status(404).type('text/plain').send('not found: /config is hidden (--web.hide-config)\n');
      return;
    }
    res.type('text/plain; charset=utf-8').send(YAML.stringify(redactConfig(exporter.config)));
  });

  app.use('/docs', docsPages());

  app.get('/', (_req, res) => {
    res.type('html').send(landingPage(exporter, showConfig));
  });

  const known = new Set(['/', '/metrics', '/probe', '/sd', '/-/healthy', '/-/ready', '/-/reload', '/config']);
  app.use((req, res) => {
    if (known.has(req.path)) {
      res.status(405).type('text/plain').send(`method ${req.method} not allowed on ${req.path}\n`);
    } else {
      res.status(404).type('text/plain').send(`not found: ${req.path.slice(0, 200)}; see / for the endpoints\n`);
    }
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    log.error({ err: err instanceof Error ? err.message : String(err), path: req.path }, 'request failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('internal error; see the exporter log\n');
  });

  return app;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** URL without any user info, for display. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

/** "12 s ago", "3 min ago", "2 h ago": how old a target's data is. */
export function ageText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'just now';
  if (seconds < 120) return `${Math.round(seconds)} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** What the landing page says of a target's last collection, in one line per column. */
export function targetStatus(result: CollectResult | undefined, protectionReported: boolean, now: number) {
  if (!result) return { state: 'not collected yet', jobs: '', protection: '', age: '' };
  const { snapshot, error } = result;
  const age = ageText(now - snapshot.timestamp);
  if (!snapshot.ok || !snapshot.summary) return { state: `down: ${error?.reason ?? 'unknown'}: ${error?.message ?? ''}`, jobs: '', protection: '', age };
  const summary = snapshot.summary;
  const unprotected = [...summary.protection.values()].filter((r) => !r.protected).length;
  return {
    state: `up: ${snapshot.upstreamRequests} requests in ${snapshot.durationSeconds.toFixed(3)} s`,
    jobs: `${summary.jobCount} jobs: ${jobsInState(summary, 'failed')} failed, ${jobsInState(summary, 'running')} running`,
    protection: protectionReported ? `${unprotected} of ${summary.protection.size} resources unprotected` : 'not reported by this product',
    age,
  };
}

function landingPage(exporter: Exporter, showConfig: boolean): string {
  const now = Date.now() / 1000;
  const rows = exporter.targets
    .map((runtime) => {
      const name = runtime.config.name;
      const status = targetStatus(runtime.lastResult, runtime.definition.reports.protection, now);
      const cells = [name, runtime.config.provider, displayUrl(runtime.config.url), status.state, status.jobs, status.protection, status.age];
      return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}<td><a href="/probe?target=${encodeURIComponent(name)}">probe</a></td></tr>`;
    })
    .join('\n');
  const links = [
    '<li><a href="/metrics">Metrics</a> (the exporter and all targets)</li>',
    '<li><a href="/metrics?targets=none">The exporter\'s own metrics</a> (no collection)</li>',
    '<li><a href="/sd">Service discovery</a> (Prometheus http_sd)</li>',
    showConfig ? '<li><a href="/config">Configuration</a> (secrets redacted)</li>' : '',
    '<li><a href="/-/healthy">Health</a> and <a href="/-/ready">readiness</a></li>',
    `<li><a href="${escapeHtml(DOCS_URL)}">Documentation</a> (metrics, configuration, runbooks)</li>`,
  ].join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backup Exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head>
<body><h1>Backup Exporter</h1><p>Version ${escapeHtml(exporter.version)}</p>
<ul>${links}</ul>
<h2>Targets</h2>
<table><tr><th>Target</th><th>Provider</th><th>URL</th><th>Last collection</th><th>Jobs in the lookback</th><th>Protection</th><th>Data age</th><th></th></tr>
${rows || '<tr><td colspan="8">No targets configured.</td></tr>'}
</table></body></html>
`;
}

/**
 * Protection of the exporter's own endpoint, in the web configuration format of the Prometheus
 * exporter toolkit (--web.config.file): TLS (certificate, client certificates, TLS versions),
 * extra response headers, and basic authentication with bcrypt hashes.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { RequestHandler } from 'express';
import { lruCache } from './lru';
import YAML from 'yaml';
import { z } from 'zod';
import { FILE_ERRORS } from './config/load';
import { PasswordChecker } from './password-check';

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
const HEADERS = ['Content-Security-Policy', 'X-Frame-Options', 'X-Content-Type-Options', 'X-XSS-Protection', 'Strict-Transport-Security'] as const;
/** Toolkit keys this exporter does not implement: named in the error rather than silently ignored. */
const UNSUPPORTED = ['cipher_suites', 'curve_preferences', 'prefer_server_cipher_suites', 'client_allowed_sans'];

const tlsVersion = z.enum(Object.keys(TLS_VERSIONS) as [keyof typeof TLS_VERSIONS, ...Array<keyof typeof TLS_VERSIONS>]);
const BCRYPT_HASH = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

const webConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
      client_ca: z.string().min(1).optional(),
      client_ca_file: z.string().min(1).optional(),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES).prefault('NoClientCert'),
      min_version: tlsVersion.prefault('TLS12'),
      max_version: tlsVersion.prefault('TLS13'),
    })
    .optional(),
  http_server_config: z
    .strictObject({
      http2: z.boolean().optional(),
      headers: z.strictObject(Object.fromEntries(HEADERS.map((h) => [h, z.string().optional()])) as Record<(typeof HEADERS)[number], z.ZodOptional<z.ZodString>>).optional(),
    })
    .optional(),
  basic_auth_users: z.record(z.string().min(1), z.string().regex(BCRYPT_HASH, 'not a bcrypt hash (htpasswd -nBC 10 "" | tr -d \':\\n\')')).optional(),
});

export interface WebConfig {
  tls?: {
    cert: string;
    key: string;
    ca?: string;
    requestCert: boolean;
    rejectUnauthorized: boolean;
    clientAuthType: (typeof CLIENT_AUTH_TYPES)[number];
    minVersion: (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];
    maxVersion: (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];
  };
  headers: Record<string, string>;
  /** User name -> bcrypt hash. Empty: no authentication. */
  users: Map<string, string>;
}

export class WebConfigError extends Error {}

/** Whether `pem` holds at least one certificate Node can read. */
function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

function keyMatches(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** Reads and validates a web configuration file; every problem is named with its place. */
export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new WebConfigError(`${file}: cannot read the web configuration file: ${FILE_ERRORS[code] ?? (code || 'read error')}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text) ?? {};
  } catch (err) {
    throw new WebConfigError(`${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const problems: string[] = [];
  const tlsBlock = (doc as { tls_server_config?: Record<string, unknown> } | null)?.tls_server_config;
  for (const key of UNSUPPORTED) {
    if (tlsBlock && typeof tlsBlock === 'object' && key in tlsBlock) problems.push(`tls_server_config.${key}: not supported by backup-exporter (Node.js picks ciphers and curves)`);
  }
  if (doc && typeof doc === 'object' && 'rate_limit' in doc) problems.push('rate_limit: not supported by backup-exporter');
  const parsed = webConfigSchema.safeParse(stripUnsupported(doc));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Never echo values: the file holds password hashes and perhaps an inline key.
      const message = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : issue.message;
      problems.push(`${issue.path.join('.') || '(root)'}: ${message}`);
    }
  }
  if (problems.length) throw new WebConfigError(problems.map((p) => `${file}: ${p}`).join('\n'));
  const config = (parsed as { data: z.output<typeof webConfigSchema> }).data;
  const baseDir = dirname(resolve(file));
  // Every problem of the TLS part at once, as for the schema above; values are never echoed.
  const readPem = (path: string, what: string): string | undefined => {
    const absolute = resolve(baseDir, path);
    try {
      return readFileSync(absolute, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      problems.push(`tls_server_config.${what}: cannot read ${JSON.stringify(absolute)}: ${FILE_ERRORS[code] ?? (code || 'read error')}`);
      return undefined;
    }
  };
  const result: WebConfig = { headers: {}, users: new Map(Object.entries(config.basic_auth_users ?? {})) };
  for (const [name, value] of Object.entries(config.http_server_config?.headers ?? {})) if (value) result.headers[name] = value;
  const tls = config.tls_server_config;
  if (tls) {
    const cert = tls.cert ?? (tls.cert_file ? readPem(tls.cert_file, 'cert_file') : undefined);
    const key = tls.key ?? (tls.key_file ? readPem(tls.key_file, 'key_file') : undefined);
    const ca = tls.client_ca ?? (tls.client_ca_file ? readPem(tls.client_ca_file, 'client_ca_file') : undefined);
    const where = (inline: unknown, field: string) => `tls_server_config.${inline !== undefined ? field : `${field}_file`}`;
    if (cert !== undefined && !isCertificate(cert)) problems.push(`${where(tls.cert, 'cert')}: not a PEM certificate`);
    if (key !== undefined && !isPrivateKey(key)) problems.push(`${where(tls.key, 'key')}: not a PEM private key`);
    if (ca !== undefined && !isCertificate(ca)) problems.push(`${where(tls.client_ca, 'client_ca')}: not a PEM certificate`);
    if ((!tls.cert && !tls.cert_file) || (!tls.key && !tls.key_file)) problems.push('tls_server_config: needs cert_file and key_file (or cert and key)');
    const verifies = tls.client_auth_type === 'RequireAndVerifyClientCert' || tls.client_auth_type === 'VerifyClientCertIfGiven';
    if (verifies && !tls.client_ca && !tls.client_ca_file) problems.push(`tls_server_config.client_ca_file: required with client_auth_type ${tls.client_auth_type}`);
    if (problems.length === 0 && cert && key && !keyMatches(cert, key)) problems.push('tls_server_config: the private key does not belong to the certificate');
    if (problems.length) throw new WebConfigError(problems.map((p) => `${file}: ${p}`).join('\n'));
    result.tls = {
      cert: cert!,
      key: key!,
      ca,
      requestCert: tls.client_auth_type !== 'NoClientCert',
      rejectUnauthorized: tls.client_auth_type === 'RequireAndVerifyClientCert',
      clientAuthType: tls.client_auth_type,
      minVersion: TLS_VERSIONS[tls.min_version],
      maxVersion: TLS_VERSIONS[tls.max_version],
    };
  }
  return result;
}

function stripUnsupported(doc: unknown): unknown {
  if (!doc || typeof doc !== 'object') return doc;
  const copy = { ...(doc as Record<string, unknown>) };
  delete copy.rate_limit;
  if (copy.tls_server_config && typeof copy.tls_server_config === 'object') {
    const tls = { ...(copy.tls_server_config as Record<string, unknown>) };
    for (const key of UNSUPPORTED) delete tls[key];
    copy.tls_server_config = tls;
  }
  return copy;
}

/**
 * Successful checks remembered; bcrypt is slow on purpose, a scrape every few seconds should not pay
 * it each time. Failures are never remembered, so guesses cannot push out a client's verdict.
 */
const VERDICT_CACHE_SIZE = 1000;
/** Compared against when the user is unknown, so that unknown and known users take the same time. */
const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8DfpQzjKDhrBLMCHMh3zy2XuXsmVS2';

/**
 * Middleware enforcing the client-certificate policies Node's TLS options cannot express alone,
 * basic authentication, and the configured response headers. `current` is read on every request
 * so that a reload takes effect at once.
 */
export function webProtection(current: () => WebConfig | undefined, checker = new PasswordChecker()): RequestHandler {
  const allowed = lruCache<string, true>(VERDICT_CACHE_SIZE);
  return (req, res, next) => {
    const config = current();
    if (!config) return next();
    for (const [name, value] of Object.entries(config.headers)) res.setHeader(name, value);
    const socket = req.socket as TLSSocket;
    if (config.tls && socket.encrypted) {
      const presented = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
      const policy = config.tls.clientAuthType;
      if ((policy === 'RequireAnyClientCert' && !presented) || (policy === 'VerifyClientCertIfGiven' && presented && !socket.authorized)) {
        res.status(403).type('text/plain').send('client certificate required\n');
        return;
      }
    }
    if (config.users.size === 0) return next();
    const credentials = parseBasicAuth(req.headers.authorization);
    const deny = () => {
      res.setHeader('WWW-Authenticate', 'Basic');
      res.status(401).type('text/plain').send('Unauthorized\n');
    };
    if (!credentials) return deny();
    const hash = config.users.get(credentials.user);
    const key = createHash('sha256').update(`${credentials.user}\u0000${credentials.password}\u0000${hash ?? ''}`).digest('hex');
    if (hash !== undefined && allowed.has(key)) return next();
    void checker.check(credentials.password, normaliseHash(hash ?? DUMMY_HASH)).then((verdict) => {
      if (verdict === 'busy') {
        res.setHeader('Retry-After', '1');
        res.status(503).type('text/plain').send('too many password checks in progress; try again\n');
      } else if (verdict && hash !== undefined) {
        allowed.set(key, true);
        next();
      } else deny();
    });
  };
}

/** htpasswd writes $2y$; bcryptjs reads the same algorithm as $2b$. */
function normaliseHash(hash: string): string {
  return hash.replace(/^\$2[xy]\$/, '$2b$');
}

export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

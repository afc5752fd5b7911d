/**
 * HTTP Digest access authentication, the client side: RFC 7616, answering RFC 2617 and RFC 2069
 * servers too (MongoDB Ops Manager speaks Digest).
 *
 * The header syntax and the response computation are exported so that a server (the Ops Manager
 * simulator) checks answers with exactly the code that computes them, and cannot drift apart.
 */
import { createHash, randomBytes } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

const ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess'];

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  qop: string[];
  stale: boolean;
  domain?: string;
  userhash: boolean;
  charset?: string;
}

// ---------------------------------------------------------------------------------------------
// Header syntax (RFC 9110 section 11: challenge = auth-scheme [ token68 / #auth-param ])
// ---------------------------------------------------------------------------------------------

/** One challenge (WWW-Authenticate) or credentials (Authorization) element. */
export interface AuthElement {
  scheme: string;
  params: Map<string, string>;
}

const TOKEN = /[^\s,="]+/y;
// Unquoted values are read leniently (may hold '=' or '/') because some servers send bare base64 nonces.
const BARE_VALUE = /[^\s,"]*/y;
// token68 after a scheme (Basic/Bearer credentials) must not be mistaken for a parameter name.
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=\s*(?:,|$))/y;

function matchAt(re: RegExp, s: string, i: number): string {
  re.lastIndex = i;
  return re.exec(s)?.[0] ?? '';
}

function skipWhitespace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i]!)) i++;
  return i;
}

function skipSeparators(s: string, i: number): number {
  while (i < s.length && (s[i] === ',' || /\s/.test(s[i]!))) i++;
  return i;
}

/** Index of the next list separator outside quotes: how malformed elements are stepped over. */
function skipToComma(s: string, i: number): number {
  let quoted = false;
  for (; i < s.length; i++) {
    if (quoted && s[i] === '\\') i++;
    else if (s[i] === '"') quoted = !quoted;
    else if (!quoted && s[i] === ',') return i;
  }
  return i;
}

/** Reads a quoted-string starting at the opening quote; returns the unescaped text and the index after it. */
function readQuoted(s: string, i: number): [string, number] {
  let out = '';
  for (let k = i + 1; k < s.length; k++) {
    if (s[k] === '\\' && k + 1 < s.length) out += s[++k];
    else if (s[k] === '"') return [out, k + 1];
    else out += s[k];
  }
  // Unterminated: keep what is there; the semantic checks downstream decide if it is usable.
  return [out, s.length];
}

function readValue(s: string, i: number): [string, number] {
  if (s[i] === '"') return readQuoted(s, i);
  const bare = matchAt(BARE_VALUE, s, i);
  return [bare, i + bare.length];
}

/** Splits a header value into its auth elements. Parameter names are lower-cased; the first occurrence wins. */
export function parseAuthElements(value: string): AuthElement[] {
  const elements: AuthElement[] = [];
  let current: AuthElement | undefined;
  let i = skipSeparators(value, 0);
  while (i < value.length) {
    const name = matchAt(TOKEN, value, i);
    const afterName = skipWhitespace(value, i + name.length);
    if (name === '') {
      i = skipToComma(value, i);
    } else if (value[afterName] === '=') {
      const [v, next] = readValue(value, skipWhitespace(value, afterName + 1));
      const key = name.toLowerCase();
      if (current && !current.params.has(key)) current.params.set(key, v);
      i = skipToComma(value, next);
    } else {
      current = { scheme: name, params: new Map() };
      elements.push(current);
      i = afterName + matchAt(TOKEN68, value, afterName).length;
    }
    i = skipSeparators(value, i);
  }
  return elements;
}

/** quoted-string; control characters are refused because they would split or corrupt the header. */
export function quote(value: string): string {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new TypeError('control character in a Digest header value');
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
}

export function parseAlgorithm(value: string): DigestAlgorithm | undefined {
  return ALGORITHMS.find((a) => a.toLowerCase() === value.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Challenges (client side)
// ---------------------------------------------------------------------------------------------

function strength(algorithm: DigestAlgorithm): number {
  return algorithm.startsWith('SHA-256') ? 2 : 1;
}

function toChallenge(p: Map<string, string>): DigestChallenge | undefined {
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  // An absent algorithm means MD5 (RFC 7616 section 3.3).
  const algorithm = parseAlgorithm(p.get('algorithm') ?? 'MD5');
  const qop = splitList(p.get('qop'));
  // We only answer qop=auth (or no qop at all); an auth-int-only challenge is as good as none.
  if (realm === undefined || nonce === undefined || !algorithm) return undefined;
  if (qop.length > 0 && !qop.includes('auth')) return undefined;
  const challenge: DigestChallenge = {
    realm,
    nonce,
    algorithm,
    qop,
    stale: p.get('stale')?.toLowerCase() === 'true',
    userhash: p.get('userhash')?.toLowerCase() === 'true',
  };
  for (const key of ['opaque', 'domain', 'charset'] as const) {
    const v = p.get(key);
    if (v !== undefined) challenge[key] = v;
  }
  return challenge;
}

/**
 * Parses a WWW-Authenticate header value (or array of values) which may hold several challenges.
 * Returns the strongest supported Digest challenge (SHA-256 over MD5; the server's order breaks
 * ties), or undefined.
 */
export function parseDigestChallenge(header: string | string[] | undefined): DigestChallenge | undefined {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  let best: DigestChallenge | undefined;
  // Each field value is parsed on its own so a malformed one cannot swallow the next.
  for (const element of values.flatMap((v) => parseAuthElements(v))) {
    if (element.scheme.toLowerCase() !== 'digest') continue;
    const challenge = toChallenge(element.params);
    if (challenge && (!best || strength(challenge.algorithm) > strength(best.algorithm))) best = challenge;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The response computation (RFC 7616 section 3.4.1)
// ---------------------------------------------------------------------------------------------

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  username: string;
  password: string;
  realm: string;
  nonce: string;
  cnonce?: string;
  nc?: number;
  qop?: 'auth';
  method: string;
  uri: string;
}

function hashFor(algorithm: DigestAlgorithm): (data: string) => string {
  const name = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  // Strings are hashed as UTF-8, which is what RFC 7616 charset=UTF-8 requires.
  return (data) => createHash(name).update(data, 'utf8').digest('hex');
}

/** nc-value: exactly 8 lower-case hex digits (RFC 7616 section 3.4). */
export function formatNonceCount(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new RangeError(`invalid Digest nonce count ${nc}`);
  return nc.toString(16).padStart(8, '0');
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new TypeError(`Digest ${what} is required here`);
  return value;
}

/** The hex `response` value. Without qop (RFC 2069 style): H(HA1:nonce:HA2). */
export function computeDigestResponse(input: DigestResponseInput): string {
  const h = hashFor(input.algorithm);
  let ha1 = h(`${input.username}:${input.realm}:${input.password}`);
  if (input.algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${input.nonce}:${required(input.cnonce, 'cnonce')}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  if (input.qop === undefined) return h(`${ha1}:${input.nonce}:${ha2}`);
  const nc = formatNonceCount(required(input.nc, 'nc'));
  return h(`${ha1}:${input.nonce}:${nc}:${required(input.cnonce, 'cnonce')}:${input.qop}:${ha2}`);
}

// ---------------------------------------------------------------------------------------------
// Client session
// ---------------------------------------------------------------------------------------------

/**
 * A quoted-string cannot carry non-ASCII reliably (HTTP header values are bytes, not UTF-8), so
 * such usernames travel as username* with RFC 8187 encoding (RFC 7616 section 3.4.4).
 */
function usernameParam(username: string): string {
  if (/^[\x20-\x7e]*$/.test(username)) return `username=${quote(username)}`;
  const encoded = encodeURIComponent(username).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `username*=UTF-8''${encoded}`;
}

function sameChallenge(a: DigestChallenge, b: DigestChallenge): boolean {
  return a.nonce === b.nonce && a.realm === b.realm && a.algorithm === b.algorithm && a.opaque === b.opaque;
}

function defaultCnonce(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Client-side session for one set of credentials against one server: remembers the last
 * challenge so later requests authenticate pre-emptively, counts nonce uses and makes a fresh
 * cnonce per request.
 *
 * Callers must still cap retries per request (one retry is enough): servers that mint a fresh
 * nonce on every 401 (Spring Security's filter does) never repeat a challenge, so a wrong
 * password would otherwise be retried forever.
 */
export class DigestSession {
  private challenge: DigestChallenge | undefined;
  /** The challenge our most recent Authorization answered: what a following 401 is judged against. */
  private attempted: DigestChallenge | undefined;
  private nonceCount = 0;
  private readonly newCnonce: () => string;

  constructor(
    private readonly username: string,
    private readonly password: string,
    options: { cnonce?: () => string } = {},
  ) {
    this.newCnonce = options.cnonce ?? defaultCnonce;
  }

  /** The Authorization header value for a request, or undefined while no challenge is known. Increments nc. */
  authorize(method: string, uri: string): string | undefined {
    const c = this.challenge;
    if (!c) return undefined;
    this.attempted = c;
    const nc = ++this.nonceCount;
    const qop = c.qop.includes('auth') ? ('auth' as const) : undefined;
    // RFC 2069 servers (no qop) know neither cnonce nor nc, but the -sess HA1 needs a cnonce.
    const cnonce = qop || c.algorithm.endsWith('-sess') ? this.newCnonce() : undefined;
    const { username, password } = this;
    const response = computeDigestResponse({ ...c, username, password, cnonce, nc, qop, method, uri });
    const parts = [
      usernameParam(username),
      `realm=${quote(c.realm)}`,
      `nonce=${quote(c.nonce)}`,
      `uri=${quote(uri)}`,
      `algorithm=${c.algorithm}`,
      `response=${quote(response)}`,
    ];
    if (qop) parts.push(`qop=${qop}`, `nc=${formatNonceCount(nc)}`);
    if (cnonce !== undefined) parts.push(`cnonce=${quote(cnonce)}`);
    if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
    return `Digest ${parts.join(', ')}`;
  }

  /** Called with the WWW-Authenticate header of a 401 answer: 'retry' with new credentials, or 'fail'. */
  onChallenge(wwwAuthenticate: string | string[] | undefined): 'retry' | 'fail' {
    const c = parseDigestChallenge(wwwAuthenticate);
    if (!c) return 'fail';
    // stale=true means the answer was right and only the nonce expired, so it is never a credentials failure.
    if (!c.stale && this.attempted && sameChallenge(c, this.attempted)) return 'fail';
    if (c.nonce !== this.challenge?.nonce) this.nonceCount = 0;
    this.challenge = c;
    return 'retry';
  }
}

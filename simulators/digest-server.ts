/**
 * HTTP Digest access authentication, the server side (RFC 7616): the challenges the simulators of
 * Digest-protected products issue, the nonces they keep, and the exact check of the answers, so that tests catch client mistakes
 * instead of hiding them. Header syntax and the response computation are the client's own
 * (src/http/digest.ts), so both sides hash the same way.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type express from 'express';
import { computeDigestResponse, parseAlgorithm, parseAuthElements, quote, type DigestAlgorithm } from '../src/http/digest';

export type { DigestAlgorithm };

/**
 * Parses an `Authorization: Digest ...` header into its parameters (lower-cased names), or
 * undefined if it is not Digest.
 */
export function parseDigestAuthorization(header: string | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined;
  const elements = parseAuthElements(header);
  // Authorization carries exactly one credentials element; anything else is not a Digest answer.
  if (elements.length !== 1 || elements[0]!.scheme.toLowerCase() !== 'digest') return undefined;
  // fromEntries defines own properties, so a parameter named __proto__ cannot touch the prototype.
  return Object.fromEntries(elements[0]!.params);
}

/** Builds a WWW-Authenticate header value. */
export function formatDigestChallenge(c: {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  qop?: string[];
  opaque?: string;
  stale?: boolean;
  domain?: string;
}): string {
  const parts = [`realm=${quote(c.realm)}`];
  if (c.domain !== undefined) parts.push(`domain=${quote(c.domain)}`);
  parts.push(`nonce=${quote(c.nonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  parts.push(`algorithm=${c.algorithm}`);
  if (c.qop && c.qop.length > 0) parts.push(`qop=${quote(c.qop.join(', '))}`);
  if (c.stale !== undefined) parts.push(`stale=${c.stale}`);
  return `Digest ${parts.join(', ')}`;
}

export type DigestVerdict = { ok: true; username: string } | { ok: false; stale: boolean; reason: string };

export interface DigestVerifyOptions {
  realm: string;
  algorithm: DigestAlgorithm;
  passwordFor: (username: string) => string | undefined;
  nonceState: (nonce: string) => 'valid' | 'stale' | 'unknown';
  /**
   * Records that `nc` was used with `nonce`; false if it was used before (a replay). A set of used
   * counts, not "greater than the last": concurrent requests of one client may arrive out of order.
   */
  claimNonceCount: (nonce: string, nc: number) => boolean;
  /** When the server's challenges carry an opaque, the client must echo it unchanged. */
  opaque?: string;
}

interface DigestCredentials {
  username: string;
  nonce: string;
  cnonce: string;
  nc: number;
  response: string;
}

type Params = Partial<Record<string, string>>;

function reject(reason: string): DigestVerdict {
  return { ok: false, stale: false, reason };
}

/** username or username* (RFC 8187, UTF-8 only); both at once is an error (RFC 7616 section 3.4). */
function usernameOf(p: Params): string | undefined {
  const extended = p['username*'];
  if (extended === undefined) return p.username;
  if (p.username !== undefined) return undefined;
  const m = /^utf-8'[^']*'(.*)$/i.exec(extended);
  try {
    return m ? decodeURIComponent(m[1]!) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks everything that does not need the password; returns the credentials or why they are refused. */
function readCredentials(p: Params, req: { uri: string }, opts: DigestVerifyOptions): DigestCredentials | string {
  const username = usernameOf(p);
  if (username === undefined) return 'missing or malformed username';
  if (p.userhash?.toLowerCase() === 'true') return 'userhash is not supported';
  if (p.realm !== opts.realm) return 'realm mismatch';
  if (parseAlgorithm(p.algorithm ?? 'MD5') !== opts.algorithm) return 'algorithm mismatch';
  if (p.uri !== req.uri) return 'uri does not match the request target';
  if (opts.opaque !== undefined && p.opaque !== opts.opaque) return 'opaque mismatch';
  // qop and nc enter the hash verbatim, so only their canonical spellings can be verified.
  if (p.qop !== 'auth') return 'qop must be auth';
  if (p.nc === undefined || !/^[0-9a-f]{8}$/.test(p.nc) || p.nc === '00000000') {
    return 'nc must be 8 lower-case hex digits, not zero';
  }
  if (!p.cnonce) return 'missing cnonce';
  if (!p.nonce) return 'missing nonce';
  if (!p.response) return 'missing response';
  return { username, nonce: p.nonce, cnonce: p.cnonce, nc: parseInt(p.nc, 16), response: p.response };
}

function sameHex(expected: string, actual: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(actual);
  // Constant time so the simulator does not teach a timing oracle; length is public anyway.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Verifies parsed Authorization parameters exactly. A stale nonce yields stale:true only for an
 * otherwise correct answer, and nc is recorded only after the response checks out, so a client
 * without the password cannot burn nonce counts.
 */
export function verifyDigestAuthorization(
  params: Record<string, string>,
  req: { method: string; uri: string },
  opts: DigestVerifyOptions,
): DigestVerdict {
  const cred = readCredentials(params, req, opts);
  if (typeof cred === 'string') return reject(cred);
  const state = opts.nonceState(cred.nonce);
  if (state === 'unknown') return reject('unknown nonce');
  const password = opts.passwordFor(cred.username);
  if (password === undefined) return reject('unknown user');
  const expected = computeDigestResponse({
    ...cred,
    algorithm: opts.algorithm,
    password,
    realm: opts.realm,
    qop: 'auth',
    method: req.method,
    uri: req.uri,
  });
  if (!sameHex(expected, cred.response)) return reject('wrong response');
  if (state === 'stale') return { ok: false, stale: true, reason: 'stale nonce' };
  if (!opts.claimNonceCount(cred.nonce, cred.nc)) return reject('replayed nonce count');
  return { ok: true, username: cred.username };
}

// ---------------------------------------------------------------------------------------------
// The guard a simulator mounts in front of its API

const MAX_NONCES = 10_000;
/** Most nonce counts remembered per nonce; past it the nonce is refused and the client gets a new one. */
const MAX_COUNTS_PER_NONCE = 100_000;

/** Issued nonces with their issue time and the nc values used with them, oldest first, bounded in number. */
class NonceStore {
  private readonly nonces = new Map<string, { issuedAt: number; used: Set<number> }>();
  constructor(
    private readonly clock: () => number,
    private readonly lifetimeMs: number,
  ) {}

  issue(): string {
    this.prune();
    const nonce = randomBytes(24).toString('base64');
    this.nonces.set(nonce, { issuedAt: this.clock(), used: new Set() });
    return nonce;
  }

  state(nonce: string): 'valid' | 'stale' | 'unknown' {
    const entry = this.nonces.get(nonce);
    if (!entry) return 'unknown';
    return this.clock() - entry.issuedAt > this.lifetimeMs ? 'stale' : 'valid';
  }

  claimNc(nonce: string, nc: number): boolean {
    const entry = this.nonces.get(nonce);
    if (!entry || entry.used.has(nc) || entry.used.size >= MAX_COUNTS_PER_NONCE) return false;
    entry.used.add(nc);
    return true;
  }

  /** Stale nonces are kept for a while so their users get stale=true, not a plain refusal. */
  private prune(): void {
    const horizon = this.clock() - 2 * this.lifetimeMs;
    for (const [nonce, entry] of this.nonces) {
      if (this.nonces.size < MAX_NONCES && entry.issuedAt >= horizon) break;
      this.nonces.delete(nonce);
    }
  }
}

export interface DigestAuthenticationOptions {
  realm: string;
  algorithm: DigestAlgorithm;
  clock: () => number;
  /** How long a nonce is accepted before answers with it get 401 stale=true. */
  nonceLifetimeMs: number;
  passwordFor: (username: string) => string | undefined;
  /** Sends the product's 401 answer with this WWW-Authenticate value (products shape the body differently). */
  refuse: (res: express.Response, challengeHeader: string) => void;
}

/** Middleware that lets a request through only with a correct Digest answer, and challenges it otherwise. */
export function digestAuthentication(options: DigestAuthenticationOptions): express.RequestHandler {
  const nonces = new NonceStore(options.clock, options.nonceLifetimeMs);
  const verifyOptions: DigestVerifyOptions = {
    realm: options.realm,
    algorithm: options.algorithm,
    passwordFor: options.passwordFor,
    nonceState: (nonce) => nonces.state(nonce),
    claimNonceCount: (nonce, nc) => nonces.claimNc(nonce, nc),
  };
  return (req, res, next) => {
    const params = parseDigestAuthorization(req.headers.authorization);
    const verdict = params && verifyDigestAuthorization(params, { method: req.method, uri: req.originalUrl }, verifyOptions);
    if (verdict?.ok) return next();
    const header = formatDigestChallenge({
      realm: options.realm,
      domain: '',
      nonce: nonces.issue(),
      algorithm: options.algorithm,
      qop: ['auth'],
      stale: verdict?.stale ?? false,
    });
    options.refuse(res, header);
  };
}

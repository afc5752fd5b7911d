/**
 * HTTP Digest access authentication, the server side (RFC 7616): the challenges the Ops Manager
 * simulator issues and the exact check of the answers, so that tests catch client mistakes
 * instead of hiding them. Header syntax and the response computation are the client's own
 * (src/http/digest.ts), so both sides hash the same way.
 */
import { timingSafeEqual } from 'node:crypto';
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

/**
 * Huawei Cloud AK/SK request signing (`SDK-HMAC-SHA256`), computed the way Huawei's own SDKs
 * compute it (huaweicloud-sdk-go-v3 core/auth/signer, huaweicloud-sdk-python-v3
 * huaweicloudsdkcore/signer). The canonicalisation is exported because a verifier (the CBR
 * simulator's gateway) must recompute the signature with exactly these steps.
 *
 *   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
 *                      SignedHeaders \n hex(sha256(body bytes))
 *   StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
 *   Signature        = hex(hmac-sha256(SK, StringToSign))
 *   Authorization    = "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>"
 *
 * Details that decide whether a gateway accepts a request: the canonical URI always ends with "/";
 * path segments and query parts are encoded with the RFC 3986 unreserved set only (so "*", "(",
 * "!" are escaped and "~" is not); query pairs are sorted by name, then value; header names are
 * lower-cased and sorted, values trimmed; headers whose name contains "_" are never signed (the
 * SDKs leave them out because proxies drop them); the body hash covers the exact bytes sent.
 */
import { createHash, createHmac } from 'node:crypto';
import type { OutgoingRequest, RequestAuth } from './client';

export const SDK_HMAC_SHA256 = 'SDK-HMAC-SHA256';
export const HEADER_SDK_DATE = 'x-sdk-date';
/** A client may send the body hash itself (or UNSIGNED-PAYLOAD); the SDKs then use it as is. */
export const HEADER_CONTENT_SHA256 = 'x-sdk-content-sha256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** A request as it is signed: the path with its query as sent, the headers to sign, the body bytes. */
export interface SignableRequest {
  method: string;
  /** Path and query string, exactly as on the request line. */
  path: string;
  /** Headers to sign (any case); X-Sdk-Date must be among them, Host should be. */
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface Signed {
  authorization: string;
  signedHeaders: string[];
  signature: string;
}

/** `20060102T150405Z`: the X-Sdk-Date format (UTC, seconds). */
export function formatSdkDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace('.000Z', 'Z');
}

/** Epoch milliseconds of an X-Sdk-Date value, or undefined when it is not one. */
export function parseSdkDate(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 20240231 over into March; a gateway would refuse such a date, so do we.
  return new Date(ms).getUTCDate() === day && new Date(ms).getUTCMonth() === month - 1 ? ms : undefined;
}

/** RFC 3986 percent-encoding: only A-Z a-z 0-9 - _ . ~ stay as they are; bytes in upper-case hex. */
export function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Each path segment decoded, then re-encoded with the unreserved set; always ends with "/". */
export function canonicalUri(path: string): string {
  const encoded = path
    .split('/')
    .map((segment) => encodeRfc3986(decodeLenient(segment)))
    .join('/');
  const withSlash = encoded.endsWith('/') ? encoded : `${encoded}/`;
  return withSlash.startsWith('/') ? withSlash : `/${withSlash}`;
}

/**
 * The query string sorted by name, then value, each part re-encoded with the unreserved set.
 * "+" is read as a space: the exporter's query strings come from URLSearchParams, which writes
 * spaces that way, and the simulator reads them back with this same function.
 */
export function canonicalQueryString(query: string): string {
  if (query === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    const rawKey = at < 0 ? part : part.slice(0, at);
    const rawValue = at < 0 ? '' : part.slice(at + 1);
    pairs.push([decodeLenient(rawKey.replace(/\+/g, ' ')), decodeLenient(rawValue.replace(/\+/g, ' '))]);
  }
  const encoded = pairs.map(([k, v]): [string, string] => [encodeRfc3986(k), encodeRfc3986(v)]);
  encoded.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lower-cased, sorted names of the headers that are signed: all but Authorization and names with "_". */
export function signedHeaderNames(headers: Record<string, string>): string[] {
  const names = new Set<string>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower.includes('_')) continue;
    names.add(lower);
  }
  return [...names].sort(compare);
}

function lowerCaseHeaders(headers: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) out.set(name.toLowerCase(), value);
  return out;
}

export function canonicalHeaders(headers: Map<string, string>, names: readonly string[]): string {
  return names.map((name) => `${name}:${(headers.get(name) ?? '').trim()}\n`).join('');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The body hash: X-Sdk-Content-Sha256 when the client set it, else the hash of the bytes sent. */
function payloadHash(headers: Map<string, string>, body: string | Buffer | undefined): string {
  return headers.get(HEADER_CONTENT_SHA256) ?? sha256Hex(body ?? '');
}

export function canonicalRequest(req: SignableRequest, signedNames: readonly string[]): string {
  const headers = lowerCaseHeaders(req.headers);
  const at = req.path.indexOf('?');
  const path = at < 0 ? req.path : req.path.slice(0, at);
  const query = at < 0 ? '' : req.path.slice(at + 1);
  return [
    req.method.toUpperCase(),
    canonicalUri(path),
    canonicalQueryString(query),
    canonicalHeaders(headers, signedNames),
    signedNames.join(';'),
    payloadHash(headers, req.body),
  ].join('\n');
}

export function stringToSign(canonical: string, sdkDate: string): string {
  return `${SDK_HMAC_SHA256}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

export function signString(text: string, secretKey: string): string {
  return createHmac('sha256', secretKey).update(text).digest('hex');
}

/** Signs a request whose headers already carry X-Sdk-Date; returns the Authorization value. */
export function signRequest(req: SignableRequest, accessKey: string, secretKey: string): Signed {
  const headers = lowerCaseHeaders(req.headers);
  const date = headers.get(HEADER_SDK_DATE);
  if (date === undefined || parseSdkDate(date) === undefined) throw new Error('X-Sdk-Date header missing or not yyyyMMddTHHmmssZ');
  const signedHeaders = signedHeaderNames(req.headers);
  const signature = signString(stringToSign(canonicalRequest(req, signedHeaders), date), secretKey);
  const authorization = `${SDK_HMAC_SHA256} Access=${accessKey}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return { authorization, signedHeaders, signature };
}

export interface AkSkOptions {
  accessKey: string;
  secretKey: string;
  /** The target's base URL: its host (and non-default port) is the Host header the request carries. */
  baseUrl: string;
  now?: () => number;
}

/**
 * RequestAuth that signs every attempt: X-Sdk-Date from the clock, Host from the target URL (the
 * HTTP client sends exactly that), every other outgoing header, and the body as sent. A 401 is
 * final: a fresh signature with the same keys would be refused the same way.
 */
export function akskAuth(options: AkSkOptions): RequestAuth {
  const host = new URL(options.baseUrl).host;
  const now = options.now ?? Date.now;
  return {
    headers(req: OutgoingRequest): Record<string, string> {
      const sdkDate = formatSdkDate(now());
      const headers: Record<string, string> = { ...req.headers, host, [HEADER_SDK_DATE]: sdkDate };
      const { authorization } = signRequest({ method: req.method, path: req.path, headers, body: req.body }, options.accessKey, options.secretKey);
      return { [HEADER_SDK_DATE]: sdkDate, authorization };
    },
    onUnauthorized() {
      return 'fail';
    },
  };
}

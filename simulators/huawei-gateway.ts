/**
 * The API Gateway side of Huawei Cloud AK/SK authentication (`SDK-HMAC-SHA256`): reads the
 * Authorization header and recomputes the signature over what arrived, with the same
 * canonicalisation the exporter signs with (src/http/huawei-signer.ts), so that a signing mistake
 * in the exporter fails here the way it would at a real gateway.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  canonicalRequest,
  HEADER_CONTENT_SHA256,
  HEADER_SDK_DATE,
  parseSdkDate,
  SDK_HMAC_SHA256,
  sha256Hex,
  signString,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from '../src/http/huawei-signer';

/** How far X-Sdk-Date may be from the gateway's clock (API Gateway documents 15 minutes). */
export const MAX_DATE_SKEW_MS = 15 * 60_000;

export interface ParsedAuthorization {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

/** Reads `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`; undefined for anything else. */
export function parseAuthorization(value: string | undefined): ParsedAuthorization | undefined {
  if (!value?.startsWith(`${SDK_HMAC_SHA256} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(SDK_HMAC_SHA256.length + 1).split(',')) {
    const at = part.indexOf('=');
    if (at < 0) return undefined;
    fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const accessKey = fields.get('Access');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKey || !signed || !signature || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return { accessKey, signedHeaders: signed.split(';'), signature };
}

/** A received request, as a gateway sees it: raw path, headers (lower-case names), body bytes. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type VerifyFailure = 'missing' | 'malformed' | 'unknown_access_key' | 'expired' | 'signature_mismatch';

export type VerifyResult =
  | { ok: true; accessKey: string }
  | { ok: false; reason: VerifyFailure; accessKey?: string; sdkDate?: string };

/**
 * Checks a signed request the way API Gateway does: a well-formed Authorization, an X-Sdk-Date
 * within `maxSkewMs` of `nowMs`, a known access key, and the signature recomputed over the
 * headers the client named (their received values), the path, the query and the body received.
 */
export function verifyRequest(
  req: ReceivedRequest,
  secretFor: (accessKey: string) => string | undefined,
  nowMs: number,
  maxSkewMs = MAX_DATE_SKEW_MS,
): VerifyResult {
  const header = firstValue(req.headers.authorization);
  if (header === undefined) return { ok: false, reason: 'missing' };
  const parsed = parseAuthorization(header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  const { accessKey } = parsed;
  const sdkDate = firstValue(req.headers[HEADER_SDK_DATE]);
  const signedAt = parseSdkDate(sdkDate);
  if (sdkDate === undefined || signedAt === undefined || !parsed.signedHeaders.includes(HEADER_SDK_DATE)) {
    return { ok: false, reason: 'malformed', accessKey };
  }
  if (Math.abs(nowMs - signedAt) > maxSkewMs) return { ok: false, reason: 'expired', accessKey, sdkDate };
  const secret = secretFor(accessKey);
  if (secret === undefined) return { ok: false, reason: 'unknown_access_key', accessKey };
  const headers: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = firstValue(req.headers[name]);
    if (value === undefined) return { ok: false, reason: 'signature_mismatch', accessKey };
    headers[name] = value;
  }
  // A client-declared body hash must be the hash of what arrived, or the body was not signed at all.
  const declared = headers[HEADER_CONTENT_SHA256];
  if (declared !== undefined && declared !== UNSIGNED_PAYLOAD && declared !== sha256Hex(req.body)) {
    return { ok: false, reason: 'signature_mismatch', accessKey };
  }
  const canonical = canonicalRequest({ method: req.method, path: req.path, headers, body: req.body }, parsed.signedHeaders);
  const expected = Buffer.from(signString(stringToSign(canonical, sdkDate), secret), 'hex');
  const given = Buffer.from(parsed.signature, 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature_mismatch', accessKey };
  return { ok: true, accessKey };
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

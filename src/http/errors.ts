/**
 * Why a collection failed, as one small closed set: the `reason` label of
 * backup_exporter_collect_errors_total. Everything that can go wrong talking to a product is
 * classified here, in one place, so every provider reports the same reasons for the same faults.
 */

export const ERROR_REASONS = [
  'timeout',
  'connect',
  'tls',
  'auth',
  'rate_limited',
  'http_4xx',
  'http_5xx',
  'parse',
  'invalid_response',
] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

export class CollectError extends Error {
  override readonly name = 'CollectError';
  constructor(
    readonly reason: ErrorReason,
    message: string,
    /** The HTTP status of the answer that failed, when one came. */
    readonly status?: number,
  ) {
    super(message);
  }
}

const TLS_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  // undici wraps socket errors; the useful code may sit one or two causes deep.
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    if (typeof code === 'string' && !(current as { cause?: unknown }).cause) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns whatever a request threw into a CollectError; `timedOut` says the collection's deadline passed. */
export function classifyError(err: unknown, timedOut: boolean): CollectError {
  if (err instanceof CollectError) return err;
  if (timedOut) return new CollectError('timeout', 'deadline exceeded');
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new CollectError('timeout', detail);
  if (code && (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return new CollectError('tls', `TLS: ${code}: ${detail}`);
  }
  if (code && CONNECT_ERROR_CODES.has(code)) return new CollectError('connect', `${code}: ${detail}`);
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new CollectError('invalid_response', detail);
  }
  // The product answered, but not with HTTP the client can read (e.g. headers over the size limit).
  if (code === 'UND_ERR_HEADERS_OVERFLOW' || code?.startsWith('HPE_')) {
    return new CollectError('invalid_response', `answer is not readable HTTP: ${code}: ${detail}`);
  }
  if (code === 'UND_ERR_ABORTED' || (err instanceof Error && err.name === 'AbortError')) {
    return new CollectError('timeout', 'deadline exceeded');
  }
  return new CollectError('connect', code ? `${code}: ${detail}` : detail);
}

/** The reason for an HTTP status that is an error. */
export function reasonForStatus(status: number): ErrorReason {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'http_5xx';
  return 'http_4xx';
}

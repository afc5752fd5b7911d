/**
 * Bearer-style tokens (BlueXP access tokens, Huawei IAM tokens): cached until shortly before they
 * expire, one refresh shared by every request that needs it, and on a 401 exactly one refresh and
 * retry of the request.
 */
import type { RequestAuth, RequestScope } from './client';
import { isObject } from '../text';
import { CollectError } from './errors';

export interface Token {
  value: string;
  /** Epoch milliseconds after which the product no longer accepts the token. */
  expiresAt: number;
}

/** Lifetime assumed when an OAuth 2 token answer has no usable expires_in (short: renewing early is cheap). */
export const DEFAULT_OAUTH_TOKEN_LIFETIME_SECONDS = 3600;
/** Bounds of the lifetime taken from a token answer. */
export const MIN_TOKEN_LIFETIME_SECONDS = 1;
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/**
 * The token of an OAuth 2 token answer (RFC 6749 section 5.1: access_token, expires_in in seconds,
 * which some servers write as a string). `requestedAt` (epoch ms) is when the request went out, so
 * the expiry errs early.
 */
export function parseOAuthTokenAnswer(body: unknown, requestedAt: number, defaultLifetimeSeconds = DEFAULT_OAUTH_TOKEN_LIFETIME_SECONDS): Token {
  if (!isObject(body) || typeof body.access_token !== 'string' || body.access_token === '') {
    throw new CollectError('invalid_response', 'token answer has no access_token');
  }
  const raw = body.expires_in;
  const seconds = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  const stated = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : defaultLifetimeSeconds;
  // A product's word is kept within sane bounds: "1e306" must not mean never renew, "1e-9" not a
  // token request before every request.
  const lifetime = Math.min(MAX_TOKEN_LIFETIME_SECONDS, Math.max(MIN_TOKEN_LIFETIME_SECONDS, stated));
  return { value: body.access_token, expiresAt: requestedAt + lifetime * 1000 };
}

/** Tokens are renewed this long before they expire, so that none expires in flight. */
export const TOKEN_EARLY_RENEWAL_MS = 60_000;

export class TokenCache {
  private current?: Token & { renewAt: number };
  private refreshing?: Promise<Token>;

  constructor(
    private readonly fetchToken: (scope: RequestScope) => Promise<Token>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A valid token: the cached one, or the result of the one refresh in flight. */
  async get(scope: RequestScope): Promise<string> {
    const cached = this.current;
    if (cached && this.now() < cached.renewAt) return cached.value;
    return (await this.refresh(scope)).value;
  }

  /** Forgets `value` if it is still the cached token (a 401 said the product no longer takes it). */
  invalidate(value: string | undefined): void {
    if (value !== undefined && this.current?.value === value) this.current = undefined;
  }

  private refresh(scope: RequestScope): Promise<Token> {
    this.refreshing ??= this.fetchToken(scope)
      .then((token) => {
        // Short-lived tokens (tests, strict products) renew at 90 % of their life rather than a minute early.
        const obtainedAt = this.now();
        const margin = Math.min(TOKEN_EARLY_RENEWAL_MS, (token.expiresAt - obtainedAt) / 10);
        this.current = { ...token, renewAt: token.expiresAt - margin };
        return token;
      })
      .catch((err: unknown) => {
        // The token endpoint answers bad credentials with 400 (invalid_grant) as often as with 401/403.
        if (err instanceof CollectError && err.reason === 'http_4xx') throw new CollectError('auth', `token request refused: ${err.message}`);
        throw err;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}

/**
 * RequestAuth from a token cache: `headers(token)` builds the request's headers. A 401 drops the
 * token the request carried and retries once with a fresh one; a second 401 is an auth failure.
 */
export function tokenAuth(cache: TokenCache, headers: (token: string) => Record<string, string>): RequestAuth {
  const tokenSent = new WeakMap<object, string>();
  return {
    async headers(req, scope) {
      const token = await cache.get(scope);
      tokenSent.set(req, token);
      return headers(token);
    },
    onUnauthorized(_res, req, attempt) {
      if (attempt > 1) return 'fail';
      cache.invalidate(tokenSent.get(req));
      return 'retry';
    },
  };
}

import { CollectError } from '../../src/http/errors';
import { DEFAULT_OAUTH_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS, TokenCache, parseOAuthTokenAnswer, tokenAuth } from '../../src/http/token';
import type { Token } from '../../src/http/token';
import { scopeFor } from '../helpers/scope';

function cacheWith(tokens: Array<Token | Error>, clock: { now: number }) {
  let calls = 0;
  const cache = new TokenCache(async () => {
    const next = tokens[calls++];
    await new Promise((r) => setTimeout(r, 10));
    if (next instanceof Error) throw next;
    return next;
  }, () => clock.now);
  return { cache, calls: () => calls };
}

test('one refresh is shared by concurrent requests, and the token is reused until shortly before expiry', async () => {
  const clock = { now: 0 };
  const { cache, calls } = cacheWith([{ value: 'a', expiresAt: 86_400_000 }, { value: 'b', expiresAt: 2 * 86_400_000 }], clock);
  const scope = scopeFor(10_000);
  expect(await Promise.all(Array.from({ length: 10 }, () => cache.get(scope)))).toEqual(Array(10).fill('a'));
  expect(calls()).toBe(1);
  clock.now = 86_400_000 - 120_000;
  expect(await cache.get(scope)).toBe('a');
  clock.now = 86_400_000 - 30_000; // inside the early-renewal minute
  expect(await cache.get(scope)).toBe('b');
  expect(calls()).toBe(2);
  scope.done();
});

test('a refused token request is reason auth, also when the endpoint says 400 (invalid_grant)', async () => {
  const { cache } = cacheWith([new CollectError('http_4xx', 'POST /oauth/token: HTTP 400: invalid_grant')], { now: 0 });
  const scope = scopeFor(10_000);
  await expect(cache.get(scope)).rejects.toMatchObject({ reason: 'auth', message: 'token request refused: POST /oauth/token: HTTP 400: invalid_grant' });
  scope.done();
});

test('tokenAuth: a 401 drops the token the request carried and retries once; a second 401 fails', async () => {
  const clock = { now: 0 };
  const { cache, calls } = cacheWith([{ value: 'old', expiresAt: 86_400_000 }, { value: 'new', expiresAt: 86_400_000 }], clock);
  const auth = tokenAuth(cache, (t) => ({ authorization: `Bearer ${t}` }));
  const scope = scopeFor(10_000);
  const req = { method: 'GET', path: '/job', headers: {} };
  expect(await auth.headers(req, scope)).toEqual({ authorization: 'Bearer old' });
  const res = { status: 401, headers: {}, body: Buffer.alloc(0) };
  expect(await auth.onUnauthorized(res, req, 1, scope)).toBe('retry');
  const retry = { method: 'GET', path: '/job', headers: {} };
  expect(await auth.headers(retry, scope)).toEqual({ authorization: 'Bearer new' });
  expect(await auth.onUnauthorized(res, retry, 2, scope)).toBe('fail');
  expect(calls()).toBe(2);
  scope.done();
});

describe('parseOAuthTokenAnswer', () => {
  test.each([
    [{ access_token: 't', expires_in: 3600 }, 3_600_000],
    [{ access_token: 't', expires_in: '120' }, 120_000],
    [{ access_token: 't' }, DEFAULT_OAUTH_TOKEN_LIFETIME_SECONDS * 1000],
    [{ access_token: 't', expires_in: 'soon' }, DEFAULT_OAUTH_TOKEN_LIFETIME_SECONDS * 1000],
    // A product's word within bounds: not "never renew", not "renew before every request".
    [{ access_token: 't', expires_in: 1e306 }, MAX_TOKEN_LIFETIME_SECONDS * 1000],
    [{ access_token: 't', expires_in: 1e-9 }, MIN_TOKEN_LIFETIME_SECONDS * 1000],
  ])('%j expires %i ms after the request', (answer, lifetimeMs) => {
    expect(parseOAuthTokenAnswer(answer, 5000)).toEqual({ value: 't', expiresAt: 5000 + lifetimeMs });
  });

  test('an answer without a token is invalid_response', () => {
    expect(() => parseOAuthTokenAnswer({ expires_in: 60 }, 0)).toThrow(expect.objectContaining({ reason: 'invalid_response' }));
  });
});

import { asCollectError, collectionBudgetMs } from '../../src/collect';
import { CollectError } from '../../src/http/errors';

describe('collectionBudgetMs: scrape timeout header minus 0.5 s, capped by the target timeout', () => {
  test.each([
    [undefined, 10_000, 10_000],
    ['', 10_000, 10_000],
    ['abc', 10_000, 10_000],
    ['-3', 10_000, 10_000],
    ['10', 30_000, 9_500],
    ['2.5', 30_000, 2_000],
    ['60', 30_000, 30_000],
    ['0.2', 30_000, 100],
    ['0x2', 10_000, 10_000],
    ['1e1', 10_000, 10_000],
    ['Infinity', 10_000, 10_000],
    [' 4 ', 30_000, 3_500],
  ])('header %p, target timeout %p ms -> %p ms', (header, timeout, expected) => {
    expect(collectionBudgetMs(header, timeout)).toBe(expected);
  });
});

test('asCollectError: CollectErrors pass, a passed deadline is a timeout, anything else an unusable answer', () => {
  const auth = new CollectError('auth', 'no');
  expect(asCollectError(auth, true)).toBe(auth);
  expect(asCollectError(new TypeError('x is undefined'), true).reason).toBe('timeout');
  const other = asCollectError(new TypeError('x is undefined'), false);
  expect([other.reason, other.message]).toEqual(['invalid_response', 'unusable answer: x is undefined']);
});

import { lruCache, sizedLruCache } from '../../src/lru';

describe('lruCache', () => {
  test('holds at most its bound, the least recently used out first', () => {
    const cache = lruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('d', 4);
    expect([...cache.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(cache.size).toBe(3);
  });

  test('passes its options on (a TTL on an injected clock)', () => {
    let now = 5000;
    const cache = lruCache<string, number>(10, { ttl: 1000, ttlResolution: 0, perf: { now: () => now } });
    cache.set('a', 1);
    now = 5999;
    expect(cache.get('a')).toBe(1);
    now = 6001;
    expect(cache.get('a')).toBeUndefined();
  });

  test('a bound of ten million entries allocates nothing until entries come', () => {
    // lru-cache's `max` would allocate its index arrays for every entry at once: 3 typed arrays of
    // 10,000,000 (120 MB of array buffers) and two arrays as long.
    const before = process.memoryUsage().arrayBuffers;
    const caches = Array.from({ length: 5 }, () => lruCache<string, string>(10_000_000));
    caches[0].set('k', 'v');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect(caches[0].get('k')).toBe('v');
  });
});

describe('sizedLruCache', () => {
  test('bounded by the sum of the sizes, each entry counting at least one', () => {
    const cache = sizedLruCache<string, number[]>(5, (list) => list.length);
    cache.set('a', [1, 2, 3]);
    cache.set('b', []);
    cache.set('c', [1]);
    expect(cache.calculatedSize).toBe(5);
    cache.set('d', [1]);
    expect(cache.has('a')).toBe(false);
    expect(cache.calculatedSize).toBe(3);
    cache.set('e', [1, 2, 3, 4, 5, 6]);
    expect(cache.has('e')).toBe(false);
  });
});

/**
 * The one way the exporter makes an LRU cache. lru-cache allocates its index arrays for `max`
 * entries when the cache is made (about 36 bytes an entry, more with a TTL): the bounds that keep a
 * target's state finite (100,000 or 200,000 entries) would cost megabytes per target before anything
 * is cached, so a small configuration would pay for the largest. Given as a size of one per entry
 * instead, the bound is the same and the arrays grow with what the cache holds.
 */
import { LRUCache } from 'lru-cache';

export type LruOptions<K extends {}, V extends {}> = Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation' | 'maxEntrySize'>;

/** An LRU cache of at most `entries` entries whose memory grows with what it holds. */
export function lruCache<K extends {}, V extends {}>(entries: number, options: LruOptions<K, V> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: entries, sizeCalculation: oneEach });
}

/**
 * An LRU cache bounded by the sum of `sizeOf` over its entries (each at least 1, so also in
 * entries), whose memory grows with what it holds.
 */
export function sizedLruCache<K extends {}, V extends {}>(maxSize: number, sizeOf: (value: V, key: K) => number, options: LruOptions<K, V> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize, sizeCalculation: (value, key) => Math.max(1, sizeOf(value, key)) });
}

const oneEach = (): number => 1;

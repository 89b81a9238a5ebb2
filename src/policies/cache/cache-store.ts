import { LRUCache } from 'lru-cache';
import type { CachedResponse } from './cached-response.ts';

/**
 * Where cached answers live, by key; each key holds the variants of one resource. The in-memory store
 * answers at once; a shared store (Redis) answers with a promise, and a failed read is a miss.
 */
export interface CacheStore {
  get(key: string): readonly CachedResponse[] | undefined | Promise<readonly CachedResponse[] | undefined>;
  /** Stores `entry` (again, after a revalidation), replacing the variant of the same key with the same Vary values. */
  put(key: string, entry: CachedResponse): void;
  /** Removes one key; resolves to the number of keys removed (0 or 1). */
  purgeKey(key: string): number | Promise<number>;
  /** Removes every key starting with `prefix` (every key for ''); resolves to how many. */
  purgePrefix(prefix: string): number | Promise<number>;
  /** Bytes and keys held, when the store knows them (the in-memory one). */
  readonly bytes: number;
  readonly entries: number;
  readonly maxBytes: number;
}

/** The in-memory store: it answers at once. */
export interface MemoryCacheStore extends CacheStore {
  get(key: string): readonly CachedResponse[] | undefined;
  purgeKey(key: string): number;
  purgePrefix(prefix: string): number;
}

/** Variants kept per key: a Vary on a header with unbounded values must not grow one key without end. */
const maxVariants = 16;

/**
 * An in-memory store bounded by bytes, least recently used keys evicted first (lru-cache with a size
 * function). A key larger than the whole bound is not stored.
 */
export function createMemoryCacheStore(maxBytes: number): MemoryCacheStore {
  const lru = new LRUCache<string, CachedResponse[]>({
    maxSize: maxBytes,
    sizeCalculation: (variants) => {
      let size = 0;
      for (const entry of variants) size += entry.size;
      return Math.max(1, size);
    },
  });
  return {
    get: (key) => lru.get(key),
    put(key, entry) {
      if (entry.size > maxBytes) return;
      const old = lru.get(key, { updateAgeOnGet: false });
      const variants = old === undefined ? [] : old.filter((other) => other.variant !== entry.variant);
      // lru-cache sizes a value when it is set: a revalidated entry is set again with its new headers.
      if (variants.length >= maxVariants) variants.shift();
      variants.push(entry);
      lru.set(key, variants);
    },
    purgeKey: (key) => (lru.delete(key) ? 1 : 0),
    purgePrefix(prefix) {
      let purged = 0;
      for (const key of [...lru.keys()]) {
        if (key.startsWith(prefix) && lru.delete(key)) purged++;
      }
      return purged;
    },
    get bytes() {
      return lru.calculatedSize;
    },
    get entries() {
      return lru.size;
    },
    maxBytes,
  };
}

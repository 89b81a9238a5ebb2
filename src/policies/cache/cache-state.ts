import { createMemoryCacheStore, type MemoryCacheStore } from './cache-store.ts';
import { createRedisCacheStore, type RedisCacheStore } from './redis-cache-store.ts';

/** Answers of one route by outcome since the node started (metrics, admin API). */
export interface CacheStats {
  hit: number;
  miss: number;
  stale: number;
  bypass: number;
  /** Answers written to the store. */
  stored: number;
}

/** The node's response cache: the store and per-route counts, kept across reloads. */
export interface CacheState {
  /** This node's store. */
  readonly store: MemoryCacheStore;
  /** The shared store, once a route asked for it. */
  redis: RedisCacheStore | undefined;
  readonly stats: Map<string, CacheStats>;
  statsFor(route: string): CacheStats;
}

const CACHE_KEY = 'cache.state';

/**
 * The cache state in the stage state shared across reloads; a reload that changes `responseCache.maxSize`
 * starts an empty store of the new size.
 */
export function cacheState(shared: Map<string, unknown>, maxBytes: number): CacheState {
  const existing = shared.get(CACHE_KEY) as CacheState | undefined;
  if (existing !== undefined && existing.store.maxBytes === maxBytes) return existing;
  const stats = existing?.stats ?? new Map<string, CacheStats>();
  const state: CacheState = {
    store: createMemoryCacheStore(maxBytes),
    redis: existing?.redis,
    stats,
    statsFor(route) {
      let line = stats.get(route);
      if (line === undefined) stats.set(route, (line = { hit: 0, miss: 0, stale: 0, bypass: 0, stored: 0 }));
      return line;
    },
  };
  shared.set(CACHE_KEY, state);
  return state;
}

const REDIS_KEY = 'cache.redis';

/**
 * The Redis store for `url` and `prefix`, connected on first use and kept across reloads (closed with the
 * stage state on shutdown).
 */
export function redisCacheStore(
  shared: Map<string, unknown>,
  state: CacheState,
  url: string,
  prefix: string,
): RedisCacheStore {
  const id = `${REDIS_KEY}:${url}:${prefix}`;
  let store = shared.get(id) as RedisCacheStore | undefined;
  if (store === undefined)
    shared.set(id, (store = createRedisCacheStore({ url, prefix: `${prefix}cache:` })));
  state.redis = store;
  return store;
}

/** The cache state if any route uses the cache (admin API, metrics). */
export function currentCacheState(shared: ReadonlyMap<string, unknown>): CacheState | undefined {
  return shared.get(CACHE_KEY) as CacheState | undefined;
}

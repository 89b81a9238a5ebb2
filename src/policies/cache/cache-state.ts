import { createMemoryCacheStore, type CacheStore } from './cache-store.ts';

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
  readonly store: CacheStore;
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

/** The cache state if any route uses the cache (admin API, metrics). */
export function currentCacheState(shared: ReadonlyMap<string, unknown>): CacheState | undefined {
  return shared.get(CACHE_KEY) as CacheState | undefined;
}

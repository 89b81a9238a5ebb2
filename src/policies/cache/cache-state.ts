import type { MemoryCacheStore } from './cache-store.ts';
import type { RedisCacheStore } from './redis-cache-store.ts';

/** Answers of one route by outcome since the node started (metrics, admin API). */
export interface CacheStats {
  hit: number;
  miss: number;
  stale: number;
  bypass: number;
  /** Answers written to the store. */
  stored: number;
  /** Stored answers compressed into another content-coding and kept (once per coding and answer). */
  compressed: number;
}

/** A route's counts before its first answer. */
export function createCacheStats(): CacheStats {
  return { hit: 0, miss: 0, stale: 0, bypass: 0, stored: 0, compressed: 0 };
}

/**
 * What the admin API and the metrics read of the node's response cache: the stores the serving table uses
 * and every route's counts since the node started.
 */
export interface CacheView {
  /** The in-memory store of the serving table; undefined while no route caches. */
  readonly memory: MemoryCacheStore | undefined;
  /** The shared stores (Redis) routes of the serving table write to. */
  readonly shared: readonly RedisCacheStore[];
  readonly stats: ReadonlyMap<string, CacheStats>;
}

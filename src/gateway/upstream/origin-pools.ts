import { Pool } from 'undici';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import type { UpstreamTls } from './upstream-tls.ts';

/** What makes two pools interchangeable: the origin and every setting undici's `Pool` is created with. */
export interface PoolKey {
  readonly origin: string;
  readonly connections: number | null;
  readonly connectTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** The guarded DNS lookup of registered instances; compared by identity. */
  readonly lookup: GuardedLookup | undefined;
  /** TLS settings of an https origin (undefined for http); compared by identity. */
  readonly tls: UpstreamTls | undefined;
}

interface Entry {
  readonly pool: Pool;
  refs: number;
}

/**
 * Connection pools shared by every instance on one origin with the same settings, counted by reference.
 * Ten thousand registered instance ids on a handful of origins (one process per port, many ids each, or ids
 * that churn) then hold a handful of pools and their sockets, not ten thousand; a pool closes, after its
 * in-flight requests, when the last instance using it is closed.
 *
 * @example
 * const pool = originPools.acquire({ origin, connections: null, connectTimeoutMs, keepAliveTimeoutMs, lookup, tls });
 * // … later, once per acquire:
 * await originPools.release(pool);
 */
export class OriginPools {
  readonly #entries = new Map<string, Entry>();
  readonly #byPool = new Map<Pool, string>();
  /** Identities of lookup functions and TLS settings, for the key. */
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  /** The pool for `key`, created on first use; pair each call with one {@link OriginPools.release}. */
  acquire(key: PoolKey): Pool {
    const id = this.#keyOf(key);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      const pool = new Pool(key.origin, {
        connections: key.connections,
        connectTimeout: key.connectTimeoutMs,
        keepAliveTimeout: key.keepAliveTimeoutMs,
        keepAliveMaxTimeout: key.keepAliveTimeoutMs,
        pipelining: 1,
        ...(key.lookup === undefined && key.tls === undefined
          ? {}
          : { connect: { ...key.tls, ...(key.lookup === undefined ? {} : { lookup: key.lookup }) } }),
      });
      entry = { pool, refs: 0 };
      this.#entries.set(id, entry);
      this.#byPool.set(pool, id);
    }
    entry.refs++;
    return entry.pool;
  }

  /** Drops one reference; the last one closes the pool once its in-flight requests finish. */
  async release(pool: Pool): Promise<void> {
    const id = this.#byPool.get(pool);
    if (id === undefined) return;
    const entry = this.#entries.get(id);
    if (entry === undefined || --entry.refs > 0) return;
    this.#entries.delete(id);
    this.#byPool.delete(pool);
    await pool.close();
  }

  /** Pools open now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #keyOf(key: PoolKey): string {
    return `${key.origin} ${key.connections ?? 0} ${key.connectTimeoutMs} ${key.keepAliveTimeoutMs} ${this.#idOf(key.lookup)} ${this.#idOf(key.tls)}`;
  }

  #idOf(value: object | undefined): number {
    if (value === undefined) return 0;
    let id = this.#ids.get(value);
    if (id === undefined) this.#ids.set(value, (id = this.#nextId++));
    return id;
  }
}

/** The process's pools; instances take theirs from here (see `Instance.pool`). */
export const originPools = new OriginPools();

import { Pool } from 'undici';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import { Http2Dispatcher } from './http2-dispatcher.ts';
import type { UpstreamTls } from './upstream-tls.ts';

/** The HTTP version spoken to an origin (a service's `protocol`). */
export type UpstreamProtocol = 'http1' | 'h2' | 'h2c';

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
  /** HTTP/1.1, or HTTP/2 by ALPN (h2) or with prior knowledge (h2c). */
  readonly protocol: UpstreamProtocol;
}

interface Entry<T> {
  readonly value: T;
  refs: number;
}

/**
 * Connections shared by every instance on one origin with the same settings, counted by reference: undici pools
 * (`originPools`) and the multiplexed HTTP/2 sessions of gRPC calls (`originSessions`). Ten thousand registered
 * instance ids on a handful of origins (one process per port, many ids each, or ids that churn) then hold a
 * handful of pools and their sockets, not ten thousand; a pool or session closes, after its in-flight requests,
 * when the last instance using it is closed.
 *
 * @example
 * const pool = originPools.acquire({ origin, connections: null, connectTimeoutMs, keepAliveTimeoutMs, lookup, tls, protocol: 'http1' });
 * // … later, once per acquire:
 * await originPools.release(pool);
 */
export class SharedByOrigin<T extends { close(): Promise<void> }> {
  readonly #create: (key: PoolKey) => T;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #byValue = new Map<T, string>();
  /** Identities of lookup functions and TLS settings, for the key. */
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  constructor(create: (key: PoolKey) => T) {
    this.#create = create;
  }

  /** The pool or session for `key`, created on first use; pair each call with one {@link SharedByOrigin.release}. */
  acquire(key: PoolKey): T {
    const id = this.#keyOf(key);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { value: this.#create(key), refs: 0 };
      this.#entries.set(id, entry);
      this.#byValue.set(entry.value, id);
    }
    entry.refs++;
    return entry.value;
  }

  /** Drops one reference; the last one closes it once its in-flight requests finish. */
  async release(value: T): Promise<void> {
    const id = this.#byValue.get(value);
    if (id === undefined) return;
    const entry = this.#entries.get(id);
    if (entry === undefined || --entry.refs > 0) return;
    this.#entries.delete(id);
    this.#byValue.delete(value);
    await value.close();
  }

  /** Pools or sessions open now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #keyOf(key: PoolKey): string {
    return `${key.origin} ${key.protocol} ${key.connections ?? 0} ${key.connectTimeoutMs} ${key.keepAliveTimeoutMs} ${this.#idOf(key.lookup)} ${this.#idOf(key.tls)}`;
  }

  #idOf(value: object | undefined): number {
    if (value === undefined) return 0;
    let id = this.#ids.get(value);
    if (id === undefined) this.#ids.set(value, (id = this.#nextId++));
    return id;
  }
}

/** An undici pool for `key`. */
export function createOriginPool(key: PoolKey): Pool {
  return new Pool(key.origin, {
    connections: key.connections,
    connectTimeout: key.connectTimeoutMs,
    keepAliveTimeout: key.keepAliveTimeoutMs,
    keepAliveMaxTimeout: key.keepAliveTimeoutMs,
    ...http2OptionsOf(key.protocol),
    ...connectOptionsOf(key.lookup, key.tls, key.protocol === 'h2c'),
  });
}

/**
 * undici's HTTP/2 options: ALPN `h2` over TLS, or prior knowledge (h2c) on a plain connection (see
 * docs/adr/0008-http2-listeners-and-upstreams.md). HTTP/2 connections multiplex streams up to the instance's
 * SETTINGS_MAX_CONCURRENT_STREAMS (undici's default pipelining for h2); HTTP/1.1 ones carry one request at a time.
 */
function http2OptionsOf(protocol: UpstreamProtocol): object {
  return protocol === 'http1' ? { pipelining: 1 } : { allowH2: true };
}

/** undici `connect` options: the guarded lookup, the TLS settings and h2c, only when set. */
function connectOptionsOf(
  lookup: GuardedLookup | undefined,
  tls: UpstreamTls | undefined,
  h2c: boolean,
): { connect?: Record<string, unknown> } {
  if (lookup === undefined && tls === undefined && !h2c) return {};
  // useH2c goes in `connect`: a Pool builds its connector without passing its own useH2c on.
  return {
    connect: { ...tls, ...(lookup === undefined ? {} : { lookup }), ...(h2c ? { useH2c: true } : {}) },
  };
}

/** The process's pools; instances take theirs from here (see `Instance.pool`). */
export const originPools = new SharedByOrigin<Pool>(createOriginPool);

/** The process's multiplexed HTTP/2 sessions for gRPC calls (see `Instance.http2`). */
export const originSessions = new SharedByOrigin<Http2Dispatcher>(
  (key) =>
    new Http2Dispatcher({
      origin: key.origin,
      connectTimeoutMs: key.connectTimeoutMs,
      idleTimeoutMs: key.keepAliveTimeoutMs,
      lookup: key.lookup,
      tls: key.tls,
    }),
);

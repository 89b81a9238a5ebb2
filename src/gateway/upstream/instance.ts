import type { Pool } from 'undici';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import type { Http2Dispatcher } from './http2-dispatcher.ts';
import { originPools, originSessions, type PoolKey, type UpstreamProtocol } from './origin-pools.ts';
import type { UpstreamTls } from './upstream-tls.ts';

export type InstanceStatus = 'passing' | 'critical' | 'draining';

export interface InstanceOptions {
  id: string;
  service: string;
  url: string;
  version?: string | undefined;
  weight?: number | undefined;
  source: 'static' | 'registry';
  metadata?: Record<string, string> | undefined;
}

export interface PoolOptions {
  connectTimeoutMs: number;
  /** Keep-alive time of idle upstream sockets. */
  keepAliveTimeoutMs: number;
  connections?: number | undefined;
  /** DNS lookup that re-checks resolved addresses against the registry's allow-list (DNS rebinding). */
  lookup?: GuardedLookup | undefined;
  /** TLS settings of the service, used when the instance URL is https. */
  tls?: UpstreamTls | undefined;
  /** HTTP version spoken to the instance (the service's `protocol`); http1 when absent. */
  protocol?: UpstreamProtocol | undefined;
}

export type { UpstreamProtocol } from './origin-pools.ts';

/**
 * One running copy of a service. Mutable counters (inflight, health) live here so balancers and
 * health checks share them without a lookup; the connection pool is created on first use.
 */
export class Instance {
  readonly id: string;
  readonly service: string;
  readonly url: URL;
  /** scheme://host:port, the pool key. */
  readonly origin: string;
  /** The URL's path without its trailing slash ('' for `/`), put in front of every upstream path. */
  readonly pathPrefix: string;
  readonly version: string | undefined;
  readonly weight: number;
  readonly source: 'static' | 'registry';
  readonly metadata: Record<string, string>;
  /** Requests currently in flight to this instance (least-request balancer). */
  inflight = 0;
  /**
   * Tries sent and still waiting for their response head (an upgraded WebSocket or a streaming answer no longer
   * counts): the stall sweep of outlier detection looks for instances where these pile up unanswered.
   */
  awaiting = 0;
  /** Set by active health checks and passive ejection; only healthy instances take traffic. */
  healthy = true;
  /**
   * Taken out of rotation by outlier detection (failed real traffic): such an instance gets no panic traffic.
   * Set through `OutlierDetector`, before the `setHealth` call that rebuilds the set.
   */
  ejected = false;
  /**
   * Back from an ejection and not yet proven: it takes one try at a time until a try succeeds, and its next
   * failure ejects it again (see `InstanceSet.pick` and `OutlierDetector`).
   */
  probation = false;
  status: InstanceStatus = 'passing';
  #pool: Pool | undefined;
  #http2: Http2Dispatcher | undefined;
  readonly #poolOptions: PoolOptions;

  constructor(options: InstanceOptions, poolOptions: PoolOptions) {
    this.id = options.id;
    this.service = options.service;
    this.url = new URL(options.url);
    this.origin = this.url.origin;
    this.pathPrefix = this.url.pathname.replace(/\/+$/, '');
    this.version = options.version;
    this.weight = options.weight ?? 1;
    this.source = options.source;
    this.metadata = options.metadata ?? {};
    this.#poolOptions = poolOptions;
  }

  /** The guarded DNS lookup of registered instances (undefined for static ones). */
  get lookup(): GuardedLookup | undefined {
    return this.#poolOptions.lookup;
  }

  /** The service's TLS settings for an https instance (undefined: system CAs, verified, URL host as name). */
  get tls(): UpstreamTls | undefined {
    return this.url.protocol === 'https:' ? this.#poolOptions.tls : undefined;
  }

  /** Whether the instance may take new requests. */
  get available(): boolean {
    return this.healthy && this.status === 'passing';
  }

  /** The HTTP version spoken to this instance. */
  get protocol(): UpstreamProtocol {
    return this.#poolOptions.protocol ?? 'http1';
  }

  /** The connection pool of this instance's origin, shared with every instance on it (see `SharedByOrigin`). */
  get pool(): Pool {
    this.#pool ??= originPools.acquire(this.#poolKey());
    return this.#pool;
  }

  /**
   * The multiplexed HTTP/2 session of this instance, for gRPC calls (h2 and h2c instances only): undici runs each
   * POST alone on a connection of `pool` (ADR 8), which costs a gRPC proxy about half its calls/s.
   */
  get http2(): Http2Dispatcher {
    this.#http2 ??= originSessions.acquire(this.#poolKey());
    return this.#http2;
  }

  #poolKey(): PoolKey {
    return {
      origin: this.origin,
      connections: this.#poolOptions.connections ?? null,
      connectTimeoutMs: this.#poolOptions.connectTimeoutMs,
      keepAliveTimeoutMs: this.#poolOptions.keepAliveTimeoutMs,
      lookup: this.#poolOptions.lookup,
      tls: this.tls,
      protocol: this.#poolOptions.protocol ?? 'http1',
    };
  }

  /** Lets go of the shared pool (the last instance on it closes it after in-flight requests finish) and closes
   * the HTTP/2 session once its streams end. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    const http2 = this.#http2;
    this.#http2 = undefined;
    await Promise.all([
      pool === undefined ? undefined : originPools.release(pool),
      http2 === undefined ? undefined : originSessions.release(http2),
    ]);
  }
}

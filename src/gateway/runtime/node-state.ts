import { Agent } from 'undici';
import type { ServiceConfig } from '../../config/schema.ts';
import { createCacheStats, type CacheStats, type CacheView } from '../../policies/cache/cache-state.ts';
import { createMemoryCacheStore, type MemoryCacheStore } from '../../policies/cache/cache-store.ts';
import { createRedisCacheStore, type RedisCacheStore } from '../../policies/cache/redis-cache-store.ts';
import { createMirrorStats, type MirrorStats } from '../../policies/mirror-stats.ts';
import { createJwksCache, type JwksCache, type JwksCacheOptions } from '../../security/jwks-cache.ts';
import { createLocalRateLimiter } from '../../security/local-rate-limiter.ts';
import type { RateLimiter } from '../../security/rate-limiter.ts';
import {
  createRateLimitStoreEvents,
  type RateLimitStoreEvents,
} from '../../security/rate-limit-store-events.ts';
import {
  createRedisRateLimiter,
  type RedisRateLimiter,
  type RedisRateLimiterOptions,
} from '../../security/redis-rate-limiter.ts';
import { describeRedisTarget } from '../../store/redis-connection.ts';
import type { ContractBook } from '../../versions/contract-book.ts';
import { ResponseReports } from '../../versions/response-reports.ts';
import type { VersionIndex } from '../../versions/version-index.ts';
import { VersionTracking } from '../../versions/version-tracking.ts';
import {
  hasResilience,
  pruneBreakers,
  resilienceFingerprint,
  ServiceResilience,
  type PrunableService,
  type ServiceResilienceOptions,
} from '../services/service-resilience.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';

/** Options of {@link NodeState}. */
export interface NodeStateOptions {
  /** Contracts the node's instances published (validation, deprecation dates); closed with the state. */
  readonly contracts?: ContractBook | undefined;
  /** Version usage and consumer pins (shared through the store); a node-local one when absent. */
  readonly versions?: VersionTracking | undefined;
  /**
   * The node's in-memory rate limiter: a worker of a `workers: N` node passes the one drawing from the primary's
   * buckets; a limiter of this process otherwise.
   */
  readonly localRateLimiter?: RateLimiter | undefined;
}

/** The parts one compiled table uses that outlive it when the next table keeps using them. */
class TableParts {
  readonly redisRateLimiters = new Map<string, RedisRateLimiter>();
  readonly jwks = new Map<string, JwksCache>();
  readonly resilience = new Map<
    string,
    { readonly fingerprint: string; readonly value: ServiceResilience }
  >();
  readonly sharedCaches = new Map<string, RedisCacheStore>();
  memoryCache: MemoryCacheStore | undefined;
  mirrorAgent: Agent | undefined;
  /** Count lines of routes the node had none for yet: added to the node's tables by the swap. */
  readonly newMirrorStats = new Map<string, MirrorStats>();
  readonly newCacheStats = new Map<string, CacheStats>();
}

/** Clock of the rate limiter and the JWKS caches: token times are wall time. */
const now = (): number => Date.now();

/**
 * What a node keeps between compiled tables, one typed field per part, with a lifecycle.
 *
 * Two kinds of parts live here. Parts of the node (`contracts`, `versions`, the local rate limiter, the response
 * reports, the rate-limit store events, version indexes and per-route counts) are made once and read by every
 * table. Parts of a table (Redis rate limiters, JWKS caches, each service's breakers, bulkhead and retry budget,
 * the cache stores, the mirror agent) are claimed while a table compiles, through its {@link TableState}: a claim
 * reuses the part the serving table holds when its settings did not change (a reload keeps counters, fetched keys
 * and open breakers), else makes a new one that opens nothing yet. Compiling therefore has no side effect:
 * {@link commit} (the swap) opens the new table's parts, hands it ownership, and disposes and prunes what only the
 * old table held; a table that is never committed is dropped with everything it made.
 *
 * @example
 * const state = new NodeState({ contracts, versions });
 * const table = compileRuntime(config, { state, stats, observer });
 * state.commit(table.state, table.services); // the swap
 * await state.close(); // shutdown
 */
export class NodeState {
  readonly contracts: ContractBook | undefined;
  readonly versions: VersionTracking;
  /** The bucket store of limits while `store.kind` is not redis, and of the whole node in a worker. */
  readonly localRateLimiter: RateLimiter;
  /** Report-only response validation counts (`validate: request-and-response`). */
  readonly responseReports = new ResponseReports();
  /** Switches of the Redis rate limiter between the shared budget and the local fallback. */
  readonly rateLimitEvents: RateLimitStoreEvents = createRateLimitStoreEvents();
  /** Version views of an instance set; a reload makes new sets, so they are keyed by the set itself. */
  readonly versionIndexes = new WeakMap<InstanceSet, VersionIndex>();
  /** Mirror counts per route since the node started. */
  readonly mirrorStats = new Map<string, MirrorStats>();
  /** Cache counts per route since the node started. */
  readonly cacheStats = new Map<string, CacheStats>();
  #live = new TableParts();
  readonly #parts = new WeakMap<TableState, TableParts>();
  /** Disposals started by swaps, awaited on close. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #retiredAgents = new Set<Agent>();

  constructor(options: NodeStateOptions = {}) {
    this.contracts = options.contracts;
    this.versions = options.versions ?? new VersionTracking();
    this.localRateLimiter = options.localRateLimiter ?? createLocalRateLimiter({ now });
  }

  /** The state of a table about to be compiled: it reads the serving table's parts and changes nothing. */
  prepare(): TableState {
    const parts = new TableParts();
    const table = new TableState(this, parts, () => this.#live);
    this.#parts.set(table, parts);
    return table;
  }

  /**
   * The swap: `table` (compiled from {@link prepare}) becomes the owner of the node's per-table parts. Its new
   * parts connect; parts only the previous table held are closed (the mirror agent after its copies in flight);
   * breakers of instances that left `services` are forgotten. Call it when the table starts serving.
   */
  commit(table: TableState, services: ReadonlyMap<string, PrunableService>): void {
    const next = this.#parts.get(table);
    if (next === undefined) throw new Error('the table state was not prepared by this node');
    const previous = this.#live;
    this.#live = next;
    for (const limiter of next.redisRateLimiters.values()) limiter.open();
    for (const store of next.sharedCaches.values()) store.open();
    for (const [route, stats] of next.newMirrorStats)
      if (!this.mirrorStats.has(route)) this.mirrorStats.set(route, stats);
    next.newMirrorStats.clear();
    for (const [route, stats] of next.newCacheStats)
      if (!this.cacheStats.has(route)) this.cacheStats.set(route, stats);
    next.newCacheStats.clear();
    pruneBreakers(services);
    if (previous !== next) this.#retire(previous, next);
  }

  /** The serving table's resilience state of a service (admin, tests). */
  resilienceOf(service: string): ServiceResilience | undefined {
    return this.#live.resilience.get(service)?.value;
  }

  /** How many parts the serving table holds that hold connections or timers (tests, diagnostics). */
  get openParts(): number {
    const live = this.#live;
    return live.redisRateLimiters.size + live.sharedCaches.size + (live.mirrorAgent === undefined ? 0 : 1);
  }

  /** The response cache as the serving table uses it (admin API, metrics). */
  cache(): CacheView {
    const live = this.#live;
    return { memory: live.memoryCache, shared: [...live.sharedCaches.values()], stats: this.cacheStats };
  }

  /** Shutdown: closes the serving table's connections, the mirror agents (copies in flight are cut) and the contracts. */
  async close(): Promise<void> {
    const live = this.#live;
    this.#live = new TableParts();
    const agents = [...this.#retiredAgents];
    if (live.mirrorAgent !== undefined) agents.push(live.mirrorAgent);
    await Promise.all([
      ...agents.map((agent) => agent.destroy().catch(() => undefined)),
      ...[...live.redisRateLimiters.values()].map((limiter) => limiter.close()),
      ...[...live.sharedCaches.values()].map((store) => store.close()),
      ...this.#retiring,
    ]);
    await this.contracts?.close();
  }

  #retire(previous: TableParts, next: TableParts): void {
    const closing: Promise<void>[] = [];
    for (const limiter of unused(previous.redisRateLimiters, next.redisRateLimiters))
      closing.push(limiter.close());
    for (const store of unused(previous.sharedCaches, next.sharedCaches)) closing.push(store.close());
    const agent = previous.mirrorAgent;
    if (agent !== undefined && agent !== next.mirrorAgent) {
      // close() lets the copies the old table sent finish; shutdown destroys it if they hang.
      this.#retiredAgents.add(agent);
      closing.push(agent.close().finally(() => this.#retiredAgents.delete(agent)));
    }
    if (closing.length === 0) return;
    const done: Promise<void> = Promise.all(closing).then(
      () => {
        this.#retiring.delete(done);
      },
      () => {
        this.#retiring.delete(done);
      },
    );
    this.#retiring.add(done);
  }
}

/**
 * The state one table is compiled with: stage factories and services claim their parts here. A claim returns the
 * part the serving table holds when its settings are the same, else a new part that connects only if this table is
 * committed. Claims of one compile share their parts (two routes naming one limit draw from one bucket store).
 */
export class TableState {
  /** The parts of the node, shared by every table. */
  readonly node: NodeState;
  readonly #parts: TableParts;
  readonly #live: () => TableParts;

  /** Made by {@link NodeState.prepare}. */
  constructor(node: NodeState, parts: TableParts, live: () => TableParts) {
    this.node = node;
    this.#parts = parts;
    this.#live = live;
  }

  /** The Redis rate limiter of a store (URL and prefix); a new one connects when the table is swapped in. */
  redisRateLimiter(options: Omit<RedisRateLimiterOptions, 'deferConnect' | 'onSwitch'>): RedisRateLimiter {
    const key = `${describeRedisTarget(options.url)}:${options.prefix}`;
    const events = this.node.rateLimitEvents;
    return claim(this.#parts.redisRateLimiters, this.#live().redisRateLimiters, key, () =>
      createRedisRateLimiter({ ...options, deferConnect: true, onSwitch: (event) => events.switched(event) }),
    );
  }

  /** The JWKS cache of a URL with its TTL and cooldown, keeping fetched keys across reloads. */
  jwksCache(options: Omit<JwksCacheOptions, 'now'>): JwksCache {
    const key = `${options.url}:${options.ttlMs}:${options.cooldownMs}`;
    return claim(this.#parts.jwks, this.#live().jwks, key, () => createJwksCache({ ...options, now }));
  }

  /**
   * The retries, breakers and bulkhead of a service, kept from the serving table while their config is the
   * same (an open breaker stays open); undefined when the service has none.
   */
  resilience(
    service: string,
    config: ServiceConfig,
    options: ServiceResilienceOptions = {},
  ): ServiceResilience | undefined {
    if (!hasResilience(config)) return undefined;
    const fingerprint = resilienceFingerprint(config);
    const own = this.#parts.resilience.get(service);
    if (own?.fingerprint === fingerprint) return own.value;
    const live = this.#live().resilience.get(service);
    const value =
      live?.fingerprint === fingerprint ? live.value : new ServiceResilience(service, config, options);
    this.#parts.resilience.set(service, { fingerprint, value });
    return value;
  }

  /** The in-memory response cache; a new, empty one when `maxBytes` changed. */
  memoryCache(maxBytes: number): MemoryCacheStore {
    let store = this.#parts.memoryCache;
    if (store === undefined) {
      const live = this.#live().memoryCache;
      store = live?.maxBytes === maxBytes ? live : createMemoryCacheStore(maxBytes);
      this.#parts.memoryCache = store;
    }
    return store;
  }

  /** The shared (Redis) response cache of a store; a new one connects when the table is swapped in. */
  sharedCache(url: string, prefix: string): RedisCacheStore {
    return claim(this.#parts.sharedCaches, this.#live().sharedCaches, `${url}:${prefix}`, () =>
      createRedisCacheStore({ url, prefix: `${prefix}cache:`, deferConnect: true }),
    );
  }

  /**
   * The agent mirrored copies go through: one of their own, so they never take a connection the real traffic
   * could use (undici opens sockets on the first request, not here).
   */
  mirrorAgent(): Agent {
    this.#parts.mirrorAgent ??= this.#live().mirrorAgent ?? new Agent({ keepAliveTimeout: 4_000 });
    return this.#parts.mirrorAgent;
  }

  /** A route's mirror counts (kept since the node started). */
  mirrorStats(route: string): MirrorStats {
    return this.node.mirrorStats.get(route) ?? claimNew(this.#parts.newMirrorStats, route, createMirrorStats);
  }

  /** A route's cache counts (kept since the node started). */
  cacheStats(route: string): CacheStats {
    return this.node.cacheStats.get(route) ?? claimNew(this.#parts.newCacheStats, route, createCacheStats);
  }
}

function claim<T>(own: Map<string, T>, live: ReadonlyMap<string, T>, key: string, create: () => T): T {
  let part = own.get(key);
  if (part === undefined) {
    part = live.get(key) ?? create();
    own.set(key, part);
  }
  return part;
}

function claimNew<T>(own: Map<string, T>, key: string, create: () => T): T {
  let part = own.get(key);
  if (part === undefined) own.set(key, (part = create()));
  return part;
}

function unused<T>(previous: ReadonlyMap<string, T>, next: ReadonlyMap<string, T>): T[] {
  const kept = new Set(next.values());
  return [...previous.values()].filter((part) => !kept.has(part));
}

import type { Redis } from 'ioredis';
import { PorticoError } from '../errors/portico-error.ts';
import {
  createRedisConnection,
  defineRedisScript,
  isClusterTarget,
  toStoreError,
  type RedisClient,
  type RedisTarget,
} from '../store/redis-connection.ts';
import { createLocalRateLimiter } from './local-rate-limiter.ts';
import {
  localShareShape,
  type BucketShape,
  type RateLimitOutcome,
  type RateLimiter,
} from './rate-limiter.ts';

/**
 * GCRA over any number of buckets in one round trip. The time comes from Redis (TIME), so gateways with
 * drifting clocks still share one timeline; a refused request writes nothing. TATs are stored as integer
 * microseconds (`%.0f`: Lua's tostring would round them to 14 digits). Returns
 * {allowed, retryAfterUs, remaining1, resetUs1, remaining2, resetUs2, …}.
 */
const gcraScript = defineRedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allowed = 1
local retry = 0
local out = {}
local next_tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 2 - 1])
  local tolerance = interval * tonumber(ARGV[i * 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local diff = tat + interval - now
  if diff > tolerance then
    allowed = 0
    if diff - tolerance > retry then retry = diff - tolerance end
    out[#out + 1] = 0
    out[#out + 1] = tat - now
  else
    next_tats[i] = tat + interval
    out[#out + 1] = math.floor((tolerance - diff) / interval)
    out[#out + 1] = diff
  end
end
if allowed == 1 then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%.0f', next_tats[i]), 'PX', math.ceil((next_tats[i] - now) / 1000) + 1)
  end
end
return {allowed, retry, unpack(out)}
`);

/**
 * Hands what a node let through on its own during an outage back to the shared bucket, so the shared budget does
 * not start full again (a burst) when Redis returns. KEYS 1 bucket; ARGV 1 debt µs, 2 largest lead µs (an empty
 * bucket). The TAT moves forward by the debt from max(TAT, now), never beyond an empty bucket.
 */
const reconcileScript = defineRedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = math.min(tat + tonumber(ARGV[1]), now + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return 1
`);

/** Which budget the limiter draws from: the shared one in Redis, or the node's local share during an outage. */
export type RateLimitStoreMode = 'shared' | 'local';

/** A switch between the shared budget and the local fallback, for the log and the metrics. */
export interface RateLimitStoreSwitch {
  readonly to: RateLimitStoreMode;
  /** Why: `store unreachable`, `store back`. */
  readonly reason: string;
  /** Buckets handed back to the shared store on the way back (0 on the way down). */
  readonly reconciled: number;
}

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  /** One Redis, a Sentinel group or a Cluster. */
  readonly url: RedisTarget;
  /** Prefix of every key (the store prefix); buckets live under `<prefix>rl:`. */
  readonly prefix: string;
  /** A command without a reply in this time counts as a store failure (default 500 ms). */
  readonly commandTimeoutMs?: number | undefined;
  /** Time between connection attempts while Redis was never reached (default 1000 ms). */
  readonly retryDelayMs?: number | undefined;
  /** Pause between background checks (PING) while Redis is known to be down (default 250 ms). */
  readonly probeIntervalMs?: number | undefined;
  /**
   * Processes that enforce their own share of a `localFallback` limit while Redis is unreachable: nodes ×
   * workers (default 1, the whole limit on every process).
   */
  readonly localShares?: number | undefined;
  /** Wall clock in ms for the local fallback buckets (default `Date.now`). */
  readonly now?: (() => number) | undefined;
  /** Told of every switch between the shared budget and the local fallback. */
  readonly onSwitch?: ((event: RateLimitStoreSwitch) => void) | undefined;
  /**
   * Connect on `open()` rather than at once: a table compiled but never swapped in then opens nothing
   * (default false).
   */
  readonly deferConnect?: boolean | undefined;
}

/** The Redis limiter with its connection, closed on shutdown. */
export interface RedisRateLimiter extends RateLimiter {
  /** True while Redis is known to be down: `consume` fails at once and a background check waits for Redis. */
  readonly storeDown: boolean;
  /** Connects (once) when the limiter was created with `deferConnect`; does nothing otherwise. */
  open(): void;
  close(): Promise<void>;
}

/**
 * GCRA buckets in Redis, shared by every gateway node using the same URL and prefix. Each request is one
 * EVALSHA. While Redis is unreachable, `consume` rejects with `store_unavailable` and the caller applies each
 * limit's `onStoreFailure`; buckets resume from whatever Redis holds once it is back.
 *
 * A Redis that refuses connections fails a command at once, but a hung one (stopped, overloaded, a network that
 * drops packets) only fails it after `commandTimeoutMs`. So the first failure marks the store down: from then on
 * `consume` rejects without touching Redis, and one background PING at a time (every `probeIntervalMs`) finds
 * out when Redis answers again. This is a circuit breaker whose half-open probe is a PING rather than a
 * client's request, so no request ever waits for Redis to be found dead; it is written here because the
 * general breaker (src/resilience/circuit-breaker.ts) probes with live calls and judges failure rates.
 *
 * Limits with `localFallback` (`onStoreFailure: local`) keep being enforced while the store is down: each node
 * draws from its share in memory. Every shared answer primes the local bucket with the shared bucket's fill
 * (a node's share of a bucket is exactly as far from full as the whole), so the switch starts no burst; on
 * the way back what the node let through is added to the shared bucket before it is used again, so the return
 * starts none either. A request that also draws from a `failClosed` limit is refused; limits without a policy
 * are skipped (open).
 *
 * In Cluster mode a request drawing from limits whose keys sit on different slots is checked slot by slot: a
 * request refused by one slot's limit may already have been counted by another's.
 *
 * @example
 * const limiter = createRedisRateLimiter({ url: 'redis://127.0.0.1:6379', prefix: 'portico:' });
 * await limiter.consume(['n:shop-wide'], [bucketShape(5000, 1000)]);
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const probeIntervalMs = options.probeIntervalMs ?? 250;
  const cluster = isClusterTarget(options.url);
  const onSwitch = options.onSwitch;
  // Built once: while the store is down every rate-limited request gets this same rejection.
  const downError = new PorticoError('store_unavailable', 'Redis did not answer; checking in the background');
  const keyPrefix = `${options.prefix}rl:`;
  const local = createLocalRateLimiter({ now: options.now ?? Date.now });
  const localShares = options.localShares ?? 1;
  // A compiled limit is one object for the life of its config: its share is computed once, on first need.
  const shares = new WeakMap<BucketShape, BucketShape>();
  function shareOf(shape: BucketShape): BucketShape {
    let share = shares.get(shape);
    if (share === undefined) {
      share = localShareShape(shape, localShares);
      shares.set(shape, share);
    }
    return share;
  }
  /** Buckets charged locally during this outage: the shared shape and how many requests were let through. */
  const charged = new Map<string, [shape: BucketShape, count: number]>();
  let redis: RedisClient | undefined;
  let connecting: Promise<void> | undefined;
  let nextAttempt = 0;
  let closed = false;
  let down = false;
  let probeTimer: NodeJS.Timeout | undefined;

  function markDown(): void {
    if (down) return;
    down = true;
    onSwitch?.({ to: 'local', reason: 'store unreachable', reconciled: 0 });
    probe();
  }

  function probe(): void {
    probeTimer = undefined;
    const connection = redis;
    if (closed || connection === undefined) return;
    connection
      .ping()
      .then(() => reconcile(connection))
      .then(
        (reconciled) => {
          if (closed) return;
          down = false;
          onSwitch?.({ to: 'shared', reason: 'store back', reconciled });
        },
        () => {
          if (!closed) probeTimer = setTimeout(probe, probeIntervalMs).unref();
        },
      );
  }

  /**
   * Adds what this node let through during the outage to the shared buckets. The debt of a bucket is the smaller
   * of two upper bounds: every request counted now, and the local bucket's remaining fill (which has already
   * leaked what is older than a window) scaled from the share to the whole.
   */
  async function reconcile(connection: RedisClient): Promise<number> {
    if (charged.size === 0) return 0;
    const leads = new Map(local.drain());
    const work: Promise<unknown>[] = [];
    for (const [key, [shape, count]] of charged) {
      const share = shareOf(shape);
      const lead = leads.get(key) ?? 0;
      const debt = Math.min(
        count * shape.intervalUs,
        Math.round((lead * shape.intervalUs) / share.intervalUs),
      );
      if (debt <= 0) continue;
      work.push(reconcileScript.run(connection, [keyPrefix + key], [debt, shape.intervalUs * shape.limit]));
      // Bounded concurrency: a per-ip limit may have charged thousands of buckets.
      if (work.length >= 64) await Promise.all(work.splice(0));
    }
    await Promise.all(work);
    const reconciled = charged.size;
    charged.clear();
    return reconciled;
  }

  function consumeLocally(keys: readonly string[], shapes: readonly BucketShape[]): RateLimitOutcome {
    let count = 0;
    for (const shape of shapes) {
      if (shape.failClosed === true) throw downError;
      if (shape.localFallback === true) count++;
    }
    if (count === 0) throw downError;
    // Only while the store is down: the allocations below stay off the normal path.
    const localKeys = new Array<string>(count);
    const localShapes = new Array<BucketShape>(count);
    for (let i = 0, j = 0; i < shapes.length; i++) {
      const shape = shapes[i] as BucketShape;
      if (shape.localFallback !== true) continue;
      localKeys[j] = keys[i] as string;
      localShapes[j++] = shareOf(shape);
    }
    const outcome = local.consume(localKeys, localShapes);
    const remaining = new Array<number>(keys.length);
    const resetUs = new Array<number>(keys.length);
    for (let i = 0, j = 0; i < shapes.length; i++) {
      const shape = shapes[i] as BucketShape;
      if (shape.localFallback !== true) {
        remaining[i] = shape.limit;
        resetUs[i] = 0;
        continue;
      }
      remaining[i] = outcome.remaining[j] as number;
      resetUs[i] = outcome.resetUs[j++] as number;
      if (outcome.allowed) {
        const key = keys[i] as string;
        const entry = charged.get(key);
        if (entry === undefined) charged.set(key, [shape, 1]);
        else entry[1]++;
      }
    }
    return { allowed: outcome.allowed, retryAfterUs: outcome.retryAfterUs, remaining, resetUs };
  }

  function connect(): void {
    if (connecting !== undefined || closed || Date.now() < nextAttempt) return;
    connecting = createRedisConnection(options.url, { commandTimeoutMs: options.commandTimeoutMs ?? 500 })
      .then((connection) => {
        if (closed) {
          connection.disconnect();
          return;
        }
        redis = connection;
        // Requests let through locally before the first connect are handed to the shared budget first.
        if (charged.size > 0) {
          down = true;
          probe();
        }
        // The limiter must never keep a stopping process alive: its socket is unref'd, also after reconnects.
        if (!connection.isCluster) {
          const single = connection as Redis;
          single.stream.unref();
          single.on('connect', () => single.stream.unref());
        }
      })
      .catch(() => {
        nextAttempt = Date.now() + retryDelayMs;
      })
      .finally(() => {
        connecting = undefined;
      });
  }
  if (options.deferConnect !== true) connect();

  async function consumeShared(
    connection: RedisClient,
    keys: readonly string[],
    shapes: readonly BucketShape[],
  ): Promise<RateLimitOutcome> {
    if (cluster && keys.length > 1) return consumeSlotBySlot(connection, keys, shapes);
    const fullKeys = new Array<string>(keys.length);
    const args = new Array<number>(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      const shape = shapes[i] as BucketShape;
      fullKeys[i] = keyPrefix + (keys[i] as string);
      args[i * 2] = shape.intervalUs;
      args[i * 2 + 1] = shape.limit;
    }
    const reply = (await gcraScript.run(connection, fullKeys, args)) as number[];
    const remaining = new Array<number>(keys.length);
    const resetUs = new Array<number>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const reset = reply[3 + i * 2] as number;
      remaining[i] = reply[2 + i * 2] as number;
      resetUs[i] = reset;
      // The local bucket mirrors the shared one's fill, ready for an outage (see the TSDoc above).
      if ((shapes[i] as BucketShape).localFallback === true) local.prime(keys[i] as string, reset);
    }
    return { allowed: reply[0] === 1, retryAfterUs: reply[1] as number, remaining, resetUs };
  }

  /** Cluster mode with several keys: one script per key (they may live on different slots), merged. */
  async function consumeSlotBySlot(
    connection: RedisClient,
    keys: readonly string[],
    shapes: readonly BucketShape[],
  ): Promise<RateLimitOutcome> {
    const outcomes = await Promise.all(
      keys.map((key, i) => consumeShared(connection, [key], [shapes[i] as BucketShape])),
    );
    let allowed = true;
    let retryAfterUs = 0;
    for (const outcome of outcomes) {
      if (!outcome.allowed) allowed = false;
      if (outcome.retryAfterUs > retryAfterUs) retryAfterUs = outcome.retryAfterUs;
    }
    return {
      allowed,
      retryAfterUs,
      remaining: outcomes.map((o) => o.remaining[0] as number),
      resetUs: outcomes.map((o) => o.resetUs[0] as number),
    };
  }

  return {
    kind: 'redis',
    get storeDown() {
      return down;
    },
    async consume(keys: readonly string[], shapes: readonly BucketShape[]): Promise<RateLimitOutcome> {
      const connection = redis;
      if (connection === undefined) {
        connect();
        return consumeLocally(keys, shapes);
      }
      if (down) return consumeLocally(keys, shapes);
      try {
        return await consumeShared(connection, keys, shapes);
      } catch (err) {
        const error = toStoreError(err);
        if (!(error instanceof PorticoError) || error.code !== 'store_unavailable') throw error;
        markDown();
        return consumeLocally(keys, shapes);
      }
    },
    open() {
      if (redis === undefined) connect();
    },
    async close() {
      closed = true;
      clearTimeout(probeTimer);
      await connecting;
      redis?.disconnect();
      redis = undefined;
    },
  };
}

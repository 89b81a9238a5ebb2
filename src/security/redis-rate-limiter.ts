import type { Redis } from 'ioredis';
import { PorticoError } from '../errors/portico-error.ts';
import { createRedisConnection, defineRedisScript, toStoreError } from '../store/redis-connection.ts';
import type { BucketShape, RateLimitOutcome, RateLimiter } from './rate-limiter.ts';

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

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  readonly url: string;
  /** Prefix of every key (the store prefix); buckets live under `<prefix>rl:`. */
  readonly prefix: string;
  /** A command without a reply in this time counts as a store failure (default 500 ms). */
  readonly commandTimeoutMs?: number | undefined;
  /** Time between connection attempts while Redis was never reached (default 1000 ms). */
  readonly retryDelayMs?: number | undefined;
  /** Pause between background checks (PING) while Redis is known to be down (default 250 ms). */
  readonly probeIntervalMs?: number | undefined;
}

/** The Redis limiter with its connection, closed on shutdown. */
export interface RedisRateLimiter extends RateLimiter {
  /** True while Redis is known to be down: `consume` fails at once and a background check waits for Redis. */
  readonly storeDown: boolean;
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
 * @example
 * const limiter = createRedisRateLimiter({ url: 'redis://127.0.0.1:6379', prefix: 'portico:' });
 * await limiter.consume(['n:shop-wide'], [bucketShape(5000, 1000)]);
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const probeIntervalMs = options.probeIntervalMs ?? 250;
  // Built once: while the store is down every rate-limited request gets this same rejection.
  const downError = new PorticoError('store_unavailable', 'Redis did not answer; checking in the background');
  const keyPrefix = `${options.prefix}rl:`;
  let redis: Redis | undefined;
  let connecting: Promise<void> | undefined;
  let nextAttempt = 0;
  let closed = false;
  let down = false;
  let probeTimer: NodeJS.Timeout | undefined;

  function markDown(): void {
    if (down) return;
    down = true;
    probe();
  }

  function probe(): void {
    probeTimer = undefined;
    const connection = redis;
    if (closed || connection === undefined) return;
    connection.ping().then(
      () => {
        down = false;
      },
      () => {
        if (!closed) probeTimer = setTimeout(probe, probeIntervalMs).unref();
      },
    );
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
        // The limiter must never keep a stopping process alive: its socket is unref'd, also after reconnects.
        connection.stream.unref();
        connection.on('connect', () => connection.stream.unref());
      })
      .catch(() => {
        nextAttempt = Date.now() + retryDelayMs;
      })
      .finally(() => {
        connecting = undefined;
      });
  }
  connect();

  return {
    kind: 'redis',
    get storeDown() {
      return down;
    },
    async consume(keys: readonly string[], shapes: readonly BucketShape[]): Promise<RateLimitOutcome> {
      if (redis === undefined) {
        connect();
        throw new PorticoError('store_unavailable', 'Redis is not connected');
      }
      if (down) throw downError;
      const fullKeys = new Array<string>(keys.length);
      const args = new Array<number>(keys.length * 2);
      for (let i = 0; i < keys.length; i++) {
        const shape = shapes[i] as BucketShape;
        fullKeys[i] = keyPrefix + (keys[i] as string);
        args[i * 2] = shape.intervalUs;
        args[i * 2 + 1] = shape.limit;
      }
      let reply: number[];
      try {
        reply = (await gcraScript.run(redis, fullKeys, args)) as number[];
      } catch (err) {
        const error = toStoreError(err);
        if (error instanceof PorticoError && error.code === 'store_unavailable') markDown();
        throw error;
      }
      const remaining = new Array<number>(keys.length);
      const resetUs = new Array<number>(keys.length);
      for (let i = 0; i < keys.length; i++) {
        remaining[i] = reply[2 + i * 2] as number;
        resetUs[i] = reply[3 + i * 2] as number;
      }
      return { allowed: reply[0] === 1, retryAfterUs: reply[1] as number, remaining, resetUs };
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

import { createHash } from 'node:crypto';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { PorticoError } from '../errors/portico-error.ts';

/** A connection to one Redis, to the primary a Sentinel group names, or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: one server (`url`), a primary found through Sentinel (`sentinels` and `name`), or a Redis
 * Cluster (`nodes`, any of its primaries or replicas as seeds). A plain string is a `url`.
 */
export type RedisTarget =
  | string
  | {
      /** `redis://[user:password@]host:port[/db]` (`rediss://` for TLS). */
      readonly url?: string | undefined;
      /** Sentinel addresses (`host:port`); with `name`, the primary is asked from them and followed on failover. */
      readonly sentinels?: readonly string[] | undefined;
      /** Name of the primary the sentinels watch. */
      readonly name?: string | undefined;
      /** Cluster seed addresses (`host:port`). */
      readonly nodes?: readonly string[] | undefined;
      /** Password of the Redis servers (Sentinel and Cluster; a `url` carries its own). */
      readonly password?: string | undefined;
    };

/** Options of {@link createRedisConnection}. */
export interface RedisConnectionOptions {
  /** Reject a command that got no reply within this many ms (default 2000). Not set on blocking connections. */
  readonly commandTimeoutMs?: number | undefined;
  /** A blocking connection (XREAD BLOCK) guards its reads with `blockingTimeout` instead of `commandTimeout`. */
  readonly blocking?: boolean | undefined;
  /** Longest pause between reconnect attempts (default 2000 ms). */
  readonly maxReconnectDelayMs?: number | undefined;
}

/** Whether `target` is a Redis Cluster (its keys then need hash tags, see {@link clusterSafePrefix}). */
export function isClusterTarget(target: RedisTarget): boolean {
  return typeof target !== 'string' && target.nodes !== undefined && target.nodes.length > 0;
}

/**
 * The key prefix of data that one Lua script or MULTI touches together: in Cluster mode the prefix becomes a hash
 * tag (`{portico:}`), so those keys share one slot; elsewhere it is unchanged, so the layout of an existing single
 * Redis or Sentinel deployment stays as it was.
 */
export function clusterSafePrefix(target: RedisTarget, prefix: string): string {
  if (!isClusterTarget(target) || /\{[^}]+\}/.test(prefix)) return prefix;
  return `{${prefix}}`;
}

/** A short text naming the target for keys and logs (never the password). */
export function describeRedisTarget(target: RedisTarget): string {
  if (typeof target === 'string') return redactUrl(target);
  if (isClusterTarget(target)) return `cluster:${(target.nodes ?? []).join(',')}`;
  if (target.sentinels !== undefined && target.sentinels.length > 0)
    return `sentinel:${target.name ?? ''}@${target.sentinels.join(',')}`;
  return redactUrl(target.url ?? 'redis://127.0.0.1:6379');
}

/**
 * Opens a Redis connection tuned for a gateway: while Redis is unreachable a command fails at once instead of
 * queueing (the caller answers 503 and keeps serving from memory), a command in flight when the socket drops is
 * rejected rather than silently resent, and the client keeps reconnecting with a capped backoff.
 * Resolves once the connection is ready; rejects (and gives up) when the first connect fails.
 *
 * Sentinel and Cluster use ioredis' own support: with Sentinel the client asks the sentinels for the primary on
 * every reconnect and drops a connection that answers READONLY (a demoted primary), so a failover costs one
 * reconnect; with Cluster it follows MOVED/ASK redirections and refreshes the slot map.
 *
 * @example
 * const redis = await createRedisConnection('redis://127.0.0.1:6379');
 * await redis.set('portico:hello', 'world');
 */
export async function createRedisConnection(
  target: RedisTarget,
  options: RedisConnectionOptions = {},
): Promise<RedisClient> {
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  let connected = false;
  // No retries before the first success, so a failed first connect ends cleanly instead of lingering.
  const retry = (times: number): number | null =>
    connected ? Math.min(25 * 2 ** Math.min(times, 10), maxDelay) : null;
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // 0 flushes the in-flight queue on every disconnect, so a caller learns about an outage immediately.
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: retry,
    // A primary demoted by a failover answers writes with READONLY: reconnect (through the sentinels) without
    // resending, the caller already got its error.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  if (options.blocking === true) redisOptions.blockingTimeout = 1000;
  else redisOptions.commandTimeout = options.commandTimeoutMs ?? 2000;
  // Loaded here, not at the top: a config without Redis never pays for ioredis (about 20 MB of RSS).
  const { Redis, Cluster } = await import('ioredis');
  let redis: RedisClient;
  if (typeof target === 'string') {
    redis = new Redis(target, redisOptions);
  } else if (isClusterTarget(target)) {
    const { lazyConnect: _lazy, retryStrategy: _retry, ...nodeOptions } = redisOptions;
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      clusterRetryStrategy: retry,
      redisOptions: { ...nodeOptions, password: target.password },
    };
    redis = new Cluster((target.nodes ?? []).map(hostPort), clusterOptions);
  } else if (target.sentinels !== undefined && target.sentinels.length > 0) {
    redis = new Redis({
      ...redisOptions,
      sentinels: target.sentinels.map(hostPort),
      name: target.name ?? 'mymaster',
      password: target.password,
      sentinelRetryStrategy: (times) => (connected ? Math.min(100 * times, maxDelay) : null),
      // Also listen for +switch-master, so a failover is followed even while no command fails.
      failoverDetector: true,
    });
  } else {
    redis = new Redis(target.url ?? 'redis://127.0.0.1:6379', redisOptions);
  }
  // ioredis emits 'error' on every failed reconnect; callers see failures through rejected commands instead.
  redis.on('error', ignoreError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw toStoreError(err);
  }
  connected = true;
  return redis;
}

function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return { host: address, port: 6379 };
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

function ignoreError(): void {}

/**
 * Maps a failure talking to Redis to `store_unavailable` (503, retryable), a write refused for reaching Redis after
 * its deadline (`DEADLINE`, see redis-store-scripts.ts) included. A reply error from Redis itself (a bug in a
 * script, a wrong type) is not an outage and is returned unchanged.
 */
export function toStoreError(err: unknown): Error {
  if (err instanceof PorticoError) return err;
  if (
    err instanceof Error &&
    err.name === 'ReplyError' &&
    !/^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|DEADLINE)/.test(err.message)
  ) {
    return err;
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new PorticoError('store_unavailable', `Redis is unreachable: ${reason}`, undefined, { cause: err });
}

/** A Lua script run by its sha, loaded again when Redis lost its script cache (after a restart). */
export interface RedisScript {
  readonly source: string;
  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Wraps a Lua source as a {@link RedisScript}. */
export function defineRedisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    source,
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}

/** The store section's Redis fields (`url`, or `sentinels` with `name`, or `nodes`). */
export interface RedisTargetConfig {
  readonly url?: string | undefined;
  readonly sentinels?: readonly string[] | undefined;
  readonly name?: string | undefined;
  readonly nodes?: readonly string[] | undefined;
  readonly password?: string | undefined;
}

/** The {@link RedisTarget} the config's store section names; a plain `url` stays a string. */
export function redisTargetOf(store: RedisTargetConfig): RedisTarget {
  if (store.nodes !== undefined) return { nodes: store.nodes, password: store.password };
  if (store.sentinels !== undefined)
    return { sentinels: store.sentinels, name: store.name, password: store.password };
  return store.url ?? 'redis://127.0.0.1:6379';
}

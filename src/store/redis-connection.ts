import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { PorticoError } from '../errors/portico-error.ts';

/** Options of {@link createRedisConnection}. */
export interface RedisConnectionOptions {
  /** Reject a command that got no reply within this many ms (default 2000). Not set on blocking connections. */
  readonly commandTimeoutMs?: number | undefined;
  /** A blocking connection (XREAD BLOCK) guards its reads with `blockingTimeout` instead of `commandTimeout`. */
  readonly blocking?: boolean | undefined;
  /** Longest pause between reconnect attempts (default 2000 ms). */
  readonly maxReconnectDelayMs?: number | undefined;
}

/**
 * Opens a Redis connection tuned for a gateway: while Redis is unreachable a command fails at once instead of
 * queueing (the caller answers 503 and keeps serving from memory), a command in flight when the socket drops is
 * rejected rather than silently resent, and the client keeps reconnecting with a capped backoff.
 * Resolves once the connection is ready; rejects (and gives up) when the first connect fails.
 *
 * @example
 * const redis = await createRedisConnection('redis://127.0.0.1:6379');
 * await redis.set('portico:hello', 'world');
 */
export async function createRedisConnection(
  url: string,
  options: RedisConnectionOptions = {},
): Promise<Redis> {
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  let connected = false;
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // 0 flushes the in-flight queue on every disconnect, so a caller learns about an outage immediately.
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    // No retries before the first success, so a failed first connect ends cleanly instead of lingering.
    retryStrategy: (times) => (connected ? Math.min(25 * 2 ** Math.min(times, 10), maxDelay) : null),
  };
  if (options.blocking === true) redisOptions.blockingTimeout = 1000;
  else redisOptions.commandTimeout = options.commandTimeoutMs ?? 2000;
  const redis = new Redis(url, redisOptions);
  // ioredis emits 'error' on every failed reconnect; callers see failures through rejected commands instead.
  redis.on('error', ignoreError);
  try {
    await redis.connect();
  } catch (err) {
    throw toStoreError(err);
  }
  connected = true;
  return redis;
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
    !/^(LOADING|BUSY|MASTERDOWN|READONLY|DEADLINE)/.test(err.message)
  ) {
    return err;
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new PorticoError('store_unavailable', `Redis is unreachable: ${reason}`, undefined, { cause: err });
}

/** A Lua script run by its sha, loaded again when Redis lost its script cache (after a restart). */
export interface RedisScript {
  readonly source: string;
  run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
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

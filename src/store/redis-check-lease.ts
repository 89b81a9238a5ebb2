import { defineRedisScript, toStoreError, type RedisClient } from './redis-connection.ts';
import type { CheckLease } from './registry-store.ts';

/** Takes a free lease, or extends it when this node already holds it. Keys 1 lease; ARGV 1 node id, 2 ttl ms. */
const acquireScript = defineRedisScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/** Deletes the lease only when this node holds it. Keys 1 lease; ARGV 1 node id. */
const releaseScript = defineRedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Options of {@link createRedisCheckLease}. */
export interface RedisCheckLeaseOptions {
  readonly redis: RedisClient;
  /** Key prefix of the registry; leases live under `<prefix>check:`. */
  readonly prefix: string;
}

/**
 * Decides which node runs the active health check of an instance when several nodes share one Redis, so each
 * instance is probed by one node at a time rather than by all of them. A node calls `tryAcquire` before every
 * check round with a TTL a little longer than the check interval: the holder keeps extending its lease, and when it
 * dies the lease lapses and another node takes over.
 *
 * @example
 * const lease = createRedisCheckLease({ redis, prefix: 'portico:' });
 * if (await lease.tryAcquire('orders\na1', nodeId, 3 * intervalMs)) await probe(instance);
 */
export type RedisCheckLease = CheckLease;

/** Creates a {@link RedisCheckLease} on an open connection (see `createRedisConnection`). */
export function createRedisCheckLease(options: RedisCheckLeaseOptions): RedisCheckLease {
  const { redis } = options;
  const base = `${options.prefix}check:`;
  return {
    async tryAcquire(key, nodeId, ttlMs) {
      try {
        return (await acquireScript.run(redis, [base + key], [nodeId, Math.max(1, Math.ceil(ttlMs))])) === 1;
      } catch (err) {
        throw toStoreError(err);
      }
    },
    async release(key, nodeId) {
      try {
        return (await releaseScript.run(redis, [base + key], [nodeId])) === 1;
      } catch (err) {
        throw toStoreError(err);
      }
    },
  };
}

import type { AcmeStore } from './acme-store.ts';
import { defineRedisScript, toStoreError, type RedisClient } from './redis-connection.ts';

/** Takes a free lease, or extends it when `owner` holds it. Keys 1 lease; ARGV 1 owner, 2 ttl ms. */
const leaseScript = defineRedisScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/** Deletes the lease only when `owner` holds it. Keys 1 lease; ARGV 1 owner. */
const releaseScript = defineRedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * The {@link AcmeStore} on Redis, under the registry's prefix (a hash tag in Cluster mode): records are plain
 * string keys `acme:<name>` (challenge answers with a TTL), leases `acme-lease:<name>` with the holder as value
 * and a TTL, so a node that dies while ordering frees the lease when it lapses.
 */
export function createRedisAcmeStore(redis: RedisClient, prefix: string): AcmeStore {
  const recordOf = (name: string): string => `${prefix}acme:${name}`;
  const leaseOf = (name: string): string => `${prefix}acme-lease:${name}`;
  const run = async <T>(command: Promise<T>): Promise<T> => {
    try {
      return await command;
    } catch (err) {
      throw toStoreError(err);
    }
  };
  return {
    async get(name) {
      return (await run(redis.get(recordOf(name)))) ?? undefined;
    },
    async put(name, value, ttlMs) {
      if (ttlMs === undefined) await run(redis.set(recordOf(name), value));
      else await run(redis.set(recordOf(name), value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    async remove(name) {
      return (await run(redis.del(recordOf(name)))) > 0;
    },
    async tryLease(name, owner, ttlMs) {
      return (
        (await run(leaseScript.run(redis, [leaseOf(name)], [owner, Math.max(1, Math.ceil(ttlMs))]))) === 1
      );
    },
    async releaseLease(name, owner) {
      return (await run(releaseScript.run(redis, [leaseOf(name)], [owner]))) === 1;
    },
  };
}

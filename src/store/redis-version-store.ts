import { defineRedisScript, toStoreError, type RedisClient } from './redis-connection.ts';
import {
  dayOf,
  USAGE_RETENTION_DAYS,
  type UsageRow,
  type VersionPin,
  type VersionStore,
} from './version-store.ts';

const DAY_MS = 86_400_000;

/**
 * Adds usage to one service-day bucket: a hash with `c\n<version>\n<consumer>` (requests) and
 * `s\n<version>\n<consumer>` (last seen, kept at the latest) fields. Keys 1 bucket; ARGV 1 ttl seconds, then
 * (version\nconsumer, requests, last seen) triples.
 */
const addUsageScript = defineRedisScript(`
for i = 2, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], 'c\\n' .. ARGV[i], ARGV[i + 1])
  local seen = tonumber(redis.call('HGET', KEYS[1], 's\\n' .. ARGV[i]) or '0')
  if tonumber(ARGV[i + 2]) > seen then redis.call('HSET', KEYS[1], 's\\n' .. ARGV[i], ARGV[i + 2]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`);

/**
 * The {@link VersionStore} on Redis, under the registry's prefix (a hash tag in Cluster mode, so these keys
 * share the registry's slot): `usage:<service>:<day>` buckets that expire after the retention, and
 * `pins:<service>` hashes of `<major>\n<pinned at>` per consumer.
 */
export function createRedisVersionStore(redis: RedisClient, prefix: string): VersionStore {
  const bucketOf = (service: string, day: string): string => `${prefix}usage:${service}:${day}`;
  const pinsOf = (service: string): string => `${prefix}pins:${service}`;
  const run = async <T>(command: Promise<T>): Promise<T> => {
    try {
      return await command;
    } catch (err) {
      throw toStoreError(err);
    }
  };
  const parsePin = (consumer: string, value: string): VersionPin => {
    const cut = value.indexOf('\n');
    return { consumer, version: value.slice(0, cut), pinnedAt: Number(value.slice(cut + 1)) };
  };

  return {
    async addUsage(deltas) {
      const buckets = new Map<string, (string | number)[]>();
      for (const d of deltas) {
        const key = bucketOf(d.service, d.day);
        let args = buckets.get(key);
        if (args === undefined) buckets.set(key, (args = [USAGE_RETENTION_DAYS * 86_400]));
        args.push(`${d.version}\n${d.consumer}`, d.requests, d.lastSeenAt);
      }
      await run(Promise.all([...buckets].map(([key, args]) => addUsageScript.run(redis, [key], args))));
    },
    async usage(service, sinceDay) {
      const days: string[] = [];
      const today = dayOf(Date.now());
      for (let at = Date.parse(`${sinceDay}T00:00:00Z`); ; at += DAY_MS) {
        const day = dayOf(at);
        if (day > today || days.length > USAGE_RETENTION_DAYS) break;
        days.push(day);
      }
      const pipeline = redis.pipeline();
      for (const day of days) pipeline.hgetall(bucketOf(service, day));
      const replies = (await run(pipeline.exec())) ?? [];
      const rows: UsageRow[] = [];
      replies.forEach(([err, hash], i) => {
        if (err !== null) throw toStoreError(err);
        const fields = hash as Record<string, string>;
        for (const [field, value] of Object.entries(fields)) {
          if (!field.startsWith('c\n')) continue;
          const rest = field.slice(2);
          const cut = rest.indexOf('\n');
          rows.push({
            version: rest.slice(0, cut),
            consumer: rest.slice(cut + 1),
            day: days[i] as string,
            requests: Number(value),
            lastSeenAt: Number(fields[`s\n${rest}`] ?? 0),
          });
        }
      });
      return rows;
    },
    async getPin(service, consumer) {
      const value = await run(redis.hget(pinsOf(service), consumer));
      return value === null ? undefined : parsePin(consumer, value);
    },
    async pinIfAbsent(service, consumer, version, at) {
      await run(redis.hsetnx(pinsOf(service), consumer, `${version}\n${at}`));
      const value = await run(redis.hget(pinsOf(service), consumer));
      return value === null ? { consumer, version, pinnedAt: at } : parsePin(consumer, value);
    },
    async setPin(service, consumer, version, at) {
      await run(redis.hset(pinsOf(service), consumer, `${version}\n${at}`));
      return { consumer, version, pinnedAt: at };
    },
    async removePin(service, consumer) {
      return (await run(redis.hdel(pinsOf(service), consumer))) > 0;
    },
    async pins(service) {
      const all = await run(redis.hgetall(pinsOf(service)));
      return Object.entries(all)
        .map(([consumer, value]) => parsePin(consumer, value))
        .sort((a, b) => (a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : 0));
    },
  };
}

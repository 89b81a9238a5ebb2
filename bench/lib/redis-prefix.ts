import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';

// bench/node_modules holds an older ioredis (a dependency of express-gateway) that shadows the project's for
// files under bench/: load the project's own from the repository root.
const { Redis } = createRequire(new URL('../../package.json', import.meta.url))('ioredis') as {
  Redis: new (url: string, options: Record<string, unknown>) => RedisClient;
};

/** The Redis the bench uses for shared-store scenarios; PORTICO_BENCH_REDIS overrides it. */
export const BENCH_REDIS_URL = process.env.PORTICO_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run shares, so a bench never reads or deletes anybody else's keys. */
export function uniquePrefix(): string {
  return `portico-bench:${process.pid}-${randomBytes(4).toString('hex')}:`;
}

function connect(url: string): RedisClient {
  return new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
}

/** Deletes every key under `prefix` (SCAN, never KEYS); returns how many went. */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = connect(url);
  redis.on('error', () => {});
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis went away: nothing more can be cleaned from here.
  } finally {
    redis.disconnect();
  }
  return deleted;
}

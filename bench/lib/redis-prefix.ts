import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the bench uses for shared-store scenarios; PORTICO_BENCH_REDIS overrides it. */
export const BENCH_REDIS_URL = process.env.PORTICO_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run shares, so a bench never reads or deletes anybody else's keys. */
export function uniquePrefix(): string {
  return `portico-bench:${process.pid}-${randomBytes(4).toString('hex')}:`;
}

function connect(url: string): Redis {
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

import type { Redis } from 'ioredis';
import CachePolicy from 'http-cache-semantics';
import { createRedisConnection, type RedisClient } from '../../store/redis-connection.ts';
import type { CachedResponse, EncodedBody } from './cached-response.ts';
import type { CacheStore } from './cache-store.ts';

/** The Redis store with its connection, closed on shutdown. */
export interface RedisCacheStore extends CacheStore {
  /** Connects (once) when the store was created with `deferConnect`; does nothing otherwise. */
  open(): void;
  close(): Promise<void>;
}

export interface RedisCacheStoreOptions {
  readonly url: string;
  /** Prefix of every key this store writes (the store's prefix followed by `cache:`). */
  readonly prefix: string;
  /** Time between connection attempts while Redis is unreachable (default 1000 ms). */
  readonly retryDelayMs?: number;
  /** Connect on `open()` rather than at once (a table compiled but never swapped in opens nothing). */
  readonly deferConnect?: boolean;
}

/** What one variant looks like in Redis: the policy as http-cache-semantics serialises it, the body in base64. */
interface StoredVariant {
  p: CachePolicy.CachePolicyObject;
  s: number;
  h: string[];
  b: string;
  v: string;
  e: string | null;
  f: number;
  x: number;
  /** Encoded bodies: coding, headers, base64 body, ETag. Absent in entries written before codings were kept. */
  z?: [string, string[], string, string | null][];
}

/**
 * Answers shared by every node using the same Redis: one hash per cache key, one field per variant (its
 * Vary values), expiring with its longest-lived variant. Reads are one HGETALL; a node that cannot reach
 * Redis treats every read as a miss and drops writes, so the cache never fails a request. After a failed read
 * it skips Redis for `retryDelayMs`, so a hung Redis (no error, no answer) delays one lookup per delay, not
 * every lookup by the command timeout. The byte bound is Redis's own (`maxmemory` with an LRU policy); keys
 * expire when no variant can be served any more.
 */
export function createRedisCacheStore(options: RedisCacheStoreOptions): RedisCacheStore {
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const prefix = options.prefix;
  let redis: RedisClient | undefined;
  let connecting: Promise<void> | undefined;
  let nextAttempt = 0;
  let closed = false;
  /** Until when lookups skip Redis after one failed: a hung Redis costs one command timeout per retry delay. */
  let downUntil = 0;

  function connect(): void {
    if (connecting !== undefined || closed || Date.now() < nextAttempt) return;
    connecting = createRedisConnection(options.url, { commandTimeoutMs: 500 })
      .then((connection) => {
        if (closed) return connection.disconnect();
        redis = connection;
        // A cache connection must not keep the process alive (a Cluster client manages its own sockets).
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

  function connected(): RedisClient {
    if (redis === undefined) {
      connect();
      throw new Error('Redis is not connected');
    }
    if (downUntil !== 0 && Date.now() < downUntil) throw new Error('Redis failed a command lately');
    return redis;
  }

  function markDown(err: unknown): never {
    downUntil = Date.now() + retryDelayMs;
    throw err;
  }

  return {
    async get(key) {
      const fields = await connected()
        .hgetall(prefix + key)
        .catch(markDown);
      downUntil = 0;
      const variants: CachedResponse[] = [];
      for (const text of Object.values(fields)) variants.push(revive(JSON.parse(text) as StoredVariant));
      return variants.length === 0 ? undefined : variants;
    },
    put(key, entry) {
      let connection: RedisClient;
      try {
        connection = connected();
      } catch {
        return;
      }
      const ttlMs = Math.max(1000, entry.policy.timeToLive());
      const full = prefix + key;
      // PEXPIRE GT keeps the key as long as its longest-lived variant; a new key has no TTL yet, hence NX first.
      connection
        .multi()
        .hset(full, entry.variant, JSON.stringify(serialise(entry)))
        .pexpire(full, ttlMs, 'NX')
        .pexpire(full, ttlMs, 'GT')
        .exec()
        .catch(ignore);
    },
    async purgeKey(key) {
      return connected().del(prefix + key);
    },
    async purgePrefix(keyPrefix) {
      const connection = connected();
      const pattern = `${escapeGlob(prefix + keyPrefix)}*`;
      let purged = 0;
      let cursor = '0';
      do {
        const [next, keys] = await connection.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) purged += await connection.del(...keys);
      } while (cursor !== '0');
      return purged;
    },
    bytes: 0,
    entries: 0,
    maxBytes: 0,
    open() {
      if (redis === undefined) connect();
    },
    async close() {
      closed = true;
      await connecting;
      redis?.disconnect();
      redis = undefined;
    },
  };
}

function serialise(entry: CachedResponse): StoredVariant {
  return {
    p: entry.policy.toObject(),
    s: entry.status,
    h: entry.headers,
    b: entry.body.toString('base64'),
    v: entry.variant,
    e: entry.etag ?? null,
    f: entry.freshUntil,
    x: entry.staleIfErrorSec,
    z: entry.encoded.map((e) => [e.encoding, e.headers, e.body.toString('base64'), e.etag ?? null]),
  };
}

function revive(stored: StoredVariant): CachedResponse {
  const body = Buffer.from(stored.b, 'base64');
  let size = body.length;
  const encoded: EncodedBody[] = [];
  for (const [encoding, headers, base64, etag] of stored.z ?? []) {
    const bytes = Buffer.from(base64, 'base64');
    size += bytes.length;
    encoded.push({ encoding, headers, body: bytes, etag: etag ?? undefined });
  }
  return {
    policy: CachePolicy.fromObject(stored.p),
    status: stored.s,
    headers: stored.h,
    body,
    variant: stored.v,
    etag: stored.e ?? undefined,
    freshUntil: stored.f,
    staleIfErrorSec: stored.x,
    encoded,
    size,
  };
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function ignore(): void {}

import { createHash } from 'node:crypto';
import {
  clusterSafePrefix,
  createRedisConnection,
  defineRedisScript,
  toStoreError,
  type RedisClient,
  type RedisTarget,
} from './redis-connection.ts';
import type {
  AddedRevision,
  ConfigRevision,
  ConfigRevisionSummary,
  FleetStore,
  NodeEntry,
  NodeRecord,
} from './fleet-store.ts';

/** Options of {@link createRedisFleetStore}. */
export interface RedisFleetStoreOptions {
  readonly url: RedisTarget;
  /** The registry's prefix (`store.prefix`); fleet keys sit beside the registry's. */
  readonly prefix: string;
  /** How often the latest revision is read even without a message, in case one was lost (default 5000 ms). */
  readonly pollMs?: number | undefined;
  readonly commandTimeoutMs?: number | undefined;
}

/*
 * Keys: 1 config:revision (counter), 2 config:meta (hash revision -> summary JSON), 3 config:documents (hash
 * revision -> document). ARGV: 1 sha256, 2 document, 3 summary JSON without revision, 4 channel.
 * Returns {revision, summary JSON, document, created (1|0)}. Publishing inside the script keeps "stored" and
 * "announced" together: a node that hears the number can read the revision.
 */
const addRevisionScript = defineRedisScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > 0 then
  local latest = redis.call('HGET', KEYS[2], tostring(current))
  if latest and cjson.decode(latest).sha256 == ARGV[1] then
    return {current, latest, redis.call('HGET', KEYS[3], tostring(current)), 0}
  end
end
local rev = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], tostring(rev), ARGV[3])
redis.call('HSET', KEYS[3], tostring(rev), ARGV[2])
redis.call('PUBLISH', ARGV[4], tostring(rev))
return {rev, ARGV[3], ARGV[2], 1}
`);

/*
 * Keys: 1 nodes (hash id -> record JSON), 2 nodes:seen (hash id -> lastSeen). ARGV: 1 id, 2 record JSON. The record
 * is stored as sent (Lua's cjson would turn an empty array into an object); lastSeen is Redis's clock, so nodes
 * whose clocks differ are judged alike.
 */
const heartbeatScript = defineRedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], now)
return now
`);

/** Keys: 1 nodes, 2 nodes:seen. Returns {now, records (flat hash), lastSeen (flat hash)}. */
const nodesScript = defineRedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {now, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`);

/**
 * The fleet store on Redis. Layout under the registry's prefix (a hash tag in Cluster mode, so the script's keys
 * share a slot): `config:revision`, `config:meta`, `config:documents`, `nodes`; new revisions are announced on the
 * `config:changes` channel (pub/sub, on its own connection). A message lost while a connection was down is made
 * up for by a read of the latest revision on every reconnect and every `pollMs`.
 *
 * @example
 * const fleet = await createRedisFleetStore({ url: 'redis://127.0.0.1:6379', prefix: 'portico:' });
 * fleet.onRevision((revision) => console.log('revision', revision));
 * await fleet.addRevision(text, 'cli', 'apply');
 */
export async function createRedisFleetStore(options: RedisFleetStoreOptions): Promise<FleetStore> {
  const prefix = clusterSafePrefix(options.url, options.prefix);
  const redis = await createRedisConnection(options.url, { commandTimeoutMs: options.commandTimeoutMs });
  let subscriber: RedisClient;
  try {
    subscriber = await createRedisConnection(options.url, { blocking: true });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const store = new RedisFleetStore(redis, subscriber, prefix, options.pollMs ?? 5000);
  try {
    await store.start();
  } catch (err) {
    redis.disconnect();
    subscriber.disconnect();
    throw toStoreError(err);
  }
  return store;
}

class RedisFleetStore implements FleetStore {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #keys: {
    revision: string;
    meta: string;
    documents: string;
    nodes: string;
    seen: string;
    channel: string;
  };
  readonly #pollMs: number;
  #listeners: ((revision: number) => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(redis: RedisClient, subscriber: RedisClient, prefix: string, pollMs: number) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#pollMs = pollMs;
    this.#keys = {
      revision: `${prefix}config:revision`,
      meta: `${prefix}config:meta`,
      documents: `${prefix}config:documents`,
      nodes: `${prefix}nodes`,
      seen: `${prefix}nodes:seen`,
      channel: `${prefix}config:changes`,
    };
  }

  async start(): Promise<void> {
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#keys.channel) this.#emit(Number(message));
    });
    // ioredis subscribes again by itself after a reconnect; what was published meanwhile is read here.
    this.#subscriber.on('ready', () => void this.#catchUp());
    await this.#subscriber.subscribe(this.#keys.channel);
    this.#timer = setInterval(() => void this.#catchUp(), this.#pollMs).unref();
  }

  async addRevision(document: string, author: string, note: string): Promise<AddedRevision> {
    const sha256 = createHash('sha256').update(document).digest('hex');
    const summary = JSON.stringify({ sha256, createdAt: Date.now(), author, note });
    const k = this.#keys;
    const reply = (await this.#run(
      addRevisionScript.run(
        this.#redis,
        [k.revision, k.meta, k.documents],
        [sha256, document, summary, k.channel],
      ),
    )) as [number, string, string, number];
    return {
      revision: {
        ...(JSON.parse(reply[1]) as Omit<ConfigRevision, 'revision' | 'document'>),
        revision: reply[0],
        document: reply[2],
      },
      created: reply[3] === 1,
    };
  }

  async revision(revision?: number): Promise<ConfigRevision | undefined> {
    const k = this.#keys;
    let n = revision;
    if (n === undefined) {
      n = Number((await this.#run(this.#redis.get(k.revision))) ?? 0);
      if (n === 0) return undefined;
    }
    const field = String(n);
    const [meta, document] = await Promise.all([
      this.#run(this.#redis.hget(k.meta, field)),
      this.#run(this.#redis.hget(k.documents, field)),
    ]);
    if (meta === null || document === null) return undefined;
    return { ...(JSON.parse(meta) as Omit<ConfigRevision, 'revision' | 'document'>), revision: n, document };
  }

  async history(limit = 50): Promise<ConfigRevisionSummary[]> {
    const all = await this.#run(this.#redis.hgetall(this.#keys.meta));
    return Object.entries(all)
      .map(([revision, json]) => ({
        ...(JSON.parse(json) as Omit<ConfigRevisionSummary, 'revision'>),
        revision: Number(revision),
      }))
      .sort((a, b) => b.revision - a.revision)
      .slice(0, limit);
  }

  onRevision(listener: (revision: number) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  async heartbeat(node: NodeRecord): Promise<void> {
    const k = this.#keys;
    await this.#run(heartbeatScript.run(this.#redis, [k.nodes, k.seen], [node.id, JSON.stringify(node)]));
  }

  async nodes(): Promise<{ now: number; nodes: NodeEntry[] }> {
    const k = this.#keys;
    const [now, records, seen] = (await this.#run(nodesScript.run(this.#redis, [k.nodes, k.seen], []))) as [
      number,
      string[],
      string[],
    ];
    const lastSeen = new Map<string, number>();
    for (let i = 0; i < seen.length; i += 2) lastSeen.set(seen[i] as string, Number(seen[i + 1]));
    const nodes: NodeEntry[] = [];
    for (let i = 0; i < records.length; i += 2) {
      const record = JSON.parse(records[i + 1] as string) as NodeRecord;
      nodes.push({ ...record, lastSeen: lastSeen.get(record.id) ?? 0 });
    }
    return { now, nodes };
  }

  async forgetNode(id: string): Promise<void> {
    const k = this.#keys;
    await this.#run(this.#redis.multi().hdel(k.nodes, id).hdel(k.seen, id).exec());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners = [];
    clearInterval(this.#timer);
    this.#subscriber.disconnect();
    try {
      await this.#redis.quit();
    } catch {
      // Unreachable: nothing to say goodbye to; disconnect() below closes what is left.
    }
    // quit() leaves the Sentinel failover detector's subscriptions open (ioredis#1362), which kept a node's
    // process alive after "portico stopped"; disconnect() closes them.
    this.#redis.disconnect();
  }

  async #catchUp(): Promise<void> {
    if (this.#closed) return;
    try {
      const latest = Number((await this.#redis.get(this.#keys.revision)) ?? 0);
      if (latest > 0) this.#emit(latest);
    } catch {
      // Redis is away: the next reconnect or poll tries again.
    }
  }

  #emit(revision: number): void {
    if (!Number.isSafeInteger(revision) || this.#closed) return;
    for (const listener of this.#listeners) {
      try {
        listener(revision);
      } catch (err) {
        process.emitWarning(err instanceof Error ? err : String(err), 'PorticoStoreListenerError');
      }
    }
  }

  async #run<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      throw toStoreError(err);
    }
  }
}

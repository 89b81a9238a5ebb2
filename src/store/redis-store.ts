import type { AcmeStore } from './acme-store.ts';
import { createRedisAcmeStore } from './redis-acme-store.ts';
import { createRedisVersionStore } from './redis-version-store.ts';
import type { VersionStore } from './version-store.ts';
import { createHash, randomUUID } from 'node:crypto';
import { createRedisCheckLease } from './redis-check-lease.ts';
import {
  clusterSafePrefix,
  createRedisConnection,
  toStoreError,
  type RedisClient,
  type RedisTarget,
} from './redis-connection.ts';
import {
  expireScript,
  removeScript,
  renewScript,
  snapshotScript,
  statusScript,
  upsertScript,
} from './redis-store-scripts.ts';
import type {
  ChangeReason,
  CheckLease,
  ExpireOptions,
  RegistryChange,
  RegistrySnapshot,
  RegistryStore,
  StoredInstance,
} from './registry-store.ts';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or a Sentinel group or a Cluster (see {@link RedisTarget}). */
  readonly url: RedisTarget;
  /**
   * Prepended to every key, so several registries (or tests) share one Redis. In Cluster mode it is used as a
   * hash tag (`{portico:}`), so every key a script touches lives in one slot.
   */
  readonly prefix: string;
  /** How many changes the stream keeps for replay (default 10,000). */
  readonly streamMaxLen?: number | undefined;
  /** `approximate` (default) trims whole stream nodes (cheap); `exact` keeps exactly `streamMaxLen`. */
  readonly streamTrim?: 'approximate' | 'exact' | undefined;
  /** A command without a reply after this long fails with `store_unavailable` (default 2000 ms). */
  readonly commandTimeoutMs?: number | undefined;
  /** How long one blocking read of the feed waits; an idle feed is checked for data loss this often (default 5000 ms). */
  readonly blockMs?: number | undefined;
  /** First and longest pause between attempts to reconnect and read the feed while Redis is unreachable (default 50 / 2000 ms). */
  readonly retryBaseMs?: number | undefined;
  readonly retryMaxMs?: number | undefined;
  /** Receives errors thrown by listeners (default: a process warning). */
  readonly onError?: ((err: unknown) => void) | undefined;
}

type Listener<T> = (value: T) => void;

/** Stream entry fields, in the order the scripts write them: revision, kind, reason, instance, expiresAt. */
type StreamEntry = [id: string, fields: string[]];

const EXPIRE_BATCH = 500;
const READ_COUNT = 1000;
const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
/** A clock reading that took longer than this round trip says too little about Redis's clock to be kept. */
const MAX_CLOCK_SAMPLE_RTT_MS = 250;

/**
 * The registry store shared by several Portico nodes through Redis.
 *
 * Layout under `prefix`: `instances` (hash of instance JSON), `leases` (sorted set of lease ends), `revision`
 * (counter), `changes` (a stream whose entry ids are `<revision>-0`, trimmed with MAXLEN), `epoch` (a random id of
 * the data set, so a Redis that restarted empty is told apart from one that merely lost the connection),
 * `sweptAt` (when a node last ran the expiry sweep, by Redis's clock) and `contracts`. Every write is one Lua
 * script: revision, state and stream entry change together.
 *
 * The change feed is followed on a dedicated blocking connection from the revision the store was created at, so
 * `onChange` sees every change (this node's own included) once and in order. When the follower cannot continue —
 * its revision was trimmed away, or the epoch changed (data loss) — it takes a new snapshot and hands it to the
 * `onResync` listeners before delivering anything newer. Consumers take `snapshot()` first and ignore changes at or
 * below its revision.
 *
 * While Redis is unreachable every call rejects within `commandTimeoutMs` with a `store_unavailable`
 * {@link PorticoError}; the follower retries with backoff and resumes where it stopped. Every write carries a
 * deadline on Redis's clock, a little before the caller stops waiting, and the script refuses to run after it:
 * a write that was rejected with `store_unavailable` did not take effect and never will (a hung Redis runs the
 * commands waiting in its sockets when it resumes). Redis's clock is read with every continuity check, so
 * nodes whose clocks differ from Redis's still compute their deadlines right.
 *
 * @example
 * const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'portico:' });
 * const { revision, instances } = await store.snapshot();
 * store.onChange((change) => { if (change.revision > revision) apply(change); });
 * store.onResync?.((snapshot) => replaceAll(snapshot));
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RegistryStore> {
  options = { ...options, prefix: clusterSafePrefix(options.url, options.prefix) };
  const redis = await createRedisConnection(options.url, {
    commandTimeoutMs: options.commandTimeoutMs,
    maxReconnectDelayMs: options.retryMaxMs,
  });
  let blocking: RedisClient;
  try {
    blocking = await createRedisConnection(options.url, {
      blocking: true,
      maxReconnectDelayMs: options.retryMaxMs,
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const store = new RedisStore(redis, blocking, options);
  try {
    await store.start();
  } catch (err) {
    redis.disconnect();
    blocking.disconnect();
    throw toStoreError(err);
  }
  return store;
}

class RedisStore implements RegistryStore {
  readonly kind = 'redis';
  readonly checkLease: CheckLease;
  readonly versions: VersionStore;
  readonly acme: AcmeStore;
  readonly #redis: RedisClient;
  readonly #blocking: RedisClient;
  readonly #keys: {
    instances: string;
    leases: string;
    revision: string;
    changes: string;
    epoch: string;
    contracts: string;
    sweptAt: string;
  };
  readonly #writeKeys: string[];
  readonly #expireKeys: string[];
  readonly #writeArgs: [epoch: string, trim: string, maxLen: number];
  readonly #epochCandidate = randomUUID();
  readonly #commandTimeoutMs: number;
  /** Redis's clock minus ours (ms), and how far that estimate may be off (half the round trip that measured it). */
  #clockOffsetMs = 0;
  #clockErrorMs = 0;
  readonly #blockMs: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #onError: (err: unknown) => void;
  #listeners: Listener<RegistryChange>[] = [];
  #resyncListeners: Listener<RegistrySnapshot>[] = [];
  #epoch = '';
  #position = 0;
  #closed = false;
  #following: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  #connections = 0;

  constructor(redis: RedisClient, blocking: RedisClient, options: RedisStoreOptions) {
    this.#redis = redis;
    this.#blocking = blocking;
    const p = options.prefix;
    this.checkLease = createRedisCheckLease({ redis, prefix: p });
    this.versions = createRedisVersionStore(redis, p);
    this.acme = createRedisAcmeStore(redis, p);
    this.#keys = {
      instances: `${p}instances`,
      leases: `${p}leases`,
      revision: `${p}revision`,
      changes: `${p}changes`,
      epoch: `${p}epoch`,
      contracts: `${p}contracts`,
      sweptAt: `${p}sweptAt`,
    };
    const k = this.#keys;
    this.#writeKeys = [k.instances, k.leases, k.revision, k.changes, k.epoch];
    this.#expireKeys = [...this.#writeKeys, k.sweptAt];
    this.#writeArgs = [
      this.#epochCandidate,
      options.streamTrim === 'exact' ? '=' : '~',
      options.streamMaxLen ?? 10_000,
    ];
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#blockMs = options.blockMs ?? 5000;
    this.#retryBaseMs = options.retryBaseMs ?? 50;
    this.#retryMaxMs = options.retryMaxMs ?? 2000;
    this.#onError = options.onError ?? reportListenerError;
    blocking.on('ready', () => {
      this.#connections++;
    });
  }

  async start(): Promise<void> {
    const { epoch, revision } = await this.#status();
    this.#epoch = epoch;
    this.#position = revision;
    this.#following = this.#follow();
  }

  async snapshot(): Promise<RegistrySnapshot> {
    return (await this.#snapshot()).snapshot;
  }

  async upsert(instance: StoredInstance, reason: ChangeReason): Promise<RegistryChange> {
    // Drain and status changes come from a node whose copy of the lease may be older than the last heartbeat
    // (heartbeats are not changes), so they must not shorten the lease.
    const keepLaterLease = reason === 'drain' || reason === 'status' ? '1' : '0';
    const json = JSON.stringify(instance);
    const reply = (await this.#run(
      upsertScript.run(this.#redis, this.#writeKeys, [
        ...this.#writeArgs,
        this.#deadline(),
        fieldOf(instance.service, instance.id),
        json,
        instance.expiresAt,
        reason,
        keepLaterLease,
      ]),
    )) as [number, string];
    const expiresAt = Number(reply[1]);
    return {
      revision: reply[0],
      kind: 'upsert',
      reason,
      service: instance.service,
      id: instance.id,
      instance: expiresAt === instance.expiresAt ? instance : { ...instance, expiresAt },
    };
  }

  async renew(service: string, id: string, expiresAt: number): Promise<boolean> {
    const k = this.#keys;
    const reply = await this.#run(
      renewScript.run(
        this.#redis,
        [k.instances, k.leases],
        [fieldOf(service, id), expiresAt, this.#deadline()],
      ),
    );
    return reply === 1;
  }

  async remove(
    service: string,
    id: string,
    reason: 'deregister' | 'expire',
  ): Promise<RegistryChange | undefined> {
    const reply = (await this.#run(
      removeScript.run(this.#redis, this.#writeKeys, [
        ...this.#writeArgs,
        this.#deadline(),
        fieldOf(service, id),
        reason,
      ]),
    )) as [number, string, string] | null;
    if (reply === null) return undefined;
    return deleteChange(reply[0], reason, reply[1], reply[2]);
  }

  async expire(now: number, options?: ExpireOptions): Promise<RegistryChange[]> {
    const changes: RegistryChange[] = [];
    let afterOutage = options?.afterOutage === true;
    for (;;) {
      const reply = (await this.#run(
        expireScript.run(this.#redis, this.#expireKeys, [
          ...this.#writeArgs,
          this.#deadline(),
          now,
          EXPIRE_BATCH,
          options?.graceMs ?? 0,
          afterOutage ? '1' : '0',
          options?.idleMs ?? 0,
        ]),
      )) as (number | string)[];
      afterOutage = false;
      for (let i = 0; i < reply.length; i += 3) {
        changes.push(
          deleteChange(reply[i] as number, 'expire', reply[i + 1] as string, reply[i + 2] as string),
        );
      }
      if (reply.length < EXPIRE_BATCH * 3) return changes;
    }
  }

  async changesSince(revision: number): Promise<RegistryChange[] | undefined> {
    if (!Number.isSafeInteger(revision) || revision < 0) return undefined;
    const k = this.#keys;
    const results = await this.#run(
      this.#redis
        .multi()
        .get(k.revision)
        .xrange(k.changes, '-', '+', 'COUNT', 1)
        .xrange(k.changes, `${revision + 1}-0`, '+')
        .exec(),
    );
    if (results === null) throw toStoreError(new Error('transaction aborted'));
    for (const [err] of results) if (err) throw toStoreError(err);
    const current = Number(results[0]?.[1] ?? 0);
    // A revision ahead of the store means the store lost its data since the caller last looked.
    if (revision > current) return undefined;
    if (revision === current) return [];
    const oldest = (results[1]?.[1] as StreamEntry[] | undefined)?.[0];
    if (oldest === undefined || revisionOf(oldest) > revision + 1) return undefined;
    return (results[2]?.[1] as StreamEntry[]).map(parseEntry);
  }

  async putContract(service: string, version: string, document: string): Promise<string> {
    const hash = createHash('sha256').update(document).digest('hex');
    await this.#run(this.#redis.hset(this.#keys.contracts, fieldOf(service, version), document));
    return hash;
  }

  async getContract(service: string, version: string): Promise<string | undefined> {
    const document = await this.#run(this.#redis.hget(this.#keys.contracts, fieldOf(service, version)));
    return document ?? undefined;
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  onResync(listener: (snapshot: RegistrySnapshot) => void): () => void {
    this.#resyncListeners = [...this.#resyncListeners, listener];
    return () => {
      this.#resyncListeners = this.#resyncListeners.filter((l) => l !== listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners = [];
    this.#resyncListeners = [];
    this.#wake?.();
    this.#blocking.disconnect();
    await this.#following;
    try {
      await this.#redis.quit();
    } catch {
      // Unreachable: nothing to say goodbye to; disconnect() below closes what is left.
    }
    // quit() leaves the Sentinel failover detector's subscriptions open (ioredis#1362), which kept a node's
    // process alive after "portico stopped"; disconnect() closes them.
    this.#redis.disconnect();
  }

  async #run<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async #status(): Promise<{ epoch: string; revision: number }> {
    const k = this.#keys;
    const sent = Date.now();
    const reply = (await this.#run(
      statusScript.run(this.#redis, [k.revision, k.epoch], [this.#epochCandidate]),
    )) as [string, string, string, string];
    const received = Date.now();
    const rtt = received - sent;
    if (rtt <= MAX_CLOCK_SAMPLE_RTT_MS || this.#clockErrorMs === 0) {
      const redisNow = Number(reply[2]) * 1000 + Math.floor(Number(reply[3]) / 1000);
      this.#clockOffsetMs = redisNow - (sent + received) / 2;
      this.#clockErrorMs = Math.max(1, rtt / 2);
    }
    return { epoch: reply[0], revision: Number(reply[1]) };
  }

  /**
   * When a write sent now must have started, on Redis's clock: before this client gives up on it, with a margin
   * for the reply's way back and for the error of the clock estimate (a quarter of the timeout at most).
   */
  #deadline(): number {
    const timeout = this.#commandTimeoutMs;
    const margin = Math.max(100, timeout / 10) + Math.min(this.#clockErrorMs, timeout / 4);
    return Math.floor(Date.now() + this.#clockOffsetMs + timeout - margin);
  }

  async #snapshot(): Promise<{ epoch: string; snapshot: RegistrySnapshot }> {
    const k = this.#keys;
    const reply = (await this.#run(
      snapshotScript.run(this.#redis, [k.instances, k.leases, k.revision, k.epoch], [this.#epochCandidate]),
    )) as [string, string, string[], string[]];
    const [epoch, revision, hash, leases] = reply;
    const leaseEnds = new Map<string, number>();
    for (let i = 0; i < leases.length; i += 2) leaseEnds.set(leases[i] as string, Number(leases[i + 1]));
    const instances: StoredInstance[] = [];
    for (let i = 0; i < hash.length; i += 2) {
      const instance = JSON.parse(hash[i + 1] as string) as StoredInstance;
      const expiresAt = leaseEnds.get(hash[i] as string) ?? instance.expiresAt;
      instances.push(expiresAt === instance.expiresAt ? instance : { ...instance, expiresAt });
    }
    return { epoch, snapshot: { revision: Number(revision), instances } };
  }

  /** Follows the stream until closed; every failure leads to a check for data loss before the next read. */
  async #follow(): Promise<void> {
    let delay = this.#retryBaseMs;
    let check = false;
    let seenConnections = this.#connections;
    while (!this.#closed) {
      try {
        if (check || seenConnections !== this.#connections) {
          seenConnections = this.#connections;
          await this.#checkContinuity();
          check = false;
        }
        const reply = (await this.#blocking.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          this.#blockMs,
          'STREAMS',
          this.#keys.changes,
          `${this.#position}-0`,
        )) as [string, StreamEntry[]][] | null;
        delay = this.#retryBaseMs;
        // An idle feed is also what a flushed or restarted Redis looks like, so idleness triggers a check.
        if (reply === null) check = true;
        else await this.#deliver(reply[0]?.[1] ?? []);
      } catch {
        if (this.#closed) return;
        check = true;
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.#retryMaxMs);
      }
    }
  }

  async #deliver(entries: StreamEntry[]): Promise<void> {
    for (const entry of entries) {
      if (this.#closed) return;
      const revision = revisionOf(entry);
      if (revision <= this.#position) continue;
      if (revision !== this.#position + 1) {
        await this.#resync();
        return;
      }
      this.#position = revision;
      const change = parseEntry(entry);
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (err) {
          this.#onError(err);
        }
      }
    }
  }

  async #checkContinuity(): Promise<void> {
    const { epoch, revision } = await this.#status();
    if (epoch !== this.#epoch || revision < this.#position) await this.#resync();
  }

  async #resync(): Promise<void> {
    const { epoch, snapshot } = await this.#snapshot();
    if (this.#closed) return;
    this.#epoch = epoch;
    this.#position = snapshot.revision;
    for (const listener of this.#resyncListeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function fieldOf(service: string, id: string): string {
  return `${service}\n${id}`;
}

function revisionOf(entry: StreamEntry): number {
  return Number(entry[1][1]);
}

function parseEntry(entry: StreamEntry): RegistryChange {
  const fields = entry[1];
  const instance = JSON.parse(fields[7] as string) as StoredInstance;
  const expiresAt = Number(fields[9]);
  return {
    revision: Number(fields[1]),
    kind: fields[3] as RegistryChange['kind'],
    reason: fields[5] as ChangeReason,
    service: instance.service,
    id: instance.id,
    instance: expiresAt === instance.expiresAt ? instance : { ...instance, expiresAt },
  };
}

function deleteChange(
  revision: number,
  reason: ChangeReason,
  json: string,
  expiresAt: string,
): RegistryChange {
  const instance = JSON.parse(json) as StoredInstance;
  const end = Number(expiresAt);
  return {
    revision,
    kind: 'delete',
    reason,
    service: instance.service,
    id: instance.id,
    instance: end === instance.expiresAt ? instance : { ...instance, expiresAt: end },
  };
}

function reportListenerError(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : String(err), 'PorticoStoreListenerError');
}

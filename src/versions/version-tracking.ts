import semver from 'semver';
import { dayOf, type VersionPin, type VersionStore } from '../store/version-store.ts';
import { UsageTable, type ConsumerUsage } from './usage-table.ts';

/** What {@link VersionTracking.pinOf} answers before this node has read the consumer's pin from the store. */
export const PIN_UNKNOWN = Symbol('pin unknown');

/** Consumers per service whose pins a node keeps in memory. */
const MAX_CACHED_PINS = 100_000;

interface CachedPin {
  /** The pinned major, or undefined for none. */
  version: string | undefined;
  /** When the store was last read for it (epoch ms). */
  checkedAt: number;
  loading: Promise<void> | undefined;
}

export interface VersionTrackingOptions {
  /** Where usage is summed across nodes and pins are kept; without it both stay on this node. */
  readonly store?: VersionStore | undefined;
  readonly clock?: () => number;
  /** How often this node adds its counts to the store. */
  readonly flushMs?: number;
  /** How long a pin read from the store is trusted before it is read again (an operator's move elsewhere). */
  readonly pinTtlMs?: number;
  readonly onError?: (err: unknown, what: string) => void;
}

/** One consumer's use of a version range, summed over nodes and days. */
export interface UsageReport {
  readonly versions: string[];
  readonly consumers: ConsumerUsage[];
  /** Whether the figures come from the store (every node) or from this node alone. */
  readonly scope: 'cluster' | 'node';
}

/**
 * Version usage and consumer pins of one node (docs/versioning.md). Requests are counted in memory on the request
 * path (no I/O); every `flushMs` the counts since the last flush are added to the store's daily buckets, so
 * `usage()` answers for every node and keeps history across restarts. Pins are read from the store once per
 * consumer and `pinTtlMs`, so a request never waits on the store except for a consumer's first request on
 * this node.
 *
 * @example
 * const tracking = new VersionTracking({ store: store.versions });
 * tracking.start();
 * tracking.record('users', '1.4.0', 'mobile-app');
 * await tracking.usage('users', '1', 30);
 */
export class VersionTracking {
  /** Counts since this node started (metrics), and the source of each flush. */
  readonly table: UsageTable;
  readonly #store: VersionStore | undefined;
  readonly #clock: () => number;
  readonly #flushMs: number;
  readonly #pinTtlMs: number;
  readonly #onError: (err: unknown, what: string) => void;
  /** service → consumer → pin. */
  readonly #pins = new Map<string, Map<string, CachedPin>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** Whether the last flush failed (its error was reported). */
  #flushFailing = false;

  constructor(options: VersionTrackingOptions = {}) {
    this.#store = options.store;
    this.#clock = options.clock ?? Date.now;
    this.table = new UsageTable(this.#clock);
    this.#flushMs = options.flushMs ?? 2_000;
    this.#pinTtlMs = options.pinTtlMs ?? 5_000;
    this.#onError = options.onError ?? (() => {});
  }

  start(): void {
    if (this.#store === undefined || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  /** Stops the timer and adds what is left to the store. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Counts one served request (the request path: memory only). */
  record(service: string, version: string, consumer: string | undefined): void {
    this.table.record(service, version, consumer);
  }

  /** Adds the counts since the last flush to the store; flushes never overlap. */
  flush(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return Promise.resolve();
    this.#flushing = this.#flushing.then(async () => {
      const deltas = this.table.takeDeltas();
      if (deltas.length === 0) return;
      try {
        await store.addUsage(deltas);
        this.#flushFailing = false;
      } catch (err) {
        // Not lost: handed back, so the next flush adds them.
        this.table.giveBack(deltas);
        // Once per outage, not every flushMs for as long as it lasts.
        if (!this.#flushFailing)
          this.#onError(err, 'version usage could not be written to the store; kept and retried every flush');
        this.#flushFailing = true;
      }
    });
    return this.#flushing;
  }

  /**
   * Who used the versions matching `version` (a major, major.minor or exact version) over the last `days`
   * days, busiest first: every node's counts from the store (this node's flushed first), or this node's alone
   * without a store.
   */
  async usage(service: string, version: string, days: number): Promise<UsageReport> {
    const store = this.#store;
    if (store === undefined) return { ...this.table.forVersion(service, version), scope: 'node' };
    await this.flush();
    const since = dayOf(this.#clock() - (days - 1) * 86_400_000);
    const versions = new Set<string>();
    const sums = new Map<string, { requests: number; lastSeenAt: number }>();
    for (const row of await store.usage(service, since)) {
      if (row.version !== version && !row.version.startsWith(`${version}.`)) continue;
      versions.add(row.version);
      const sum = sums.get(row.consumer) ?? { requests: 0, lastSeenAt: 0 };
      sum.requests += row.requests;
      sum.lastSeenAt = Math.max(sum.lastSeenAt, row.lastSeenAt);
      sums.set(row.consumer, sum);
    }
    const consumers = [...sums].map(([consumer, sum]) => ({ consumer, ...sum }));
    consumers.sort((a, b) => b.requests - a.requests || (a.consumer < b.consumer ? -1 : 1));
    return { versions: [...versions].sort(semver.compare), consumers, scope: 'cluster' };
  }

  /**
   * The major a consumer is pinned to, undefined when it has none, or {@link PIN_UNKNOWN} until this node has
   * read it (call {@link loadPin}). A pin older than `pinTtlMs` is still answered while it is read again.
   */
  pinOf(service: string, consumer: string): string | undefined | typeof PIN_UNKNOWN {
    const cached = this.#pins.get(service)?.get(consumer);
    if (cached === undefined) return this.#store === undefined ? undefined : PIN_UNKNOWN;
    if (cached.loading === undefined && this.#clock() - cached.checkedAt > this.#pinTtlMs)
      void this.loadPin(service, consumer);
    return cached.version;
  }

  /** Reads a consumer's pin from the store (one read at a time per consumer); a store failure counts as none. */
  loadPin(service: string, consumer: string): Promise<void> {
    const cached = this.#cached(service, consumer);
    if (cached.loading !== undefined) return cached.loading;
    const store = this.#store;
    if (store === undefined) return Promise.resolve();
    cached.loading = store.getPin(service, consumer).then(
      (pin) => {
        cached.version = pin?.version;
        cached.checkedAt = this.#clock();
        cached.loading = undefined;
      },
      (err: unknown) => {
        // Served unpinned for now and read again after the TTL (pinServed only writes where no pin exists).
        cached.checkedAt = this.#clock();
        cached.loading = undefined;
        this.#onError(err, 'a version pin could not be read from the store');
      },
    );
    return cached.loading;
  }

  /**
   * Pins an unpinned consumer to the major it was just served (the first node to write wins; this node then
   * follows the winner).
   */
  pinServed(service: string, consumer: string, major: string): void {
    const cached = this.#cached(service, consumer);
    if (cached.version !== undefined) return;
    cached.version = major;
    cached.checkedAt = this.#clock();
    const store = this.#store;
    if (store === undefined) return;
    store.pinIfAbsent(service, consumer, major, this.#clock()).then(
      (pin) => {
        cached.version = pin.version;
      },
      (err: unknown) => {
        cached.version = undefined;
        this.#onError(err, 'a version pin could not be written to the store');
      },
    );
  }

  /** The operator's move; this node follows at once, the others within `pinTtlMs`. */
  async movePin(service: string, consumer: string, major: string): Promise<VersionPin> {
    const at = this.#clock();
    const pin =
      this.#store === undefined
        ? { consumer, version: major, pinnedAt: at }
        : await this.#store.setPin(service, consumer, major, at);
    const cached = this.#cached(service, consumer);
    cached.version = major;
    cached.checkedAt = this.#clock();
    return pin;
  }

  /** Unpins a consumer: its next request pins it again, to what it is then served. */
  async removePin(service: string, consumer: string): Promise<boolean> {
    const cached = this.#cached(service, consumer);
    const had = cached.version !== undefined;
    cached.version = undefined;
    cached.checkedAt = this.#clock();
    return this.#store === undefined ? had : await this.#store.removePin(service, consumer);
  }

  /** Every pin of a service (from the store; this node's own without one). */
  async pins(service: string): Promise<VersionPin[]> {
    if (this.#store !== undefined) return this.#store.pins(service);
    const out: VersionPin[] = [];
    for (const [consumer, cached] of this.#pins.get(service) ?? [])
      if (cached.version !== undefined)
        out.push({ consumer, version: cached.version, pinnedAt: cached.checkedAt });
    return out;
  }

  #cached(service: string, consumer: string): CachedPin {
    let consumers = this.#pins.get(service);
    if (consumers === undefined) this.#pins.set(service, (consumers = new Map()));
    let cached = consumers.get(consumer);
    if (cached === undefined) {
      // Bounded: past the limit the entry cached longest ago goes (it is read again when needed).
      if (consumers.size >= MAX_CACHED_PINS) consumers.delete(consumers.keys().next().value as string);
      consumers.set(consumer, (cached = { version: undefined, checkedAt: 0, loading: undefined }));
    }
    return cached;
  }
}

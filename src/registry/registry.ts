import semver from 'semver';
import { PorticoError } from '../errors/portico-error.ts';
import type {
  InstanceStatus,
  RegistryChange,
  RegistrySnapshot,
  RegistryStore,
  StoredInstance,
} from '../store/registry-store.ts';
import type { AddressPolicy } from './address-policy.ts';
import { validateRegistration, type RegistrationInput } from './validate-registration.ts';

/** Timer functions, injectable so tests drive the expiry sweep themselves. */
export interface RegistryTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Options of {@link createRegistry}. */
export interface RegistryOptions {
  readonly store: RegistryStore;
  readonly addressPolicy: AddressPolicy;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  /**
   * On the embedded store, every lease loaded at start lasts at least max(one TTL, this) from start; on a shared
   * store, every lease lasts at least that long from the end of a store outage. Default 0.
   */
  readonly leaseGraceMs?: number;
  /** Period of the expiry sweep. Default 1000. */
  readonly expirySweepMs?: number;
  readonly timers?: RegistryTimers;
  /**
   * Checks a registration that carries a contract before it is stored (breaking-change check, see
   * src/contracts/registration-gate.ts); throws a PorticoError to refuse it.
   */
  readonly contractGate?: ContractGate;
  /** Failures that have no caller to answer: a sweep that could not reach the store, a throwing listener. */
  readonly onError?: (err: unknown) => void;
}

/** One service as listed by `GET /v1/services`. */
export interface ServiceSummary {
  readonly name: string;
  /** Every registered version, highest first. */
  readonly versions: string[];
  readonly instances: { total: number; passing: number; critical: number; draining: number };
}

export interface InstanceFilter {
  /** A semver range such as `^1.2.0`. */
  readonly version?: string | undefined;
  readonly status?: InstanceStatus | undefined;
}

export type ChangeListener = (change: RegistryChange) => void;

/** See {@link RegistryOptions.contractGate}. */
export type ContractGate = (registration: RegistrationInput, registry: Registry) => Promise<void>;

/** Receives the whole registry after a resync; the listener replaces its copy with it. */
export type ResyncListener = (snapshot: RegistrySnapshot) => void;

/** The registry: checks and applies registrations, keeps an in-memory copy of the store and fans out its changes. */
export interface Registry {
  /** Revision of the in-memory copy. */
  readonly revision: number;
  start(): Promise<void>;
  /** Creates or updates an instance; an identical body only renews the lease (no new revision). */
  register(
    service: string,
    id: string,
    body: unknown,
  ): Promise<{ instance: StoredInstance; created: boolean }>;
  /** Renews the lease; `instance_not_found` tells the client to register again. */
  heartbeat(service: string, id: string): Promise<StoredInstance>;
  /** Marks the instance `draining`: it stays listed but takes no new requests. */
  drain(service: string, id: string): Promise<StoredInstance>;
  deregister(service: string, id: string): Promise<void>;
  /** Sets the health status (active health checks); a no-op when unchanged. */
  setStatus(service: string, id: string, status: InstanceStatus): Promise<StoredInstance>;
  listServices(): ServiceSummary[];
  listInstances(service: string, filter?: InstanceFilter): StoredInstance[];
  getInstance(service: string, id: string): StoredInstance | undefined;
  /** The stored contract text, or undefined. */
  getContract(service: string, version: string): Promise<string | undefined>;
  /** Everything in memory now; consistent with {@link Registry.subscribe} when both are called in the same tick. */
  snapshot(): RegistrySnapshot;
  /** Changes after `revision` from the store, or undefined when it is too old (or too new) to replay. */
  changesSince(revision: number): Promise<RegistryChange[] | undefined>;
  /**
   * Calls `listener` synchronously, in revision order, after each change is applied in memory. With `service`,
   * only changes of that service reach it. Returns the unsubscribe function.
   */
  subscribe(listener: ChangeListener, options?: { service?: string | undefined }): () => void;
  /**
   * Calls `listener` synchronously after the in-memory copy was replaced by a store snapshot (the Redis feed could
   * not continue: a trimmed feed, or Redis came back without its data). The revision may have gone down. Changes
   * delivered to {@link Registry.subscribe} afterwards follow that snapshot. Returns the unsubscribe function.
   */
  onResync(listener: ResyncListener): () => void;
  /** Runs one expiry pass now (also run every `expirySweepMs`). */
  sweep(): Promise<RegistryChange[]>;
  /** Stops the sweep and detaches from the store; the store stays open (its owner closes it). */
  close(): Promise<void>;
}

const CATCH_UP_TIMEOUT_MS = 5_000;
/** Sweeps missed by every node sharing the store before the pause counts as an outage (all nodes cut off or down). */
const OUTAGE_IDLE_SWEEPS = 5;
const defaultTimers: RegistryTimers = {
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * Creates the registry over a store. Call `start()` before use.
 *
 * @example
 * const registry = createRegistry({ store, addressPolicy: createAddressPolicy() });
 * await registry.start();
 * const off = registry.subscribe((change) => applyToInstanceSet(change), { service: 'orders' });
 */
export function createRegistry(options: RegistryOptions): Registry {
  return new ServiceRegistry(options);
}

class ServiceRegistry implements Registry {
  readonly #store: RegistryStore;
  readonly #policy: AddressPolicy;
  readonly #clock: () => number;
  readonly #leaseGraceMs: number;
  readonly #sweepMs: number;
  readonly #timers: RegistryTimers;
  readonly #onError: (err: unknown) => void;
  readonly #contractGate: ContractGate | undefined;
  /** service → id → instance. */
  readonly #services = new Map<string, Map<string, StoredInstance>>();
  readonly #allListeners = new Set<ChangeListener>();
  readonly #serviceListeners = new Map<string, Set<ChangeListener>>();
  readonly #resyncListeners = new Set<ResyncListener>();
  #waiters: { revision: number; resolve: () => void }[] = [];
  #revision = 0;
  #pending: RegistryChange[] | undefined;
  #detach: (() => void) | undefined;
  #detachResync: (() => void) | undefined;
  /** A resync that arrived while the first snapshot was loading; it wins over that snapshot. */
  #pendingResync: RegistrySnapshot | undefined;
  #sweepHandle: unknown;
  #sweeping: Promise<RegistryChange[]> | undefined;
  /** Until then (after a restart on the embedded store) leases are judged by the in-memory grace, not the store. */
  #graceUntil = 0;
  /** Set when a store call failed since the last successful sweep: the next sweep asks for the outage grace. */
  #storeFailed = false;

  constructor(options: RegistryOptions) {
    this.#store = options.store;
    this.#policy = options.addressPolicy;
    this.#clock = options.clock ?? Date.now;
    this.#leaseGraceMs = options.leaseGraceMs ?? 0;
    this.#sweepMs = options.expirySweepMs ?? 1_000;
    this.#timers = options.timers ?? defaultTimers;
    this.#contractGate = options.contractGate;
    this.#onError = options.onError ?? ((err) => process.emitWarning(String(err), 'PorticoRegistryWarning'));
  }

  get revision(): number {
    return this.#revision;
  }

  async start(): Promise<void> {
    // Changes that land while the snapshot loads are held and applied after it, so none is lost.
    this.#pending = [];
    this.#detach = this.#store.onChange((change) => this.#receive(change));
    this.#detachResync = this.#store.onResync?.((snapshot) => this.#resync(snapshot));
    const snapshot = await this.#store.snapshot();
    const now = this.#clock();
    const restartGrace = this.#store.kind === 'embedded';
    for (const stored of snapshot.instances) {
      let instance = stored;
      if (restartGrace) {
        // The process was down: give every lease a fair chance to be renewed before it can expire.
        const graceEnd = Math.max(stored.expiresAt, now + Math.max(stored.ttlMs, this.#leaseGraceMs));
        if (graceEnd !== stored.expiresAt) instance = { ...stored, expiresAt: graceEnd };
        this.#graceUntil = Math.max(this.#graceUntil, graceEnd);
      }
      this.#put(instance);
    }
    this.#revision = snapshot.revision;
    const pending = this.#pending;
    this.#pending = undefined;
    const resync = this.#pendingResync;
    this.#pendingResync = undefined;
    if (resync !== undefined) this.#resync(resync);
    for (const change of pending) this.#apply(change);
    this.#sweepHandle = this.#timers.setInterval(() => {
      this.sweep().catch(this.#onError);
    }, this.#sweepMs);
  }

  async register(
    service: string,
    id: string,
    body: unknown,
  ): Promise<{ instance: StoredInstance; created: boolean }> {
    const input = validateRegistration(service, id, body);
    const decision = await this.#policy.checkUrl(input.url);
    if (!decision.allowed) {
      throw new PorticoError('invalid_registration', `url refused: ${decision.reason}`, { field: 'url' });
    }
    if (input.contract !== undefined && this.#contractGate !== undefined)
      await this.#contractGate(input, this);
    const contractHash =
      input.contract === undefined
        ? undefined
        : await this.#guard(() => this.#store.putContract(service, input.version, input.contract as string));
    const now = this.#clock();
    const existing = this.getInstance(service, id);
    const url = input.url.href;
    const expiresAt = now + input.ttlMs;
    if (existing !== undefined && sameRegistration(existing, input, url, contractHash)) {
      const renewed = await this.#guard(() => this.#store.renew(service, id, expiresAt));
      if (renewed) return { instance: this.#setExpiry(existing, expiresAt), created: false };
    }
    // Health state belongs to the health checks unless the address changed; a drain lasts until the instance leaves.
    const status: InstanceStatus =
      existing === undefined || (existing.status === 'critical' && existing.url !== url)
        ? 'passing'
        : existing.status;
    const instance: StoredInstance = {
      service,
      id,
      url,
      ...(input.protocol === undefined ? {} : { protocol: input.protocol }),
      version: input.version,
      metadata: input.metadata,
      status,
      ttlMs: input.ttlMs,
      expiresAt,
      registeredAt: existing?.registeredAt ?? now,
      updatedAt: now,
      healthCheck: input.healthCheck,
      contractHash,
    };
    const change = await this.#guard(() =>
      this.#store.upsert(instance, existing === undefined ? 'register' : 'update'),
    );
    await this.#catchUp(change.revision);
    return { instance: change.instance, created: existing === undefined };
  }

  async heartbeat(service: string, id: string): Promise<StoredInstance> {
    const existing = this.#require(service, id);
    const expiresAt = this.#clock() + existing.ttlMs;
    const renewed = await this.#guard(() => this.#store.renew(service, id, expiresAt));
    if (!renewed) throw notFound(service, id);
    return this.#setExpiry(this.getInstance(service, id) ?? existing, expiresAt);
  }

  async drain(service: string, id: string): Promise<StoredInstance> {
    return this.#changeStatus(service, id, 'draining', 'drain');
  }

  async setStatus(service: string, id: string, status: InstanceStatus): Promise<StoredInstance> {
    return this.#changeStatus(service, id, status, 'status');
  }

  async deregister(service: string, id: string): Promise<void> {
    const change = await this.#guard(() => this.#store.remove(service, id, 'deregister'));
    if (change === undefined) throw notFound(service, id);
    await this.#catchUp(change.revision);
  }

  listServices(): ServiceSummary[] {
    const out: ServiceSummary[] = [];
    for (const [name, instances] of this.#services) {
      const versions = new Set<string>();
      const counts = { total: 0, passing: 0, critical: 0, draining: 0 };
      for (const instance of instances.values()) {
        versions.add(instance.version);
        counts.total++;
        counts[instance.status]++;
      }
      out.push({ name, versions: [...versions].sort(semver.rcompare), instances: counts });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  listInstances(service: string, filter: InstanceFilter = {}): StoredInstance[] {
    const { version, status } = filter;
    if (version !== undefined && semver.validRange(version) === null) {
      throw new PorticoError('bad_request', `"${version}" is not a semver range`, { field: 'version' });
    }
    const out: StoredInstance[] = [];
    for (const instance of this.#services.get(service)?.values() ?? []) {
      if (status !== undefined && instance.status !== status) continue;
      if (version !== undefined && !semver.satisfies(instance.version, version)) continue;
      out.push(instance);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  getInstance(service: string, id: string): StoredInstance | undefined {
    return this.#services.get(service)?.get(id);
  }

  async getContract(service: string, version: string): Promise<string | undefined> {
    const normalised = semver.valid(version);
    if (normalised === null) return undefined;
    return this.#guard(() => this.#store.getContract(service, normalised));
  }

  snapshot(): RegistrySnapshot {
    const instances: StoredInstance[] = [];
    for (const byId of this.#services.values())
      for (const instance of byId.values()) instances.push(instance);
    return { revision: this.#revision, instances };
  }

  async changesSince(revision: number): Promise<RegistryChange[] | undefined> {
    return this.#guard(() => this.#store.changesSince(revision));
  }

  subscribe(listener: ChangeListener, options: { service?: string | undefined } = {}): () => void {
    const { service } = options;
    if (service === undefined) {
      this.#allListeners.add(listener);
      return () => this.#allListeners.delete(listener);
    }
    let set = this.#serviceListeners.get(service);
    if (set === undefined) this.#serviceListeners.set(service, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#serviceListeners.get(service) === set)
        this.#serviceListeners.delete(service);
    };
  }

  onResync(listener: ResyncListener): () => void {
    this.#resyncListeners.add(listener);
    return () => this.#resyncListeners.delete(listener);
  }

  sweep(): Promise<RegistryChange[]> {
    // One pass at a time: a slow store must not pile up overlapping sweeps.
    this.#sweeping ??= this.#runSweep().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async close(): Promise<void> {
    if (this.#sweepHandle !== undefined) this.#timers.clearInterval(this.#sweepHandle);
    this.#sweepHandle = undefined;
    this.#detach?.();
    this.#detach = undefined;
    this.#detachResync?.();
    this.#detachResync = undefined;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
    await this.#sweeping;
  }

  async #runSweep(): Promise<RegistryChange[]> {
    const now = this.#clock();
    if (now >= this.#graceUntil) {
      const afterOutage = this.#storeFailed;
      this.#storeFailed = false;
      return this.#guard(() =>
        this.#store.expire(now, {
          graceMs: this.#leaseGraceMs,
          afterOutage,
          idleMs: OUTAGE_IDLE_SWEEPS * this.#sweepMs,
        }),
      );
    }
    // During the restart grace the store's lease ends are too early; judge by the in-memory ones.
    const changes: RegistryChange[] = [];
    for (const instance of this.snapshot().instances) {
      if (instance.expiresAt >= now) continue;
      const change = await this.#guard(() => this.#store.remove(instance.service, instance.id, 'expire'));
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }

  async #changeStatus(
    service: string,
    id: string,
    status: InstanceStatus,
    reason: 'drain' | 'status',
  ): Promise<StoredInstance> {
    const existing = this.#require(service, id);
    if (existing.status === status) return existing;
    // Health checks must not pull an instance back out of a drain.
    if (reason === 'status' && existing.status === 'draining') return existing;
    const instance: StoredInstance = { ...existing, status, updatedAt: this.#clock() };
    const change = await this.#guard(() => this.#store.upsert(instance, reason));
    await this.#catchUp(change.revision);
    return change.instance;
  }

  #receive(change: RegistryChange): void {
    if (this.#pending !== undefined) this.#pending.push(change);
    else this.#apply(change);
  }

  /** Replaces the copy with the store's snapshot; the store delivers later changes only after this returns. */
  #resync(snapshot: RegistrySnapshot): void {
    if (this.#pending !== undefined) {
      // Changes held so far are older than this snapshot.
      this.#pending = [];
      this.#pendingResync = snapshot;
      return;
    }
    this.#services.clear();
    for (const instance of snapshot.instances) this.#put(instance);
    this.#revision = snapshot.revision;
    this.#graceUntil = 0;
    // A write waiting for its revision either is in the snapshot or was lost with the store's data.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
    for (const listener of this.#resyncListeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #apply(change: RegistryChange): void {
    // The store promises each change once, but a snapshot taken after the change already holds it.
    if (change.revision <= this.#revision) return;
    this.#revision = change.revision;
    if (change.kind === 'upsert') this.#put(change.instance);
    else this.#delete(change.service, change.id);
    this.#notify(this.#allListeners, change);
    const forService = this.#serviceListeners.get(change.service);
    if (forService !== undefined) this.#notify(forService, change);
    if (this.#waiters.length > 0) {
      const ready = this.#waiters.filter((w) => w.revision <= change.revision);
      if (ready.length > 0) {
        this.#waiters = this.#waiters.filter((w) => w.revision > change.revision);
        for (const waiter of ready) waiter.resolve();
      }
    }
  }

  #notify(listeners: Set<ChangeListener>, change: RegistryChange): void {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /**
   * Waits until the in-memory copy holds `revision`, so a caller that got a 2xx reads its own write. Immediate on
   * the embedded store; on Redis the feed may lag a few milliseconds.
   */
  #catchUp(revision: number): Promise<void> {
    if (revision <= this.#revision || this.#detach === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CATCH_UP_TIMEOUT_MS).unref();
      this.#waiters.push({
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #put(instance: StoredInstance): void {
    let byId = this.#services.get(instance.service);
    if (byId === undefined) this.#services.set(instance.service, (byId = new Map()));
    byId.set(instance.id, instance);
  }

  #delete(service: string, id: string): void {
    const byId = this.#services.get(service);
    if (byId === undefined) return;
    byId.delete(id);
    if (byId.size === 0) this.#services.delete(service);
  }

  /** Heartbeats are not changes: the lease end moves in memory without a revision. */
  #setExpiry(instance: StoredInstance, expiresAt: number): StoredInstance {
    const renewed = { ...instance, expiresAt };
    if (this.getInstance(instance.service, instance.id) === instance) this.#put(renewed);
    return renewed;
  }

  #require(service: string, id: string): StoredInstance {
    const instance = this.getInstance(service, id);
    if (instance === undefined) throw notFound(service, id);
    return instance;
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      // Heartbeats that failed meanwhile may have let leases lapse in the store: the next sweep grants a grace.
      if (!(err instanceof PorticoError) || err.code === 'store_unavailable') this.#storeFailed = true;
      if (err instanceof PorticoError) throw err;
      throw new PorticoError(
        'store_unavailable',
        'the registry store did not accept the operation',
        undefined,
        {
          cause: err,
        },
      );
    }
  }
}

function sameRegistration(
  existing: StoredInstance,
  input: ReturnType<typeof validateRegistration>,
  url: string,
  contractHash: string | undefined,
): boolean {
  return (
    existing.url === url &&
    existing.protocol === input.protocol &&
    existing.version === input.version &&
    existing.ttlMs === input.ttlMs &&
    existing.contractHash === contractHash &&
    sameJson(existing.metadata, input.metadata) &&
    sameJson(existing.healthCheck, input.healthCheck)
  );
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function notFound(service: string, id: string): PorticoError {
  return new PorticoError('instance_not_found', `instance ${id} of service ${service} is not registered`, {
    service,
    id,
  });
}

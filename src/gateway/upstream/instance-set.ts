import type { Balancer } from '../../balancing/balancer.ts';
import type { Instance, InstanceStatus } from './instance.ts';

/** Why an instance set changed; `panic` is emitted when panic mode starts or ends (see `panic`). */
export type InstanceChangeType = 'added' | 'removed' | 'health' | 'status' | 'panic';

/** One change of an instance set, given to `onChange` listeners after the new snapshot is live. */
export interface InstanceChange {
  readonly type: InstanceChangeType;
  readonly instance: Instance;
  readonly set: InstanceSet;
}

export type InstanceChangeListener = (change: InstanceChange) => void;

export interface InstanceSetOptions {
  service: string;
  balancer: Balancer<Instance>;
  instances?: readonly Instance[];
}

const EMPTY: readonly Instance[] = Object.freeze([]);

/**
 * The instances of one service, from config and the registry.
 *
 * Copy-on-write: a change builds new `all` / `available` arrays and hands `available` to the
 * balancer once; the arrays are frozen and never mutated afterwards. Requests only read the
 * current arrays and call `pick`, so the registry can add and remove instances at runtime with no
 * lock and no work on the request path. Health and drain state must change through `setHealth` /
 * `setStatus`, not by writing the instance fields, or `available` goes stale.
 *
 * @example
 * const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin') });
 * set.add(new Instance({ id: 'u1', service: 'users', url: 'http://10.0.0.1:8080', source: 'static' }, pool));
 * const instance = set.pick(undefined); // undefined → answer 503 no_healthy_instance
 */
export class InstanceSet {
  readonly service: string;
  readonly #balancer: Balancer<Instance>;
  readonly #byId = new Map<string, Instance>();
  readonly #listeners = new Set<InstanceChangeListener>();
  #all: readonly Instance[] = EMPTY;
  #available: readonly Instance[] = EMPTY;
  #panicThreshold = 0;
  #panic = false;
  /** Added or removed instances not yet in the arrays and the balancer (see {@link InstanceSet.add}). */
  #dirty = false;
  /** The instance of the last pending add or remove, named by a panic change it causes. */
  #lastChanged: Instance | undefined;
  readonly #settleSoon = (): void => this.#settle();

  constructor(options: InstanceSetOptions) {
    this.service = options.service;
    this.#balancer = options.balancer;
    for (const instance of options.instances ?? EMPTY) this.#byId.set(instance.id, instance);
    this.#rebuild();
  }

  /** Every instance, available or not; a frozen snapshot. */
  get all(): readonly Instance[] {
    if (this.#dirty) this.#settle();
    return this.#all;
  }

  /** Instances that may take traffic (healthy and not draining); a frozen snapshot. */
  get available(): readonly Instance[] {
    if (this.#dirty) this.#settle();
    return this.#available;
  }

  /**
   * Whether the set is in panic mode: some, but fewer than `panicThreshold`, of its non-draining, non-ejected instances are
   * available, so the balancer spreads traffic over all of those rather than overloading the few (as Envoy and Nacos
   * do). Instances ejected by outlier detection never take panic traffic.
   */
  get panic(): boolean {
    if (this.#dirty) this.#settle();
    return this.#panic;
  }

  /** Sets the panic threshold (a share in [0, 1]; 0, the default, turns panic mode off). */
  setPanicThreshold(share: number): void {
    if (share === this.#panicThreshold) return;
    this.#panicThreshold = share;
    this.#dirty = false;
    const flipped = this.#rebuild();
    if (flipped) this.#emit('panic', this.#all[0] as Instance);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The balancer's strategy name, for logs and the admin API. */
  get balancerName(): Balancer<Instance>['name'] {
    return this.#balancer.name;
  }

  get(id: string): Instance | undefined {
    return this.#byId.get(id);
  }

  /**
   * Adds an instance, or replaces the one with the same id (a re-registration with a new URL).
   * Returns the replaced instance so the caller can close its pool once its requests finish.
   *
   * Adds and removes rebuild the arrays and the balancer once for all those made in one synchronous run (at the
   * end of it, or at the next read, whichever comes first): a burst of registrations delivered together costs one
   * O(instances) rebuild, not one each.
   */
  add(instance: Instance): Instance | undefined {
    const previous = this.#byId.get(instance.id);
    if (previous === instance) return undefined;
    this.#byId.set(instance.id, instance);
    this.#markDirty(instance);
    if (previous !== undefined) this.#emit('removed', previous);
    this.#emit('added', instance);
    return previous;
  }

  /** Removes an instance; returns it so the caller can close its pool after in-flight requests. */
  remove(id: string): Instance | undefined {
    const instance = this.#byId.get(id);
    if (instance === undefined) return undefined;
    this.#byId.delete(id);
    this.#markDirty(instance);
    this.#emit('removed', instance);
    return instance;
  }

  /** Picks an available instance; `undefined` when none is (the caller answers 503 `no_healthy_instance`). */
  pick(key: string | undefined, avoid?: Instance): Instance | undefined {
    if (this.#dirty) this.#settle();
    const instance = this.#balancer.pick(key, avoid);
    // An instance on probation after an ejection takes one try at a time: a hanging one then holds a single
    // request, not its share of the traffic, until outlier detection ejects it again.
    if (instance !== undefined && instance.probation && instance.inflight > 0)
      return this.#balancer.pick(key, instance) ?? instance;
    return instance;
  }

  /** Marks an instance healthy or not; returns whether anything changed. */
  setHealth(instance: Instance, healthy: boolean): boolean {
    if (instance.healthy === healthy) return false;
    instance.healthy = healthy;
    if (this.#byId.get(instance.id) !== instance) return false;
    this.#dirty = false;
    const flipped = this.#rebuild();
    this.#emit('health', instance);
    if (flipped) this.#emit('panic', instance);
    return true;
  }

  /** Sets the registry status (`draining` takes the instance out of rotation); returns whether anything changed. */
  setStatus(instance: Instance, status: InstanceStatus): boolean {
    if (instance.status === status) return false;
    instance.status = status;
    if (this.#byId.get(instance.id) !== instance) return false;
    this.#dirty = false;
    const flipped = this.#rebuild();
    this.#emit('status', instance);
    if (flipped) this.#emit('panic', instance);
    return true;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: InstanceChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #markDirty(instance: Instance): void {
    this.#lastChanged = instance;
    if (this.#dirty) return;
    this.#dirty = true;
    queueMicrotask(this.#settleSoon);
  }

  /** Applies pending adds and removes. */
  #settle(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    const flipped = this.#rebuild();
    if (flipped) this.#emit('panic', this.#lastChanged as Instance);
  }

  /** Returns whether panic mode started or ended. */
  #rebuild(): boolean {
    const all = Object.freeze([...this.#byId.values()]);
    const available = Object.freeze(all.filter((instance) => instance.available));
    this.#all = all;
    this.#available = available;
    const wasPanic = this.#panic;
    let targets = available;
    if (this.#panicThreshold > 0 && available.length < all.length) {
      // A draining instance is leaving on purpose, and an ejected one failed real traffic (within
      // maxEjectionPercent): neither counts towards the share nor takes panic traffic. Panic protects the
      // few available instances from overload when active checks call many unhealthy, not from outliers.
      const candidates = all.filter((instance) => instance.status !== 'draining' && !instance.ejected);
      // With no instance available at all the answer is 503 no_healthy_instance (and a route's fallback), not
      // traffic to instances every check calls dead: panic protects the few healthy ones from overload.
      this.#panic = available.length > 0 && available.length < this.#panicThreshold * candidates.length;
      if (this.#panic) targets = Object.freeze(candidates);
    } else {
      this.#panic = false;
    }
    this.#balancer.setTargets(targets);
    return this.#panic !== wasPanic;
  }

  #emit(type: InstanceChangeType, instance: Instance): void {
    if (this.#listeners.size === 0) return;
    const change: InstanceChange = { type, instance, set: this };
    // A throwing listener (metrics, logs) must not stop the others or undo the change.
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        process.emitWarning(error instanceof Error ? error : String(error), 'PorticoInstanceSetListener');
      }
    }
  }
}

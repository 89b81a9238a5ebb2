import type { Balancer } from './balancers/balancer.ts';
import type { Instance, InstanceStatus } from './instance.ts';

/** Why an instance set changed. */
export type InstanceChangeType = 'added' | 'removed' | 'health' | 'status';

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

  constructor(options: InstanceSetOptions) {
    this.service = options.service;
    this.#balancer = options.balancer;
    for (const instance of options.instances ?? EMPTY) this.#byId.set(instance.id, instance);
    this.#rebuild();
  }

  /** Every instance, available or not; a frozen snapshot. */
  get all(): readonly Instance[] {
    return this.#all;
  }

  /** Instances that may take traffic (healthy and not draining); a frozen snapshot. */
  get available(): readonly Instance[] {
    return this.#available;
  }

  get size(): number {
    return this.#all.length;
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
   */
  add(instance: Instance): Instance | undefined {
    const previous = this.#byId.get(instance.id);
    if (previous === instance) return undefined;
    this.#byId.set(instance.id, instance);
    this.#rebuild();
    if (previous !== undefined) this.#emit('removed', previous);
    this.#emit('added', instance);
    return previous;
  }

  /** Removes an instance; returns it so the caller can close its pool after in-flight requests. */
  remove(id: string): Instance | undefined {
    const instance = this.#byId.get(id);
    if (instance === undefined) return undefined;
    this.#byId.delete(id);
    this.#rebuild();
    this.#emit('removed', instance);
    return instance;
  }

  /** Picks an available instance; `undefined` when none is (the caller answers 503 `no_healthy_instance`). */
  pick(key: string | undefined, avoid?: Instance): Instance | undefined {
    return this.#balancer.pick(key, avoid);
  }

  /** Marks an instance healthy or not; returns whether anything changed. */
  setHealth(instance: Instance, healthy: boolean): boolean {
    if (instance.healthy === healthy) return false;
    instance.healthy = healthy;
    if (this.#byId.get(instance.id) !== instance) return false;
    this.#rebuild();
    this.#emit('health', instance);
    return true;
  }

  /** Sets the registry status (`draining` takes the instance out of rotation); returns whether anything changed. */
  setStatus(instance: Instance, status: InstanceStatus): boolean {
    if (instance.status === status) return false;
    instance.status = status;
    if (this.#byId.get(instance.id) !== instance) return false;
    this.#rebuild();
    this.#emit('status', instance);
    return true;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: InstanceChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #rebuild(): void {
    const all = Object.freeze([...this.#byId.values()]);
    const available = Object.freeze(all.filter((instance) => instance.available));
    this.#all = all;
    this.#available = available;
    this.#balancer.setTargets(available);
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

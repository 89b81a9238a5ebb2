import type { OutlierDetectionConfig } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import type { HealthCheckTimers } from './health-checker.ts';
import type { Instance } from './instance.ts';
import type { InstanceSet } from './instance-set.ts';

/** Outlier detection of one service with durations parsed. */
export interface OutlierSettings {
  readonly enabled: boolean;
  /** Consecutive failed tries that eject an instance. */
  readonly consecutiveFailures: number;
  /** First ejection; each repeat doubles it. */
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** Largest share (0–100) of a service's instances ejected at once; above 0, one ejection is always allowed. */
  readonly maxEjectionPercent: number;
}

/** What the detector needs to know about a service, resolved against the current runtime on each failure. */
export interface OutlierTarget {
  readonly instances: InstanceSet;
  readonly settings: OutlierSettings;
}

/** Timer functions, injectable so tests drive time by hand (the health checker's shape). */
export type OutlierTimers = HealthCheckTimers;

/** Options of {@link createOutlierDetector}. */
export interface OutlierDetectorOptions {
  /** The service's current instance set and settings; undefined when the service is gone (a reload). */
  readonly target: (service: string) => OutlierTarget | undefined;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  readonly timers?: OutlierTimers;
  readonly onEject?: (instance: Instance, durationMs: number, ejections: number) => void;
  readonly onRestore?: (instance: Instance) => void;
}

interface OutlierState {
  failures: number;
  /** Ejections in a row, for the doubling backoff; forgotten after a quiet `maxEjectionMs`. */
  ejections: number;
  ejected: boolean;
  restoredAt: number;
  timer: unknown;
}

const realTimers: OutlierTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const settingsCache = new WeakMap<OutlierDetectionConfig, OutlierSettings>();

/** Parses a service's `outlierDetection` once per config object (a reload brings new objects). */
export function outlierSettingsOf(config: OutlierDetectionConfig): OutlierSettings {
  let settings = settingsCache.get(config);
  if (settings === undefined) {
    settings = {
      enabled: config.enabled,
      consecutiveFailures: config.consecutiveFailures,
      baseEjectionMs: parseDurationMs(config.baseEjectionTime),
      maxEjectionMs: parseDurationMs(config.maxEjectionTime),
      maxEjectionPercent: config.maxEjectionPercent,
    };
    settingsCache.set(config, settings);
  }
  return settings;
}

/**
 * Passive health checking (outlier ejection), fed by the outcome of every proxied try. After
 * `consecutiveFailures` failed tries in a row (connect failure, reset, timeout, invalid answer or a 5xx) an
 * instance is taken out of rotation with `InstanceSet.setHealth(instance, false)` for `baseEjectionMs`, doubled on
 * each repeated ejection up to `maxEjectionMs`, then put back. At most `maxEjectionPercent` of a service's
 * instances are ejected at once, so a failing dependency shared by all instances cannot empty the service.
 *
 * This is separate from active health checks, which set the instance's registry `status`; ejection only moves the
 * node-local `healthy` flag, for a while, on the node that saw the failures.
 *
 * @example
 * const outliers = createOutlierDetector({ target: (name) => lookup(name) });
 * outliers.failure(instance); // from the proxy's error path
 * outliers.success(instance); // from a response below 500
 */
export class OutlierDetector {
  readonly #target: OutlierDetectorOptions['target'];
  readonly #clock: () => number;
  readonly #timers: OutlierTimers;
  readonly #onEject: OutlierDetectorOptions['onEject'];
  readonly #onRestore: OutlierDetectorOptions['onRestore'];
  readonly #states = new WeakMap<Instance, OutlierState>();
  readonly #pending = new Set<OutlierState>();
  #closed = false;

  constructor(options: OutlierDetectorOptions) {
    this.#target = options.target;
    this.#clock = options.clock ?? Date.now;
    this.#timers = options.timers ?? realTimers;
    this.#onEject = options.onEject;
    this.#onRestore = options.onRestore;
  }

  /** A try that got an answer below 500: the failure streak ends. Allocation-free. */
  success(instance: Instance): void {
    const state = this.#states.get(instance);
    if (state !== undefined && state.failures !== 0) state.failures = 0;
  }

  /** A try that failed (or answered 5xx). */
  failure(instance: Instance): void {
    if (this.#closed) return;
    let state = this.#states.get(instance);
    if (state === undefined) {
      state = { failures: 0, ejections: 0, ejected: false, restoredAt: 0, timer: undefined };
      this.#states.set(instance, state);
    }
    // Answers that were in flight when the instance was ejected (or panic traffic) do not extend the ejection.
    if (state.ejected) return;
    state.failures++;
    const target = this.#target(instance.service);
    if (target === undefined || !target.settings.enabled) return;
    const { settings, instances } = target;
    if (state.failures < settings.consecutiveFailures) return;
    if (instances.get(instance.id) !== instance || !instance.healthy) return;
    if (!this.#mayEject(instances, settings)) return;
    this.#eject(instance, state, settings, instances);
  }

  /** Whether the instance is currently ejected by this detector. */
  isEjected(instance: Instance): boolean {
    return this.#states.get(instance)?.ejected === true;
  }

  /** Cancels every pending restore (shutdown). */
  close(): void {
    this.#closed = true;
    for (const state of this.#pending) this.#timers.clearTimeout(state.timer);
    this.#pending.clear();
  }

  #mayEject(instances: InstanceSet, settings: OutlierSettings): boolean {
    if (settings.maxEjectionPercent === 0) return false;
    let ejected = 0;
    for (const other of instances.all) if (this.#states.get(other)?.ejected === true) ejected++;
    // As in Envoy: the share is checked before this ejection, so one instance can always be ejected.
    return ejected === 0 || ejected * 100 < settings.maxEjectionPercent * instances.size;
  }

  #eject(instance: Instance, state: OutlierState, settings: OutlierSettings, instances: InstanceSet): void {
    const now = this.#clock();
    if (state.restoredAt !== 0 && now - state.restoredAt > settings.maxEjectionMs) state.ejections = 0;
    const durationMs = Math.min(settings.baseEjectionMs * 2 ** state.ejections, settings.maxEjectionMs);
    state.ejections++;
    state.ejected = true;
    state.failures = 0;
    instances.setHealth(instance, false);
    this.#pending.add(state);
    state.timer = this.#timers.setTimeout(() => this.#restore(instance, state), durationMs);
    this.#onEject?.(instance, durationMs, state.ejections);
  }

  #restore(instance: Instance, state: OutlierState): void {
    this.#pending.delete(state);
    state.timer = undefined;
    state.ejected = false;
    state.failures = 0;
    state.restoredAt = this.#clock();
    // The runtime may have been swapped meanwhile; the instance object is carried over when it is still used.
    const instances = this.#target(instance.service)?.instances;
    if (instances !== undefined && instances.get(instance.id) === instance)
      instances.setHealth(instance, true);
    else instance.healthy = true;
    this.#onRestore?.(instance);
  }
}

/** Creates an {@link OutlierDetector}. */
export function createOutlierDetector(options: OutlierDetectorOptions): OutlierDetector {
  return new OutlierDetector(options);
}

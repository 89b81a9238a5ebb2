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
  /**
   * An instance with tries in flight that has settled none of them for this long, while another instance of the
   * service answered, is ejected as hanging (0 = off).
   */
  readonly stallMs: number;
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
  /** Every service of the current runtime, for the periodic stall sweep (none: no stall detection). */
  readonly targets?: (() => Iterable<OutlierTarget>) | undefined;
  /** Period of the stall sweep (default 1 s). */
  readonly sweepMs?: number | undefined;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  readonly timers?: OutlierTimers;
  readonly onEject?: (instance: Instance, durationMs: number, ejections: number) => void;
  readonly onRestore?: (instance: Instance) => void;
}

interface OutlierState {
  failures: number;
  /** Tries that got an answer or failed: the stall sweep looks for instances where this stops moving. */
  outcomes: number;
  /** `outcomes` as the last sweep saw it. */
  seenOutcomes: number;
  /** Last sweep that found the instance idle or settling tries. */
  quietSince: number;
  /** Last sweep that found the instance settling tries. */
  progressAt: number;
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
      stallMs: parseDurationMs(config.stallTime),
    };
    settingsCache.set(config, settings);
  }
  return settings;
}

/**
 * Passive health checking (outlier ejection), fed by the outcome of every proxied try. After
 * `consecutiveFailures` failed tries in a row (connect failure, reset, timeout, invalid answer or a 5xx) an
 * instance is taken out of rotation with `InstanceSet.setHealth(instance, false)` for `baseEjectionMs`, doubled on
 * each repeated ejection up to `maxEjectionMs`, then put back on probation: one try at a time until one succeeds,
 * and ejected again at its first failure. At most `maxEjectionPercent` of a service's instances are ejected at
 * once, so a failing dependency shared by all instances cannot empty the service.
 *
 * A hanging instance fails no try until the try times out, so a sweep every second also looks for stalls: an
 * instance with `consecutiveFailures` tries waiting for their response head (one on probation) that settled no
 * try for `stallMs`,
 * while another instance of the service did settle tries, is ejected without waiting for the timeouts.
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
  readonly #targets: OutlierDetectorOptions['targets'];
  readonly #sweepMs: number;
  #sweepTimer: unknown = undefined;
  #closed = false;

  constructor(options: OutlierDetectorOptions) {
    this.#target = options.target;
    this.#clock = options.clock ?? Date.now;
    this.#timers = options.timers ?? realTimers;
    this.#onEject = options.onEject;
    this.#onRestore = options.onRestore;
    this.#targets = options.targets;
    this.#sweepMs = options.sweepMs ?? 1_000;
    if (this.#targets !== undefined) this.#scheduleSweep();
  }

  /** A try that got an answer below 500: the failure streak (and any probation) ends. Allocation-free after the first. */
  success(instance: Instance): void {
    const state = this.#states.get(instance) ?? this.#stateOf(instance);
    state.outcomes++;
    if (state.failures !== 0) state.failures = 0;
    if (instance.probation) instance.probation = false;
  }

  /** A try that failed (or answered 5xx). */
  failure(instance: Instance): void {
    if (this.#closed) return;
    const state = this.#states.get(instance) ?? this.#stateOf(instance);
    state.outcomes++;
    // Answers that were in flight when the instance was ejected (or panic traffic) do not extend the ejection.
    if (state.ejected) return;
    state.failures++;
    const target = this.#target(instance.service);
    if (target === undefined || !target.settings.enabled) return;
    const { settings, instances } = target;
    if (state.failures < settings.consecutiveFailures && !instance.probation) return;
    if (instances.get(instance.id) !== instance || !instance.healthy) return;
    if (!this.#mayEject(instances, settings)) return;
    this.#eject(instance, state, settings, instances);
  }

  /** Whether the instance is currently ejected by this detector. */
  isEjected(instance: Instance): boolean {
    return this.#states.get(instance)?.ejected === true;
  }

  /** Drops what the detector holds for an instance that left its service (its pending restore included). */
  forget(instance: Instance): void {
    const state = this.#states.get(instance);
    if (state === undefined) return;
    if (state.timer !== undefined) {
      this.#timers.clearTimeout(state.timer);
      this.#pending.delete(state);
      state.timer = undefined;
    }
    this.#states.delete(instance);
  }

  /** Looks for hanging instances now (the periodic sweep calls this; tests call it with a fake clock). */
  sweep(): void {
    if (this.#closed || this.#targets === undefined) return;
    const now = this.#clock();
    for (const target of this.#targets()) {
      const { settings, instances } = target;
      if (!settings.enabled || settings.stallMs === 0) continue;
      let stalled: Instance[] | undefined;
      for (const instance of instances.all) {
        let state = this.#states.get(instance);
        if (state === undefined) {
          if (instance.awaiting === 0) continue;
          state = this.#stateOf(instance);
          state.quietSince = now;
        }
        if (instance.awaiting === 0 || state.outcomes !== state.seenOutcomes) {
          if (state.outcomes !== state.seenOutcomes) state.progressAt = now;
          state.seenOutcomes = state.outcomes;
          state.quietSince = now;
          continue;
        }
        const waiting = instance.probation ? 1 : settings.consecutiveFailures;
        if (
          !state.ejected &&
          instance.healthy &&
          instance.awaiting >= waiting &&
          now - state.quietSince >= settings.stallMs
        )
          (stalled ??= []).push(instance);
      }
      if (stalled === undefined) continue;
      for (const instance of stalled) {
        // Stalled alone: another instance settled tries within the window, so the service itself is not just slow.
        if (!this.#peerProgressed(instances, instance, now - settings.stallMs)) continue;
        if (!this.#mayEject(instances, settings)) break;
        this.#eject(instance, this.#states.get(instance) as OutlierState, settings, instances);
      }
    }
  }

  /** Cancels every pending restore and the sweep (shutdown). */
  close(): void {
    this.#closed = true;
    for (const state of this.#pending) this.#timers.clearTimeout(state.timer);
    this.#pending.clear();
    if (this.#sweepTimer !== undefined) this.#timers.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #scheduleSweep(): void {
    this.#sweepTimer = this.#timers.setTimeout(() => {
      this.sweep();
      if (!this.#closed) this.#scheduleSweep();
    }, this.#sweepMs);
  }

  #stateOf(instance: Instance): OutlierState {
    const state: OutlierState = {
      failures: 0,
      outcomes: 0,
      seenOutcomes: 0,
      quietSince: 0,
      progressAt: 0,
      ejections: 0,
      ejected: false,
      restoredAt: 0,
      timer: undefined,
    };
    this.#states.set(instance, state);
    return state;
  }

  #peerProgressed(instances: InstanceSet, instance: Instance, since: number): boolean {
    for (const other of instances.all) {
      if (other === instance || !other.available) continue;
      const state = this.#states.get(other);
      if (state !== undefined && state.progressAt !== 0 && state.progressAt >= since) return true;
    }
    return false;
  }

  #mayEject(instances: InstanceSet, settings: OutlierSettings): boolean {
    if (settings.maxEjectionPercent === 0) return false;
    let ejected = 0;
    for (const other of instances.all) if (this.#states.get(other)?.ejected === true) ejected++;
    // The share after this ejection stays within the limit (50% of 3 instances is one), but one instance can
    // always be ejected.
    return ejected === 0 || (ejected + 1) * 100 <= settings.maxEjectionPercent * instances.size;
  }

  #eject(instance: Instance, state: OutlierState, settings: OutlierSettings, instances: InstanceSet): void {
    const now = this.#clock();
    if (state.restoredAt !== 0 && now - state.restoredAt > settings.maxEjectionMs) state.ejections = 0;
    const durationMs = Math.min(settings.baseEjectionMs * 2 ** state.ejections, settings.maxEjectionMs);
    state.ejections++;
    state.ejected = true;
    state.failures = 0;
    instance.ejected = true;
    instance.probation = false;
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
    state.quietSince = state.restoredAt;
    instance.ejected = false;
    instance.probation = true;
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

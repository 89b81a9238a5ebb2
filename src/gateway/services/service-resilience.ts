import type { ServiceConfig } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { Bulkhead } from '../../resilience/bulkhead.ts';
import { CircuitBreaker, type BreakerSnapshot, type BreakerState } from '../../resilience/circuit-breaker.ts';
import type { Clock, Random } from '../../resilience/clock.ts';
import { RetryBudget } from '../../resilience/retry-budget.ts';
import { RetryPolicy } from '../../resilience/retry-policy.ts';
import type { Instance } from '../upstream/instance.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';

/** Retries always allowed per budget window, so a quiet service can still retry (Finagle uses 10 per second). */
const minRetriesPerWindow = 10;
const budgetWindowMs = 10_000;
const defaultBudgetRatio = 0.2;

/** Reports breaker transitions (logs); set once by the gateway. */
export type BreakerListener = (
  service: string,
  instance: string,
  from: BreakerState,
  to: BreakerState,
) => void;

export interface ServiceResilienceOptions {
  readonly clock?: Clock | undefined;
  readonly random?: Random | undefined;
  readonly onBreakerTransition?: BreakerListener | undefined;
}

/** What the admin API shows of a service's breakers, bulkhead and retry budget. */
export interface ServiceResilienceSnapshot {
  readonly service: string;
  /**
   * The service as a whole: open when every instance breaker is open (no instance may take traffic), half-open
   * when none is closed but some let probes through, closed otherwise. Derived, so the two never disagree.
   */
  readonly breaker: { readonly state: BreakerState } | undefined;
  readonly instances: Readonly<Record<string, BreakerSnapshot>>;
  readonly bulkhead:
    { readonly active: number; readonly queued: number; readonly maxConcurrent: number } | undefined;
  readonly retryBudget: { readonly calls: number; readonly retries: number } | undefined;
}

/**
 * The resilience state of one service: its retry policy and budget, its bulkhead and a breaker per
 * instance (created on first use, keyed by instance id); the service's own breaker state is derived from
 * them (see `ServiceResilienceSnapshot.state`), and a request finds it open when `pick` returns null. It outlives
 * reloads that leave the service's resilience config unchanged, so an open breaker stays open.
 */
export class ServiceResilience {
  readonly service: string;
  readonly retry: RetryPolicy | undefined;
  readonly retryBudget: RetryBudget | undefined;
  readonly bulkhead: Bulkhead | undefined;
  readonly #breakerConfig: ServiceConfig['circuitBreaker'];
  readonly #instanceBreakers = new Map<string, CircuitBreaker>();
  readonly #options: ServiceResilienceOptions;

  constructor(service: string, config: ServiceConfig, options: ServiceResilienceOptions = {}) {
    this.service = service;
    this.#options = options;
    const retries = config.retries;
    if (retries !== undefined && retries.attempts > 0) {
      this.retryBudget = new RetryBudget({
        ratio: retries.budget ?? defaultBudgetRatio,
        minRetries: minRetriesPerWindow,
        windowMs: budgetWindowMs,
        clock: options.clock,
      });
      this.retry = new RetryPolicy({
        attempts: retries.attempts,
        onConnectFailure: retries.on.includes('connect-failure'),
        onTimeout: retries.on.includes('timeout'),
        statuses: retries.on.filter((on): on is number => typeof on === 'number'),
        methods: retries.methods,
        backoff: {
          baseMs: parseDurationMs(retries.backoff ?? '25ms'),
          maxMs: parseDurationMs(retries.maxBackoff ?? '1s'),
        },
        budget: this.retryBudget,
        random: options.random,
      });
    }
    if (config.bulkhead !== undefined) {
      this.bulkhead = new Bulkhead({
        maxConcurrent: config.bulkhead.maxConcurrent,
        queue: config.bulkhead.queue,
      });
    }
    this.#breakerConfig = config.circuitBreaker;
  }

  /** The breaker of one instance, or undefined when the service has none configured. */
  breakerOf(instance: Instance): CircuitBreaker | undefined {
    if (this.#breakerConfig === undefined) return undefined;
    let breaker = this.#instanceBreakers.get(instance.id);
    if (breaker === undefined) {
      breaker = this.#createBreaker(instance.id);
      this.#instanceBreakers.set(instance.id, breaker);
    }
    return breaker;
  }

  /**
   * Picks an instance whose breaker lets a call through (taking a half-open probe slot when it is one).
   * A retry (`avoid` set) passes over `avoid` (the last try's instance), `triedBefore` (the one before),
   * instances known to be unhealthy, which the balancer still offers in panic mode, and instances on probation
   * after an ejection, unless nothing else is left. Returns undefined when no instance is available, `null`
   * when instances are available but every breaker refuses.
   */
  pick(
    instances: InstanceSet,
    key: string | undefined,
    avoid: Instance | undefined,
    triedBefore?: Instance | undefined,
  ): Instance | undefined | null {
    const breakers = this.#breakerConfig !== undefined;
    if (!breakers && avoid === undefined) return instances.pick(key, avoid);
    const tries = instances.all.length + 1;
    let skip = avoid;
    let refused = false;
    /** The best of the poor choices: tried before or unhealthy, used only when nothing better exists. */
    let unhealthy: Instance | undefined;
    for (let i = 0; i < tries; i++) {
      const instance = instances.pick(key, skip);
      if (instance === undefined) break;
      skip = instance;
      if (
        avoid !== undefined &&
        (instance === avoid || instance === triedBefore || !instance.available || instance.probation)
      ) {
        unhealthy ??= instance;
        continue;
      }
      if (!breakers || (this.breakerOf(instance) as CircuitBreaker).tryAcquire()) return instance;
      refused = true;
    }
    if (
      unhealthy !== undefined &&
      (!breakers || (this.breakerOf(unhealthy) as CircuitBreaker).tryAcquire())
    ) {
      return unhealthy;
    }
    return refused ? null : undefined;
  }

  /** Forgets breakers of instances that left the service. */
  prune(keep: ReadonlySet<string>): void {
    for (const id of this.#instanceBreakers.keys()) if (!keep.has(id)) this.#instanceBreakers.delete(id);
  }

  /** Forgets the breaker of one instance that left the service (its metric series goes with it). */
  forget(instance: string): void {
    this.#instanceBreakers.delete(instance);
  }

  /** How many instance breakers are held (tests, diagnostics). */
  get breakerCount(): number {
    return this.#instanceBreakers.size;
  }

  snapshot(): ServiceResilienceSnapshot {
    const instances: Record<string, BreakerSnapshot> = {};
    for (const [id, breaker] of this.#instanceBreakers) instances[id] = breaker.snapshot();
    const bulkhead = this.bulkhead;
    return {
      service: this.service,
      breaker: this.#breakerConfig === undefined ? undefined : { state: this.#serviceState(instances) },
      instances,
      bulkhead:
        bulkhead === undefined
          ? undefined
          : { active: bulkhead.active, queued: bulkhead.queued, maxConcurrent: bulkhead.maxConcurrent },
      retryBudget: this.retryBudget?.snapshot(),
    };
  }

  #serviceState(instances: Readonly<Record<string, BreakerSnapshot>>): BreakerState {
    let open = 0;
    let halfOpen = 0;
    let total = 0;
    for (const id in instances) {
      total++;
      const state = (instances[id] as BreakerSnapshot).state;
      if (state === 'open') open++;
      else if (state === 'half-open') halfOpen++;
    }
    if (total === 0 || open + halfOpen < total) return 'closed';
    return halfOpen > 0 ? 'half-open' : 'open';
  }

  /** Instance breakers with their ids (metrics). */
  instanceBreakers(): IterableIterator<[string, CircuitBreaker]> {
    return this.#instanceBreakers.entries();
  }

  #createBreaker(instance: string): CircuitBreaker {
    const config = this.#breakerConfig as NonNullable<ServiceConfig['circuitBreaker']>;
    const listener = this.#options.onBreakerTransition;
    const service = this.service;
    return new CircuitBreaker({
      failureRate: config.failureRate,
      minRequests: config.minRequests,
      windowMs: parseDurationMs(config.window),
      openForMs: parseDurationMs(config.openFor),
      halfOpenProbes: config.halfOpenProbes,
      clock: this.#options.clock,
      onTransition: listener === undefined ? undefined : (from, to) => listener(service, instance, from, to),
    });
  }
}

/** Whether a service needs the resilient proxy path at all (decided once at compile time). */
export function hasResilience(config: ServiceConfig): boolean {
  return (
    (config.retries !== undefined && config.retries.attempts > 0) ||
    config.circuitBreaker !== undefined ||
    config.bulkhead !== undefined
  );
}

/**
 * What decides whether a reload keeps a service's resilience state: its retries, breaker and bulkhead
 * settings. Equal fingerprints keep breaker states, bulkhead slots in use and the retry budget.
 */
export function resilienceFingerprint(config: ServiceConfig): string {
  return JSON.stringify([config.retries, config.circuitBreaker, config.bulkhead]);
}

/** What {@link pruneBreakers} reads of a compiled service. */
export interface PrunableService {
  readonly instances: InstanceSet;
  readonly resilience: ServiceResilience | undefined;
}

/**
 * Forgets the breakers of instances that left the services of a table now serving (a reload that removed static
 * instances, or registry changes missed while no table was live).
 */
export function pruneBreakers(services: ReadonlyMap<string, PrunableService>): void {
  for (const service of services.values()) {
    const resilience = service.resilience;
    if (resilience === undefined || resilience.breakerCount === 0) continue;
    const keep = new Set<string>();
    for (const instance of service.instances.all) keep.add(instance.id);
    resilience.prune(keep);
  }
}

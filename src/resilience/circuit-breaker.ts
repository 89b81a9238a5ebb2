import { systemClock, type Clock } from './clock.ts';
import { RollingCounts } from './rolling-counts.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Share of failed calls in the window (0..1) that opens the breaker. */
  readonly failureRate: number;
  /** Calls in the window before the rate is judged, so two early failures do not open it. */
  readonly minRequests: number;
  readonly windowMs: number;
  /** How long an open breaker refuses calls before letting probes through. */
  readonly openForMs: number;
  /** Probes allowed at once while half-open; that many successes close the breaker (default 1). */
  readonly halfOpenProbes?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Called on every state change (logs, metrics); must not throw. */
  readonly onTransition?: ((from: BreakerState, to: BreakerState) => void) | undefined;
}

/** What the admin API and /metrics show of a breaker. */
export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly requests: number;
  readonly failures: number;
  /** When the breaker last opened (ms since the epoch), or undefined. */
  readonly openedAt: number | undefined;
  /** Times the breaker opened since it was created. */
  readonly opened: number;
}

/**
 * A circuit breaker judged on the failure rate over a sliding window: closed lets every call through and
 * counts outcomes; once at least `minRequests` calls were seen and `failureRate` of them failed it opens and
 * refuses calls for `openForMs`; then it is half-open and lets `halfOpenProbes` calls through: their
 * success closes it, a failure opens it again.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureRate: 0.5, minRequests: 10, windowMs: 10_000, openForMs: 5_000 });
 * if (!breaker.tryAcquire()) throw new BrokenCircuitError();
 * try { await call(); breaker.record(true); } catch (err) { breaker.record(false); throw err; }
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #clock: Clock;
  readonly #counts: RollingCounts;
  readonly #probes: number;
  #state: BreakerState = 'closed';
  #openedAt: number | undefined = undefined;
  #opened = 0;
  #probesInFlight = 0;
  #probeSuccesses = 0;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#counts = new RollingCounts(options.windowMs, this.#clock);
    this.#probes = Math.max(1, options.halfOpenProbes ?? 1);
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#clock() - (this.#openedAt as number) >= this.#options.openForMs) {
      this.#transition('half-open');
    }
    return this.#state;
  }

  /** Whether a call may go now, without taking a probe slot (for choosing among instances). */
  get allows(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && this.#probesInFlight < this.#probes);
  }

  /**
   * Asks to make a call: true when closed, or when half-open with a probe slot free (the slot is taken
   * until `record`). Every granted call must be followed by exactly one `record` or `release`.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probesInFlight >= this.#probes) return false;
    this.#probesInFlight++;
    return true;
  }

  /** Gives back a granted call that was never made (cancelled before it started). */
  release(): void {
    if (this.#state === 'half-open' && this.#probesInFlight > 0) this.#probesInFlight--;
  }

  /** Records the outcome of a granted call. */
  record(success: boolean): void {
    const state = this.state;
    if (state === 'open') return;
    if (state === 'half-open') {
      if (this.#probesInFlight > 0) this.#probesInFlight--;
      if (!success) return this.#open();
      if (++this.#probeSuccesses >= this.#probes) this.#close();
      return;
    }
    this.#counts.add(!success);
    if (success) return;
    const total = this.#counts.total;
    if (total >= this.#options.minRequests && this.#counts.marked / total >= this.#options.failureRate) {
      this.#open();
    }
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.state,
      requests: this.#counts.total,
      failures: this.#counts.marked,
      openedAt: this.#openedAt,
      opened: this.#opened,
    };
  }

  #open(): void {
    this.#openedAt = this.#clock();
    this.#opened++;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    this.#transition('open');
  }

  #close(): void {
    this.#counts.reset();
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    this.#transition('closed');
  }

  #transition(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#options.onTransition?.(from, to);
  }
}

/** Thrown (by callers such as the SDK client) when a breaker refuses a call. */
export class BrokenCircuitError extends Error {
  readonly code = 'circuit_open';
  constructor(message = 'the circuit breaker is open') {
    super(message);
    this.name = 'BrokenCircuitError';
  }
}

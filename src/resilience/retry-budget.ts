import { systemClock, type Clock } from './clock.ts';
import { RollingCounts } from './rolling-counts.ts';

export interface RetryBudgetOptions {
  /** Largest share of retries among the calls of the window (0..1). */
  readonly ratio: number;
  /** Retries always allowed per window, so a quiet service can still retry. */
  readonly minRetries: number;
  readonly windowMs: number;
  readonly clock?: Clock | undefined;
}

/**
 * Caps retries to a share of the traffic (like Finagle's and Envoy's retry budgets): when every instance
 * fails, retries add at most `ratio` more load instead of multiplying it by the number of attempts.
 *
 * @example
 * const budget = new RetryBudget({ ratio: 0.2, minRetries: 10, windowMs: 10_000 });
 * budget.recordCall();            // every first try
 * if (budget.tryRetry()) retry(); // every retry asks first
 */
export class RetryBudget {
  readonly #options: RetryBudgetOptions;
  readonly #counts: RollingCounts;

  constructor(options: RetryBudgetOptions) {
    this.#options = options;
    this.#counts = new RollingCounts(options.windowMs, options.clock ?? systemClock);
  }

  /** Counts a first try. */
  recordCall(): void {
    this.#counts.add(false);
  }

  /** Takes a retry from the budget; false when the budget is spent (do not retry). */
  tryRetry(): boolean {
    const retries = this.#counts.marked;
    const calls = this.#counts.total - retries;
    if (retries >= Math.max(this.#options.minRetries, calls * this.#options.ratio)) return false;
    this.#counts.add(true);
    return true;
  }

  /** Retries and first tries in the window (admin API). */
  snapshot(): { calls: number; retries: number } {
    const retries = this.#counts.marked;
    return { calls: this.#counts.total - retries, retries };
  }
}

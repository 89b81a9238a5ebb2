import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { systemRandom, type Random } from './clock.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetryKind, TryFailure } from './upstream-failure.ts';

export interface RetryPolicyOptions {
  /** Retries after the first try. */
  readonly attempts: number;
  /** Retry on connect failures: a refused connection, and a reset before any response byte was kept. */
  readonly onConnectFailure: boolean;
  /** Retry on a timed-out try (only for methods allowed to repeat). */
  readonly onTimeout?: boolean | undefined;
  /** Upstream statuses that allow a retry. */
  readonly statuses: readonly number[];
  /** Methods that may be retried (upper case); by default the idempotent ones of RFC 9110 §9.2.2. */
  readonly methods?: readonly string[] | undefined;
  readonly backoff?: BackoffOptions | undefined;
  readonly budget?: RetryBudget | undefined;
  readonly random?: Random | undefined;
}

/** RFC 9110 §9.2.2: repeating these has the same effect as sending them once. */
export const idempotentMethods: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'];

const defaultBackoff: BackoffOptions = { baseMs: 25, maxMs: 1_000 };

/**
 * Decides whether and when a failed try is tried again. Pure decisions, no I/O: the gateway's proxy and
 * aggregate calls and the SDK client all ask it the same questions.
 *
 * @example
 * const policy = new RetryPolicy({ attempts: 2, onConnectFailure: true, statuses: [502, 503, 504] });
 * if (policy.allowsRetryOf('GET', 'sent') && policy.shouldRetry(retriesSoFar, 'status', 503)) await sleep(policy.delayMs(retriesSoFar));
 */
export class RetryPolicy {
  readonly attempts: number;
  readonly #onConnectFailure: boolean;
  readonly #onTimeout: boolean;
  readonly #statuses: Uint8Array;
  readonly #methods: ReadonlySet<string>;
  readonly #backoff: BackoffOptions;
  readonly #budget: RetryBudget | undefined;
  readonly #random: Random;

  constructor(options: RetryPolicyOptions) {
    this.attempts = options.attempts;
    this.#onConnectFailure = options.onConnectFailure;
    this.#onTimeout = options.onTimeout ?? false;
    this.#statuses = new Uint8Array(600);
    for (const status of options.statuses) if (status >= 0 && status < 600) this.#statuses[status] = 1;
    this.#methods = new Set(options.methods ?? idempotentMethods);
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#budget = options.budget;
    this.#random = options.random ?? systemRandom;
  }

  allowsMethod(method: string): boolean {
    return this.#methods.has(method);
  }

  /**
   * Whether a request with this method may be tried again after a failure of this kind: one that never reached
   * an instance (`unsent`) whatever the method, one that may have (`sent`) only when the method may repeat.
   */
  allowsRetryOf(method: string, kind: RetryKind): boolean {
    if (kind === 'unsent') return true;
    return kind === 'sent' && this.#methods.has(method);
  }

  /** Whether a status answer may be retried (before asking the budget). */
  retriesStatus(status: number): boolean {
    return this.#statuses[status] === 1;
  }

  /** Counts a first try against the retry budget. */
  recordCall(): void {
    this.#budget?.recordCall();
  }

  /**
   * Whether try number `retry + 1` may follow a failure; takes the retry from the budget when it says yes.
   * `retry` counts the retries already made.
   */
  shouldRetry(retry: number, failure: TryFailure, status = 0): boolean {
    if (retry >= this.attempts) return false;
    let wanted: boolean;
    if (failure === 'reset' || failure === 'refused') wanted = this.#onConnectFailure;
    else if (failure === 'timeout') wanted = this.#onTimeout;
    else if (failure === 'status') wanted = this.retriesStatus(status);
    else wanted = false;
    if (!wanted) return false;
    return this.#budget === undefined || failure === 'refused' || this.#budget.tryRetry();
  }

  /** Backoff before retry number `retry + 1`. */
  delayMs(retry: number): number {
    return backoffDelayMs(retry, this.#backoff, this.#random);
  }
}

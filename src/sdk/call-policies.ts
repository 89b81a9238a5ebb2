import type { Bulkhead } from '../resilience/bulkhead.ts';
import { BrokenCircuitError, type CircuitBreaker } from '../resilience/circuit-breaker.ts';
import { tryTimeoutMs } from '../resilience/deadline.ts';
import type { RetryPolicy, TryFailure } from '../resilience/retry-policy.ts';
import { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { CallTimeoutError } from './call-timeout-error.ts';

/** The resilience of one called service: the gateway's own modules from `src/resilience/`, composed per call. */
export interface CallPolicies {
  readonly retry?: RetryPolicy | undefined;
  readonly breaker?: CircuitBreaker | undefined;
  readonly bulkhead?: Bulkhead | undefined;
  /** Per-try timeout; 0 means none. */
  readonly tryTimeoutMs: number;
  /** Overall deadline across tries and backoff; 0 means none. */
  readonly deadlineMs: number;
  readonly clock?: (() => number) | undefined;
}

/** What one try produced: an answer (any status), or a failure classified for the retry policy. */
export type TryOutcome<R> =
  | { readonly ok: true; readonly status: number; readonly value: R }
  /** `failure: 'refused'`: nothing reached the service, so it is safe to retry whatever the method. */
  | { readonly ok: false; readonly failure: TryFailure; readonly error: Error };

/**
 * Runs `tryOnce` under the policies: bulkhead → breaker → tries with per-try timeouts inside an overall
 * deadline, retried (with backoff) as the retry policy allows. Resolves with the last answer (a 503 that
 * could not be retried away is still an answer); rejects with the last failure otherwise.
 *
 * @example
 * const answer = await callWithPolicies(policies, 'GET', (tryIndex, timeoutMs) => sendOnce(tryIndex, timeoutMs));
 */
export async function callWithPolicies<R>(
  policies: CallPolicies,
  method: string,
  tryOnce: (tryIndex: number, timeoutMs: number) => Promise<TryOutcome<R>>,
): Promise<R> {
  const { retry, breaker, bulkhead } = policies;
  if (bulkhead !== undefined && !bulkhead.tryAcquire()) throw new BulkheadRejectedError();
  try {
    const clock = policies.clock ?? Date.now;
    const deadlineAt = policies.deadlineMs > 0 ? clock() + policies.deadlineMs : 0;
    retry?.recordCall();
    for (let tryIndex = 0; ; tryIndex++) {
      const timeoutMs = tryTimeoutMs(policies.tryTimeoutMs, deadlineAt, clock());
      if (timeoutMs < 0) throw new CallTimeoutError('the call deadline passed');
      if (breaker !== undefined && !breaker.tryAcquire()) throw new BrokenCircuitError();
      let outcome: TryOutcome<R>;
      try {
        outcome = await tryOnce(tryIndex, timeoutMs);
      } catch (err) {
        breaker?.release();
        throw err;
      }
      breaker?.record(outcome.ok && outcome.status < 500);
      const failure = outcome.ok ? 'status' : outcome.failure;
      const status = outcome.ok ? outcome.status : 0;
      const retryable =
        retry !== undefined &&
        (outcome.ok ? status >= 500 : true) &&
        (retry.allowsMethod(method) || failure === 'refused') &&
        retry.shouldRetry(tryIndex, failure, status);
      if (!retryable) {
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      }
      const wait = retry.delayMs(tryIndex);
      if (deadlineAt !== 0 && clock() + wait >= deadlineAt) {
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  } finally {
    bulkhead?.release();
  }
}

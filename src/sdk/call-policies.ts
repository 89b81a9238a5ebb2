import { BulkheadRejectedError, type Bulkhead } from '../resilience/bulkhead.ts';
import { BrokenCircuitError, type CircuitBreaker } from '../resilience/circuit-breaker.ts';
import type { Clock } from '../resilience/clock.ts';
import { retryLoop, sleep, type TryResult } from '../resilience/retry-loop.ts';
import type { RetryPolicy } from '../resilience/retry-policy.ts';
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
  readonly clock?: Clock | undefined;
  /** Waits between tries (a timer by default; a fake clock's step in tests). */
  readonly sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
}

/**
 * What one try produced: an answer (any status), or a failure read by `classifyUpstreamFailure` (a refused
 * connection reached nothing, so it is retried whatever the method, as in the gateway).
 */
export type TryOutcome<R> = TryResult<R>;

function deadlinePassed(): Error {
  return new CallTimeoutError('the call deadline passed');
}

/**
 * Runs `tryOnce` under the policies, outermost first: bulkhead → the retry loop of `src/resilience/retry-loop.ts`
 * (per-try timeouts inside an overall deadline, backoff, budget) → the breaker around each try. Resolves with
 * the last answer (a 503 that could not be retried away is still an answer); rejects with the last failure
 * otherwise.
 *
 * @example
 * const answer = await callWithPolicies(policies, 'GET', (tryIndex, timeoutMs) => sendOnce(tryIndex, timeoutMs));
 */
export async function callWithPolicies<R>(
  policies: CallPolicies,
  method: string,
  tryOnce: (tryIndex: number, timeoutMs: number) => Promise<TryOutcome<R>>,
): Promise<R> {
  const { breaker, bulkhead } = policies;
  if (bulkhead !== undefined && !bulkhead.tryAcquire()) throw new BulkheadRejectedError();
  try {
    return await retryLoop(
      {
        policy: policies.retry,
        method,
        tryTimeoutMs: policies.tryTimeoutMs,
        deadlineMs: policies.deadlineMs,
        clock: policies.clock ?? Date.now,
        sleep: policies.sleep ?? sleep,
        deadlineError: deadlinePassed,
      },
      breaker === undefined
        ? tryOnce
        : (tryIndex, timeoutMs) => {
            if (!breaker.tryAcquire()) throw new BrokenCircuitError();
            return throughBreaker(breaker, () => tryOnce(tryIndex, timeoutMs));
          },
    );
  } finally {
    bulkhead?.release();
  }
}

/**
 * Runs one try whose breaker slot is already taken (`tryAcquire` returned true) and records its outcome: 5xx
 * answers and upstream failures count against the breaker; a try that threw, or a failure the breaker ignores,
 * gives the slot back. `breaker` undefined runs the try alone.
 */
export async function throughBreaker<R>(
  breaker: CircuitBreaker | undefined,
  tryOnce: () => Promise<TryOutcome<R>>,
): Promise<TryOutcome<R>> {
  if (breaker === undefined) return tryOnce();
  let outcome: TryOutcome<R>;
  try {
    outcome = await tryOnce();
  } catch (err) {
    breaker.release();
    throw err;
  }
  if (outcome.ok) breaker.record(outcome.status < 500);
  else if (outcome.failure.breaker === 'failure') breaker.record(false);
  else breaker.release();
  return outcome;
}

import type { Clock } from './clock.ts';
import { tryTimeoutMs } from './deadline.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { UpstreamFailure } from './upstream-failure.ts';

/** {@link nextRetryDelayMs}'s answer when the failed try is the last one. */
export const noRetry = -1;

/** How a status answer reads for retrying: the instance saw the request; the policy's status list decides. */
export const statusAnswer: UpstreamFailure = Object.freeze({
  code: 'upstream_status',
  failure: 'status',
  retryKind: 'sent',
  breaker: 'ignore',
  kind: undefined,
});

/**
 * The one retry decision, shared by every caller (the proxy drives it from its timers, {@link retryLoop}
 * awaits it): after a failed try, the backoff before the next one in ms, or {@link noRetry}. In order: the kind
 * of failure (`none` never retries), the attempts left, the method (`unsent` failures retry whatever the method,
 * `sent` ones only methods that may repeat), the policy's conditions, the deadline (a retry whose backoff would
 * end at or after `deadlineAt` is not started; 0 = no deadline), and last the retry budget, charged only for a
 * retry that will really be made (and never for a refused connection).
 *
 * @example
 * const delay = nextRetryDelayMs(policy, retries, 'GET', classifyUpstreamFailure(err.code), 0, deadlineAt, clock());
 * if (delay !== noRetry) setTimeout(tryAgain, delay);
 */
export function nextRetryDelayMs(
  policy: RetryPolicy,
  retries: number,
  method: string,
  failure: UpstreamFailure,
  status: number,
  deadlineAt: number,
  now: number,
): number {
  if (retries >= policy.attempts || !policy.allowsRetryOf(method, failure.retryKind)) return noRetry;
  if (failure.failure === 'status' && !policy.retriesStatus(status)) return noRetry;
  const delayMs = policy.delayMs(retries);
  if (deadlineAt !== 0 && now + delayMs >= deadlineAt) return noRetry;
  return policy.shouldRetry(retries, failure.failure, status) ? delayMs : noRetry;
}

/** What one try produced: an answer (any status), or a classified failure. */
export type TryResult<R> =
  | { readonly ok: true; readonly status: number; readonly value: R }
  | { readonly ok: false; readonly failure: UpstreamFailure; readonly error: Error };

export interface RetryLoopOptions {
  /** No policy: exactly one try. */
  readonly policy?: RetryPolicy | undefined;
  readonly method: string;
  /** Per-try timeout handed to each try, cut to what is left of the deadline; 0 = none. */
  readonly tryTimeoutMs: number;
  /** Overall deadline across tries and backoffs, from the loop's start; 0 = none. */
  readonly deadlineMs: number;
  readonly clock: Clock;
  /** Waits `ms` (a timer in production, a step of the fake clock in tests); rejects when `signal` aborts. */
  readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** Ends the loop between tries; the rejection is the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** The error thrown when the deadline passed before a try could start. */
  readonly deadlineError: () => Error;
}

/**
 * The retry loop of the SDK client and the gateway's aggregate calls: tries `tryOnce` (with its attempt index,
 * from 0, and its time limit), and after a failed try asks {@link nextRetryDelayMs} whether to wait and try
 * again. Resolves with the value of the last answer (a status that could not be retried away is still an
 * answer); rejects with the last failure's error, the deadline error, or the abort reason. The budget counts
 * the call once, when the loop starts.
 *
 * @example
 * const answer = await retryLoop({ policy, method: 'GET', tryTimeoutMs: 1_000, deadlineMs: 5_000, clock: Date.now, sleep, deadlineError }, sendOnce);
 */
export async function retryLoop<R>(
  options: RetryLoopOptions,
  tryOnce: (attempt: number, timeoutMs: number) => Promise<TryResult<R>>,
): Promise<R> {
  const { policy, clock, signal } = options;
  const deadlineAt = options.deadlineMs > 0 ? clock() + options.deadlineMs : 0;
  policy?.recordCall();
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted === true) throw signal.reason as Error;
    const timeoutMs = tryTimeoutMs(options.tryTimeoutMs, deadlineAt, clock());
    if (timeoutMs < 0) throw options.deadlineError();
    const result = await tryOnce(attempt, timeoutMs);
    const delayMs =
      policy === undefined
        ? noRetry
        : result.ok
          ? nextRetryDelayMs(
              policy,
              attempt,
              options.method,
              statusAnswer,
              result.status,
              deadlineAt,
              clock(),
            )
          : nextRetryDelayMs(policy, attempt, options.method, result.failure, 0, deadlineAt, clock());
    if (delayMs === noRetry) {
      if (result.ok) return result.value;
      throw result.error;
    }
    await options.sleep(delayMs, signal);
  }
}

/**
 * A timer as a promise for {@link retryLoop}: resolves after `ms`, rejects with the signal's reason when it
 * aborts first.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal === undefined) {
      setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

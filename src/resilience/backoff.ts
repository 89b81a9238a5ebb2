import type { Random } from './clock.ts';

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  readonly baseMs: number;
  /** Largest delay, before jitter. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half of `base * 2^retry` (capped) is fixed and the other half
 * random, so retries never fire together yet always wait a little. `retry` counts from 0.
 *
 * @example
 * backoffDelayMs(0, { baseMs: 25, maxMs: 1000 }, Math.random); // 12.5 .. 25
 * backoffDelayMs(3, { baseMs: 25, maxMs: 1000 }, Math.random); // 100 .. 200
 */
export function backoffDelayMs(retry: number, options: BackoffOptions, random: Random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(retry, 30));
  const half = ceiling / 2;
  return half + random() * half;
}

/**
 * Rate limiting uses GCRA (the generic cell rate algorithm, a token bucket stored as one timestamp): a limit of
 * `limit` per `window` lets a burst of `limit` requests through at once and then one every `window / limit`.
 * A bucket's whole state is its "theoretical arrival time" (TAT), so the local store keeps one number per key
 * and the Redis store one string per key, updated by a single script. All times are integer microseconds so
 * the local and the Redis implementations compute the same answers.
 */

/** The shape of one limit: the emission interval and the burst it allows. */
export interface BucketShape {
  /** `window / limit` in whole microseconds (at least 1). */
  readonly intervalUs: number;
  readonly limit: number;
  /**
   * `onStoreFailure: local`: while the shared store is unreachable, this process enforces its own share of the
   * limit in memory (see {@link localShareShape}). Otherwise the store's failure is the caller's to handle.
   */
  readonly localFallback?: boolean | undefined;
  /** With `localFallback`: the share in requests per window, instead of `limit / processes`. */
  readonly localLimit?: number | undefined;
  /** `onStoreFailure: closed`: while the shared store is unreachable, requests drawing from this limit are refused. */
  readonly failClosed?: boolean | undefined;
}

/** What one request got from every bucket it draws from. */
export interface RateLimitOutcome {
  /** True when every bucket had room; a refused request takes nothing from any bucket. */
  readonly allowed: boolean;
  /** Microseconds until the request would be allowed (0 when allowed). */
  readonly retryAfterUs: number;
  /** Requests left in each bucket, in the order of the keys. */
  readonly remaining: readonly number[];
  /** Microseconds until each bucket is full again. */
  readonly resetUs: readonly number[];
}

/** A store of buckets: local memory or Redis. Implementations run the same contract tests. */
export interface RateLimiter {
  readonly kind: 'local' | 'redis';
  /** Takes one request from every bucket if all have room, atomically; otherwise takes nothing. */
  consume(
    keys: readonly string[],
    shapes: readonly BucketShape[],
  ): RateLimitOutcome | Promise<RateLimitOutcome>;
}

/** The emission interval of `limit` requests per `windowMs`, in whole microseconds. */
export function bucketShape(limit: number, windowMs: number): BucketShape {
  return { intervalUs: Math.max(1, Math.floor((windowMs * 1000) / limit)), limit };
}

/**
 * The shape of one process's share of a limit for `onStoreFailure: local`: `localLimit` per window when set,
 * else `limit / processes` (at least 1), where `processes` counts every process enforcing its own share
 * (nodes × workers). Same window, so a share is exactly as far from full as the whole bucket it mirrors.
 */
export function localShareShape(shape: BucketShape, processes: number): BucketShape {
  const share = shape.localLimit ?? Math.max(1, Math.floor(shape.limit / Math.max(1, processes)));
  return { intervalUs: Math.max(1, Math.floor((shape.intervalUs * shape.limit) / share)), limit: share };
}

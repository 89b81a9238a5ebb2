import type { BucketShape, RateLimitOutcome, RateLimiter } from './rate-limiter.ts';

/** Options of {@link createLocalRateLimiter}. */
export interface LocalRateLimiterOptions {
  /** Current time in ms (fractions allowed); `performance.now` style clocks work as well as `Date.now`. */
  readonly now: () => number;
}

/** The in-memory limiter: answers synchronously. */
export interface LocalRateLimiter extends RateLimiter {
  consume(keys: readonly string[], shapes: readonly BucketShape[]): RateLimitOutcome;
  /** Buckets held. */
  readonly size: number;
  /** Sets a bucket so it is full for `leadUs` more microseconds (its TAT is now + leadUs), e.g. from a shared store. */
  prime(key: string, leadUs: number): void;
  /** Empties every bucket and answers those still holding requests, as `[key, leadUs]`. */
  drain(): [key: string, leadUs: number][];
}

/** A quiet map is still swept this often, so a past burst of keys does not stay in memory. */
const sweepIntervalUs = 60e6;

/**
 * GCRA buckets in this process's memory (one node). Buckets whose TAT has passed are full and carry no
 * information, so they are swept once the map has doubled since the last sweep or a minute has passed:
 * memory stays proportional to the keys active within one window.
 *
 * @example
 * const limiter = createLocalRateLimiter({ now: Date.now });
 * limiter.consume(['ip:10.0.0.1'], [bucketShape(100, 60_000)]).allowed; // true
 */
export function createLocalRateLimiter(options: LocalRateLimiterOptions): LocalRateLimiter {
  const tats = new Map<string, number>();
  let sweepAt = 1024;
  let sweptAt = 0;

  function sweep(now: number): void {
    for (const [key, tat] of tats) if (tat <= now) tats.delete(key);
    sweepAt = Math.max(1024, tats.size * 2);
    sweptAt = now;
  }

  return {
    kind: 'local',
    get size() {
      return tats.size;
    },
    prime(key, leadUs) {
      const now = Math.round(options.now() * 1000);
      if (tats.size >= sweepAt) sweep(now);
      tats.set(key, now + leadUs);
    },
    drain() {
      const now = Math.round(options.now() * 1000);
      const out: [string, number][] = [];
      for (const [key, tat] of tats) if (tat > now) out.push([key, tat - now]);
      tats.clear();
      sweepAt = 1024;
      return out;
    },
    consume(keys: readonly string[], shapes: readonly BucketShape[]): RateLimitOutcome {
      const now = Math.round(options.now() * 1000);
      if (tats.size >= sweepAt || (tats.size > 1024 && now - sweptAt > sweepIntervalUs)) sweep(now);
      const n = keys.length;
      const remaining = new Array<number>(n);
      const resetUs = new Array<number>(n);
      let allowed = true;
      let retryAfterUs = 0;
      for (let i = 0; i < n; i++) {
        const { intervalUs, limit } = shapes[i] as BucketShape;
        const tolerance = intervalUs * limit;
        const stored = tats.get(keys[i] as string);
        const tat = stored === undefined || stored < now ? now : stored;
        const diff = tat + intervalUs - now;
        if (diff > tolerance) {
          allowed = false;
          if (diff - tolerance > retryAfterUs) retryAfterUs = diff - tolerance;
        }
        remaining[i] = diff > tolerance ? 0 : Math.floor((tolerance - diff) / intervalUs);
        resetUs[i] = diff > tolerance ? tat - now : diff;
      }
      // When allowed, every reset is `tat + intervalUs - now`: the new TAT without a second lookup per key.
      if (allowed) for (let i = 0; i < n; i++) tats.set(keys[i] as string, now + (resetUs[i] as number));
      return { allowed, retryAfterUs, remaining, resetUs };
    },
  };
}

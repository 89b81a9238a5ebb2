import type { Clock } from './clock.ts';

const bucketCount = 10;

/**
 * Two counters (total and marked) over a sliding window, kept in ten buckets so recording is O(1) and
 * allocates nothing. Old buckets are cleared lazily when time moves on.
 */
export class RollingCounts {
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #totals = new Float64Array(bucketCount);
  readonly #marked = new Float64Array(bucketCount);
  #bucket = 0;
  #total = 0;
  #markedTotal = 0;

  constructor(windowMs: number, clock: Clock) {
    this.#clock = clock;
    this.#bucketMs = Math.max(1, windowMs / bucketCount);
    this.#bucket = Math.floor(clock() / this.#bucketMs);
  }

  /** Counts one event; `marked` also counts it as marked (a failure, a retry). */
  add(marked: boolean): void {
    const index = this.#advance();
    this.#totals[index] = (this.#totals[index] as number) + 1;
    this.#total++;
    if (marked) {
      this.#marked[index] = (this.#marked[index] as number) + 1;
      this.#markedTotal++;
    }
  }

  /** Events in the window. */
  get total(): number {
    this.#advance();
    return this.#total;
  }

  /** Marked events in the window. */
  get marked(): number {
    this.#advance();
    return this.#markedTotal;
  }

  reset(): void {
    this.#totals.fill(0);
    this.#marked.fill(0);
    this.#total = 0;
    this.#markedTotal = 0;
  }

  /** Clears the buckets time has left behind; returns the index of the current one. */
  #advance(): number {
    const now = Math.floor(this.#clock() / this.#bucketMs);
    const passed = now - this.#bucket;
    if (passed > 0) {
      if (passed >= bucketCount) this.reset();
      else {
        for (let i = 1; i <= passed; i++) {
          const index = (this.#bucket + i) % bucketCount;
          this.#total -= this.#totals[index] as number;
          this.#markedTotal -= this.#marked[index] as number;
          this.#totals[index] = 0;
          this.#marked[index] = 0;
        }
      }
      this.#bucket = now;
    }
    return ((now % bucketCount) + bucketCount) % bucketCount;
  }
}

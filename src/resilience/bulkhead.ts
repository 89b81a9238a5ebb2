/** A request waiting in a bulkhead's queue; `granted` is called when a slot frees up for it. */
export interface BulkheadWaiter {
  granted(): void;
}

export interface BulkheadOptions {
  /** Calls allowed at once. */
  readonly maxConcurrent: number;
  /** Calls allowed to wait for a slot; more are refused at once (default 0). */
  readonly queue?: number | undefined;
}

/**
 * A concurrency limit with an optional bounded queue: beyond `maxConcurrent + queue` calls are refused at
 * once, so one slow dependency cannot hold every socket and every byte of memory. Callback based (no promise
 * per call) for the gateway's hot path; `acquire` wraps it in a promise for the SDK client.
 *
 * @example
 * const bulkhead = new Bulkhead({ maxConcurrent: 200, queue: 0 });
 * if (!bulkhead.tryAcquire()) throw new BulkheadRejectedError();
 * try { await call(); } finally { bulkhead.release(); }
 */
export class Bulkhead {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  #active = 0;
  readonly #waiting: BulkheadWaiter[] = [];

  constructor(options: BulkheadOptions) {
    this.maxConcurrent = options.maxConcurrent;
    this.maxQueue = options.queue ?? 0;
  }

  /** Calls holding a slot. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Takes a slot when one is free. */
  tryAcquire(): boolean {
    if (this.#active >= this.maxConcurrent) return false;
    this.#active++;
    return true;
  }

  /**
   * Queues `waiter` for the next free slot; false when the queue is full (refuse the call). A granted
   * waiter holds a slot and must `release` it.
   */
  enqueue(waiter: BulkheadWaiter): boolean {
    if (this.#waiting.length >= this.maxQueue) return false;
    this.#waiting.push(waiter);
    return true;
  }

  /** Removes a waiter that gave up (its client left, its deadline passed); true when it was still queued. */
  cancel(waiter: BulkheadWaiter): boolean {
    const index = this.#waiting.indexOf(waiter);
    if (index < 0) return false;
    this.#waiting.splice(index, 1);
    return true;
  }

  /** Frees a slot, handing it straight to the oldest waiter when there is one. */
  release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) {
      if (this.#active > 0) this.#active--;
      return;
    }
    next.granted();
  }

  /** Resolves once a slot is held (call `release` after); rejects with BulkheadRejectedError when full. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (!this.enqueue({ granted: resolve })) reject(new BulkheadRejectedError());
    });
  }
}

/** The bulkhead is full: the call was refused without waiting. */
export class BulkheadRejectedError extends Error {
  readonly code = 'overloaded';
  constructor(message = 'too many concurrent calls') {
    super(message);
    this.name = 'BulkheadRejectedError';
  }
}

import { PorticoError } from '../errors/portico-error.ts';
import type { LocalRateLimiter } from './local-rate-limiter.ts';
import type { BucketShape, RateLimitOutcome, RateLimiter } from './rate-limiter.ts';

/**
 * One batch of `consume` calls on the wire: per call its keys, and its shapes flattened as
 * `[intervalUs, limit, intervalUs, limit, …]` (numbers serialise faster than objects).
 */
export type RateLimitBatch = readonly (readonly [keys: readonly string[], shapes: readonly number[]])[];

/** The answers to a batch, in order: `[allowed (1/0), retryAfterUs, remaining[], resetUs[]]`. */
export type RateLimitAnswers = readonly (readonly [
  allowed: number,
  retryAfterUs: number,
  remaining: readonly number[],
  resetUs: readonly number[],
])[];

/** Options of {@link createClusterRateLimiter}. */
export interface ClusterRateLimiterOptions {
  /** Sends a batch to the process holding the buckets and resolves with its answers. */
  readonly send: (batch: RateLimitBatch) => Promise<RateLimitAnswers>;
}

/** The worker side of the node-wide limiter. */
export interface ClusterRateLimiter extends RateLimiter {
  consume(keys: readonly string[], shapes: readonly BucketShape[]): Promise<RateLimitOutcome>;
  /** Calls waiting for an answer (tests, metrics). */
  readonly pending: number;
}

interface Waiting {
  resolve(outcome: RateLimitOutcome): void;
  reject(err: unknown): void;
}

/**
 * A limiter whose buckets live in another process (the cluster primary), so `workers: N` share one budget:
 * a limit of 100/min is 100/min for the node. Calls made during one turn of the event loop travel as one
 * batch (flushed by `setImmediate`), so a busy worker pays one IPC round trip per loop turn, not per request;
 * the request waits asynchronously and the event loop never blocks. If the primary cannot answer, calls fail
 * with `store_unavailable`, which the rate-limit stage turns into fail-open or fail-closed per limit.
 *
 * @example
 * const limiter = createClusterRateLimiter({ send: (batch) => peer.request('rate-limit', batch) });
 * await limiter.consume(['ip:10.0.0.1'], [bucketShape(100, 60_000)]);
 */
export function createClusterRateLimiter(options: ClusterRateLimiterOptions): ClusterRateLimiter {
  let batch: [readonly string[], number[]][] = [];
  let waiting: Waiting[] = [];
  let scheduled = false;
  let inFlight = 0;

  function flush(): void {
    scheduled = false;
    const sent = batch;
    const waiters = waiting;
    batch = [];
    waiting = [];
    inFlight += waiters.length;
    options.send(sent).then(
      (answers) => {
        inFlight -= waiters.length;
        for (let i = 0; i < waiters.length; i++) {
          const answer = answers[i];
          const waiter = waiters[i] as Waiting;
          if (answer === undefined) waiter.reject(unavailable('the primary answered a short batch'));
          else
            waiter.resolve({
              allowed: answer[0] === 1,
              retryAfterUs: answer[1],
              remaining: answer[2],
              resetUs: answer[3],
            });
        }
      },
      (err: unknown) => {
        inFlight -= waiters.length;
        const error = unavailable(err instanceof Error ? err.message : String(err));
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  return {
    kind: 'local',
    get pending() {
      return inFlight + waiting.length;
    },
    consume(keys: readonly string[], shapes: readonly BucketShape[]): Promise<RateLimitOutcome> {
      const flat = new Array<number>(shapes.length * 2);
      for (let i = 0; i < shapes.length; i++) {
        const shape = shapes[i] as BucketShape;
        flat[i * 2] = shape.intervalUs;
        flat[i * 2 + 1] = shape.limit;
      }
      batch.push([keys, flat]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return new Promise<RateLimitOutcome>((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/**
 * The primary side: answers a batch from the one local limiter of the node, in arrival order.
 *
 * @example
 * peer.handle('rate-limit', (batch) => answerRateLimitBatch(limiter, batch as RateLimitBatch));
 */
export function answerRateLimitBatch(limiter: LocalRateLimiter, batch: RateLimitBatch): RateLimitAnswers {
  const answers = new Array<RateLimitAnswers[number]>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const [keys, flat] = batch[i] as RateLimitBatch[number];
    const shapes = new Array<BucketShape>(keys.length);
    for (let j = 0; j < keys.length; j++)
      shapes[j] = { intervalUs: flat[j * 2] as number, limit: flat[j * 2 + 1] as number };
    const outcome = limiter.consume(keys, shapes);
    answers[i] = [outcome.allowed ? 1 : 0, outcome.retryAfterUs, outcome.remaining, outcome.resetUs];
  }
  return answers;
}

function unavailable(detail: string): PorticoError {
  return new PorticoError('store_unavailable', `the node-wide rate limiter is unreachable: ${detail}`);
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  answerRateLimitBatch,
  createClusterRateLimiter,
  type RateLimitAnswers,
  type RateLimitBatch,
} from './cluster-rate-limiter.ts';
import { createLocalRateLimiter } from './local-rate-limiter.ts';
import { bucketShape } from './rate-limiter.ts';

const hour = 3_600_000;

/** Two workers' limiters on one primary's buckets, with the wire's JSON round trip. */
function twoWorkers() {
  const buckets = createLocalRateLimiter({ now: () => 1_000_000 });
  const batches: number[] = [];
  const send = async (batch: RateLimitBatch): Promise<RateLimitAnswers> => {
    batches.push(batch.length);
    const received = JSON.parse(JSON.stringify(batch)) as RateLimitBatch;
    return JSON.parse(JSON.stringify(answerRateLimitBatch(buckets, received))) as RateLimitAnswers;
  };
  return { a: createClusterRateLimiter({ send }), b: createClusterRateLimiter({ send }), batches };
}

test('two workers draw from one budget', async () => {
  const { a, b } = twoWorkers();
  const shape = bucketShape(4, hour);
  const outcomes = [];
  for (let i = 0; i < 3; i++) {
    outcomes.push(await a.consume(['shared'], [shape]));
    outcomes.push(await b.consume(['shared'], [shape]));
  }
  assert.deepEqual(
    outcomes.map((o) => o.allowed),
    [true, true, true, true, false, false],
  );
  assert.deepEqual(
    outcomes.map((o) => o.remaining[0]),
    [3, 2, 1, 0, 0, 0],
  );
  assert.ok((outcomes[4]?.retryAfterUs ?? 0) > 0);
});

test('calls made in one event-loop turn travel as one batch and keep their order', async () => {
  const { a, batches } = twoWorkers();
  const shape = bucketShape(2, hour);
  const outcomes = await Promise.all([
    a.consume(['k'], [shape]),
    a.consume(['k', 'other'], [shape, shape]),
    a.consume(['k'], [shape]),
  ]);
  assert.deepEqual(batches, [3]);
  assert.deepEqual(
    outcomes.map((o) => o.allowed),
    [true, true, false],
  );
  assert.deepEqual(outcomes[1]?.remaining, [0, 1]);
  assert.equal(a.pending, 0);
});

test('an unreachable primary fails every waiting call with store_unavailable', async () => {
  const limiter = createClusterRateLimiter({
    send: () => Promise.reject(new Error('the IPC channel to the primary is closed')),
  });
  const shape = bucketShape(2, hour);
  const calls = [limiter.consume(['k'], [shape]), limiter.consume(['k'], [shape])];
  for (const call of calls) await assert.rejects(call, { code: 'store_unavailable' });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalRateLimiter } from './local-rate-limiter.ts';
import { bucketShape, localShareShape } from './rate-limiter.ts';

test('a local share is limit / processes per window, or localLimit when set', () => {
  const shape = { ...bucketShape(100, 1000), localFallback: true };
  assert.deepEqual(localShareShape(shape, 4), { intervalUs: 40_000, limit: 25 });
  assert.deepEqual(localShareShape({ ...shape, localLimit: 10 }, 4), { intervalUs: 100_000, limit: 10 });
  assert.equal(localShareShape(bucketShape(3, 1000), 8).limit, 1, 'never below one request per window');
});

test('a primed bucket starts as full as the shared one, and drain hands back what it still holds', () => {
  let now = 0;
  const limiter = createLocalRateLimiter({ now: () => now });
  const share = localShareShape(bucketShape(20, 1000), 2);
  // The shared bucket was empty (its TAT one window ahead): the share lets nothing through at once.
  limiter.prime('k', 1_000_000);
  assert.equal(limiter.consume(['k'], [share]).allowed, false);
  now = 100; // one share interval later
  assert.equal(limiter.consume(['k'], [share]).allowed, true);
  const drained = limiter.drain();
  assert.deepEqual(drained, [['k', 1_000_000]]);
  assert.equal(limiter.size, 0);
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { answerRateLimitBatch, createClusterRateLimiter } from './cluster-rate-limiter.ts';
import { createLocalRateLimiter } from './local-rate-limiter.ts';
import { bucketShape, type RateLimiter } from './rate-limiter.ts';
import { createRedisRateLimiter } from './redis-rate-limiter.ts';

const hour = 3_600_000;

/** Every limiter must give these answers; windows are long so real time passing in Redis does not matter. */
function contract(name: string, make: () => Promise<RateLimiter>): void {
  describe(`${name} rate limiter`, () => {
    test('lets a burst of `limit` requests through, then refuses with the time to the next slot', async () => {
      const limiter = await make();
      const shape = bucketShape(5, hour);
      const remaining: number[] = [];
      for (let i = 0; i < 5; i++) {
        const outcome = await limiter.consume(['burst'], [shape]);
        assert.equal(outcome.allowed, true);
        remaining.push(outcome.remaining[0] as number);
      }
      assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
      const refused = await limiter.consume(['burst'], [shape]);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining[0], 0);
      // The next slot opens one emission interval (720 s) after the burst, minus the little time that passed.
      assert.ok(refused.retryAfterUs > 715e6 && refused.retryAfterUs <= 720e6, String(refused.retryAfterUs));
    });

    test('a refused request takes nothing from its other buckets', async () => {
      const limiter = await make();
      const small = bucketShape(1, hour);
      const big = bucketShape(10, hour);
      assert.equal((await limiter.consume(['small', 'big'], [small, big])).allowed, true);
      const refused = await limiter.consume(['small', 'big'], [small, big]);
      assert.equal(refused.allowed, false);
      const alone = await limiter.consume(['big'], [big]);
      assert.equal(alone.remaining[0], 8, 'only the allowed request and this one were taken');
    });

    test('keys are independent budgets', async () => {
      const limiter = await make();
      const shape = bucketShape(1, hour);
      assert.equal((await limiter.consume(['a'], [shape])).allowed, true);
      assert.equal((await limiter.consume(['b'], [shape])).allowed, true);
      assert.equal((await limiter.consume(['a'], [shape])).allowed, false);
    });

    test('reports the time until a bucket is full again', async () => {
      const limiter = await make();
      const outcome = await limiter.consume(['reset'], [bucketShape(4, hour)]);
      assert.ok(Math.abs((outcome.resetUs[0] as number) - hour * 250) < 5e6, String(outcome.resetUs[0]));
    });
  });
}

contract('local', async () => createLocalRateLimiter({ now: () => 1_000_000 }));

contract('cluster (a worker asking the primary)', async () => {
  const buckets = createLocalRateLimiter({ now: () => 1_000_000 });
  return createClusterRateLimiter({ send: async (batch) => answerRateLimitBatch(buckets, batch) });
});

const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];
contract('redis', async () => {
  const prefix = `portico-test:${randomUUID()}:`;
  prefixes.push(prefix);
  const limiter = createRedisRateLimiter({ url: sharedRedisUrl, prefix });
  closers.push(() => limiter.close());
  // The connection opens in the background; the first calls fail as a store outage until it is up.
  await eventually(() => limiter.consume([`warmup`], [bucketShape(1000, 1000)]), 2000, 10);
  return limiter;
});
after(async () => {
  for (const close of closers) await close();
  for (const prefix of prefixes) await deleteRedisKeys(sharedRedisUrl, prefix);
});

describe('local rate limiter with a fake clock', () => {
  test('refills one request per emission interval', () => {
    let now = 0;
    const limiter = createLocalRateLimiter({ now: () => now });
    const shape = bucketShape(10, 1000);
    for (let i = 0; i < 10; i++) assert.equal(limiter.consume(['k'], [shape]).allowed, true);
    assert.equal(limiter.consume(['k'], [shape]).allowed, false);
    now = 99;
    assert.equal(limiter.consume(['k'], [shape]).allowed, false);
    now = 100;
    assert.equal(limiter.consume(['k'], [shape]).allowed, true);
    assert.equal(limiter.consume(['k'], [shape]).allowed, false);
    now = 1100;
    const full = limiter.consume(['k'], [shape]);
    assert.equal(full.remaining[0], 9, 'a whole window later the bucket is full again');
  });

  test('sustained traffic gets exactly limit per window', () => {
    let now = 0;
    const limiter = createLocalRateLimiter({ now: () => now });
    const shape = bucketShape(100, 60_000);
    let allowed = 0;
    // One attempt every 10 ms for 10 minutes: 100 for the initial burst plus 100 per minute after it.
    for (now = 0; now < 600_000; now += 10) if (limiter.consume(['k'], [shape]).allowed) allowed++;
    assert.equal(allowed, 100 + 1000 - 1);
  });

  test('forgets buckets that are full again, so memory follows the active keys', () => {
    let now = 0;
    const limiter = createLocalRateLimiter({ now: () => now });
    const shape = bucketShape(10, 1000);
    for (let i = 0; i < 5000; i++) limiter.consume([`ip-${i}`], [shape]);
    now = 61_000;
    for (let i = 0; i < 10; i++) limiter.consume([`late-${i}`], [shape]);
    assert.ok(limiter.size < 100, `kept ${limiter.size} buckets`);
  });
});

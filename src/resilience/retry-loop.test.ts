import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from './retry-budget.ts';
import {
  nextRetryDelayMs,
  noRetry,
  retryLoop,
  statusAnswer,
  type RetryLoopOptions,
  type TryResult,
} from './retry-loop.ts';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.ts';
import { classifyUpstreamFailure } from './upstream-failure.ts';

/** A fake clock: `sleep` moves time on by exactly the delay (plus `lagMs`, a late timer) and records it. */
function fakeTime(lagMs = 0): {
  now: () => number;
  advance: (ms: number) => void;
  sleeps: number[];
  sleep: RetryLoopOptions['sleep'];
} {
  let now = 1_000;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms) => (now += ms),
    sleeps,
    sleep: async (ms, signal) => {
      if (signal?.aborted === true) throw signal.reason as Error;
      sleeps.push(ms);
      now += ms + lagMs;
    },
  };
}

const refused = classifyUpstreamFailure('ECONNREFUSED');
const reset = classifyUpstreamFailure('ECONNRESET');
const timeout = classifyUpstreamFailure('UND_ERR_HEADERS_TIMEOUT');
const garbled = classifyUpstreamFailure('HPE_INVALID_CONSTANT');

const fail = (failure = reset): TryResult<number> => ({
  ok: false,
  failure,
  error: new Error(failure.failure),
});
const answer = (status: number): TryResult<number> => ({ ok: true, status, value: status });

function policyOf(options: Partial<RetryPolicyOptions> = {}): RetryPolicy {
  return new RetryPolicy({
    attempts: 3,
    onConnectFailure: true,
    statuses: [503],
    backoff: { baseMs: 100, maxMs: 1_000 },
    random: () => 0,
    ...options,
  });
}

/** Runs the loop over scripted outcomes (the last one repeats); returns the tries' time limits and the result. */
async function run(
  outcomes: TryResult<number>[],
  options: Partial<RetryLoopOptions> & { tryMs?: number } = {},
  time = fakeTime(),
): Promise<{ limits: number[]; sleeps: number[]; result: number | Error }> {
  const limits: number[] = [];
  let result: number | Error;
  try {
    result = await retryLoop(
      {
        policy: policyOf(),
        method: 'GET',
        tryTimeoutMs: 0,
        deadlineMs: 0,
        clock: time.now,
        sleep: time.sleep,
        deadlineError: () => new Error('deadline'),
        ...options,
      },
      async (attempt, timeoutMs) => {
        assert.equal(attempt, limits.length, 'attempts are numbered from 0');
        limits.push(timeoutMs);
        time.advance(options.tryMs ?? 0);
        return outcomes[Math.min(attempt, outcomes.length - 1)] as TryResult<number>;
      },
    );
  } catch (err) {
    result = err as Error;
  }
  return { limits, sleeps: time.sleeps, result };
}

test('a success on the first try is the only try', async () => {
  const { limits, sleeps, result } = await run([answer(200)]);
  assert.deepEqual([limits.length, sleeps, result], [1, [], 200]);
});

test('without a policy there is exactly one try', async () => {
  const { limits, result } = await run([fail(refused), answer(200)], { policy: undefined });
  assert.equal(limits.length, 1);
  assert.equal((result as Error).message, 'refused');
});

test('a failure is retried `attempts` times, then the last failure is thrown', async () => {
  const { limits, result } = await run([fail()]);
  assert.equal(limits.length, 4, 'the first try and 3 retries');
  assert.equal((result as Error).message, 'reset');
});

test('a try that succeeds ends the retries', async () => {
  const { limits, result } = await run([fail(), answer(503), answer(200)]);
  assert.deepEqual([limits.length, result], [3, 200]);
});

test('a retryable status that outlives the attempts is still the answer', async () => {
  const { limits, result } = await run([answer(503)]);
  assert.deepEqual([limits.length, result], [4, 503]);
});

test('backoff doubles from its base, is capped, and half of it is jitter', async () => {
  const policy = policyOf({ attempts: 6 });
  assert.deepEqual((await run([fail()], { policy })).sleeps, [50, 100, 200, 400, 500, 500]);
  const high = policyOf({ attempts: 3, random: () => 0.5 });
  assert.deepEqual((await run([fail()], { policy: high })).sleeps, [75, 150, 300]);
});

test('each try gets the per-try timeout, cut to what is left of the deadline', async () => {
  const { limits } = await run([fail()], { tryTimeoutMs: 400, deadlineMs: 1_000, tryMs: 300 });
  // try 0 at 0 (400), backoff 50 → try 1 at 350 (400), backoff 100 → try 2 at 750 (250 left).
  assert.deepEqual(limits, [400, 400, 250]);
});

test('a retry whose backoff would end at the deadline is not started: the last failure stands', async () => {
  const { limits, sleeps, result } = await run([fail()], { deadlineMs: 1_000, tryMs: 300 });
  // Tries end at 300, 650, 1050: the third try leaves no room for a backoff of 200.
  assert.deepEqual([limits.length, sleeps], [3, [50, 100]]);
  assert.equal((result as Error).message, 'reset', 'the failure, not a deadline error');
  const exact = await run([fail()], { deadlineMs: 350, tryMs: 300 });
  assert.equal(exact.limits.length, 1, 'a backoff ending exactly at the deadline is refused too');
});

test('when a late timer lets the deadline pass during the backoff, the deadline error ends the loop', async () => {
  const { limits, result } = await run([fail()], { deadlineMs: 400, tryMs: 300 }, fakeTime(100));
  assert.equal(limits.length, 1);
  assert.equal((result as Error).message, 'deadline');
});

test('a spent budget stops retries, but refused connections are not charged to it', async () => {
  const budget = new RetryBudget({ ratio: 0, minRetries: 2, windowMs: 10_000, clock: () => 0 });
  const policy = policyOf({ budget });
  assert.equal((await run([fail()], { policy })).limits.length, 3, 'two retries, then the budget is spent');
  assert.equal((await run([fail()], { policy })).limits.length, 1, 'none left for the next call');
  assert.equal(
    (await run([fail(refused)], { policy })).limits.length,
    4,
    'refused: only the attempts bound it',
  );
  assert.deepEqual(
    budget.snapshot(),
    { calls: 3, retries: 2 },
    'every call counted once, refused retries free',
  );
});

test('a retry the deadline refuses takes nothing from the budget', () => {
  const budget = new RetryBudget({ ratio: 0, minRetries: 1, windowMs: 10_000, clock: () => 0 });
  const policy = policyOf({ budget });
  assert.equal(nextRetryDelayMs(policy, 0, 'GET', reset, 0, 1_030, 1_000), noRetry);
  assert.equal(nextRetryDelayMs(policy, 0, 'GET', reset, 0, 0, 1_000), 50);
  assert.equal(nextRetryDelayMs(policy, 0, 'GET', reset, 0, 0, 1_000), noRetry, 'now it is spent');
});

test('only failures that never reached an instance are retried for methods that may not repeat', async () => {
  assert.equal((await run([fail(reset)], { method: 'POST' })).limits.length, 1);
  assert.equal((await run([answer(503)], { method: 'POST' })).limits.length, 1);
  assert.equal((await run([fail(refused), answer(201)], { method: 'POST' })).result, 201);
  const posts = policyOf({ methods: ['POST'] });
  assert.equal((await run([fail(reset), answer(201)], { method: 'POST', policy: posts })).result, 201);
});

test('failures outside the policy conditions are not retried', async () => {
  assert.equal((await run([fail(garbled)])).limits.length, 1, 'never retried');
  assert.equal((await run([fail(timeout)])).limits.length, 1, 'timeouts only with onTimeout');
  const onTimeout = policyOf({ onTimeout: true });
  assert.equal((await run([fail(timeout)], { policy: onTimeout })).limits.length, 4);
  const { limits, result } = await run([answer(500)]);
  assert.deepEqual([limits.length, result], [1, 500], 'a status not listed is the answer');
  const noConnect = policyOf({ onConnectFailure: false });
  assert.equal((await run([fail(refused)], { policy: noConnect })).limits.length, 1);
  assert.equal((await run([fail(reset)], { policy: noConnect })).limits.length, 1);
});

test('an abort ends the loop between tries with its reason', async () => {
  const controller = new AbortController();
  const time = fakeTime();
  let tries = 0;
  const loop = retryLoop(
    {
      policy: policyOf(),
      method: 'GET',
      tryTimeoutMs: 0,
      deadlineMs: 0,
      clock: time.now,
      sleep: time.sleep,
      signal: controller.signal,
      deadlineError: () => new Error('deadline'),
    },
    async () => {
      tries++;
      controller.abort(new Error('gone'));
      return fail();
    },
  );
  await assert.rejects(loop, /gone/);
  assert.equal(tries, 1);
  const before = run([answer(200)], { signal: AbortSignal.abort(new Error('early')) });
  assert.equal(((await before).result as Error).message, 'early');
  assert.equal((await before).limits.length, 0, 'an aborted call makes no try');
});

test('a status answer reads as "sent": the policy status list decides', () => {
  const policy = policyOf();
  assert.equal(nextRetryDelayMs(policy, 0, 'GET', statusAnswer, 503, 0, 0), 50);
  assert.equal(nextRetryDelayMs(policy, 0, 'GET', statusAnswer, 502, 0, 0), noRetry);
  assert.equal(nextRetryDelayMs(policy, 3, 'GET', statusAnswer, 503, 0, 0), noRetry, 'attempts spent');
});

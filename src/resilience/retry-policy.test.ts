import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from './backoff.ts';
import { tryTimeoutMs } from './deadline.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';

test('retries idempotent methods only, unless the methods are listed', () => {
  const policy = new RetryPolicy({ attempts: 2, onConnectFailure: true, statuses: [503] });
  assert.equal(policy.allowsMethod('GET'), true);
  assert.equal(policy.allowsMethod('PUT'), true);
  assert.equal(policy.allowsMethod('POST'), false);
  assert.equal(policy.allowsMethod('PATCH'), false);
  const optedIn = new RetryPolicy({ attempts: 2, onConnectFailure: true, statuses: [], methods: ['POST'] });
  assert.equal(optedIn.allowsMethod('POST'), true);
});

test('retries only the listed conditions, at most `attempts` times', () => {
  const policy = new RetryPolicy({ attempts: 2, onConnectFailure: true, statuses: [502, 503] });
  assert.equal(policy.shouldRetry(0, 'reset'), true);
  assert.equal(policy.shouldRetry(0, 'status', 503), true);
  assert.equal(policy.shouldRetry(0, 'status', 500), false);
  assert.equal(policy.shouldRetry(0, 'timeout'), false);
  assert.equal(policy.shouldRetry(0, 'other'), false);
  assert.equal(policy.shouldRetry(1, 'reset'), true);
  assert.equal(policy.shouldRetry(2, 'reset'), false);
  const noConnect = new RetryPolicy({ attempts: 2, onConnectFailure: false, statuses: [502] });
  assert.equal(noConnect.shouldRetry(0, 'reset'), false);
});

test('backoff doubles per retry, is capped, and half of it is jitter', () => {
  const options = { baseMs: 100, maxMs: 1_000 };
  assert.equal(
    backoffDelayMs(0, options, () => 0),
    50,
  );
  assert.equal(backoffDelayMs(0, options, () => 0.999999) < 100, true);
  assert.equal(
    backoffDelayMs(2, options, () => 0),
    200,
  );
  assert.equal(
    backoffDelayMs(2, options, () => 0.5),
    300,
  );
  assert.equal(
    backoffDelayMs(10, options, () => 1),
    1_000,
  );
});

test('the retry budget allows its floor, then a share of the calls', () => {
  let now = 0;
  const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowMs: 10_000, clock: () => now });
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false, 'the floor is spent and there are no calls');
  for (let i = 0; i < 20; i++) budget.recordCall();
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false, '4 retries for 20 calls is 20%');
  now += 10_000;
  assert.deepEqual(budget.snapshot(), { calls: 0, retries: 0 });
  assert.equal(budget.tryRetry(), true, 'the window moved on');
});

test('a spent budget stops retries the policy would otherwise allow', () => {
  const budget = new RetryBudget({ ratio: 0, minRetries: 1, windowMs: 1_000, clock: () => 0 });
  const policy = new RetryPolicy({ attempts: 3, onConnectFailure: true, statuses: [], budget });
  assert.equal(policy.shouldRetry(0, 'reset'), true);
  assert.equal(policy.shouldRetry(1, 'reset'), false);
  assert.equal(policy.shouldRetry(1, 'refused'), true, 'a refused connection costs no instance anything');
  assert.equal(policy.shouldRetry(3, 'refused'), false, 'but the attempts still bound it');
});

test('a try gets the per-try timeout, cut to what is left of the deadline', () => {
  assert.equal(tryTimeoutMs(5_000, 0, 100), 5_000);
  assert.equal(tryTimeoutMs(5_000, 10_000, 8_000), 2_000);
  assert.equal(tryTimeoutMs(0, 10_000, 8_000), 2_000);
  assert.equal(tryTimeoutMs(1_000, 10_000, 8_000), 1_000);
  assert.ok(tryTimeoutMs(1_000, 10_000, 10_000) < 0);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bulkhead, BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { BrokenCircuitError, CircuitBreaker } from '../resilience/circuit-breaker.ts';
import { RetryPolicy } from '../resilience/retry-policy.ts';
import { classifyUpstreamFailure } from '../resilience/upstream-failure.ts';
import { callWithPolicies, type TryOutcome } from './call-policies.ts';

const retry = new RetryPolicy({
  attempts: 2,
  onConnectFailure: true,
  statuses: [503],
  backoff: { baseMs: 0, maxMs: 0 },
});
const answer = (status: number): TryOutcome<number> => ({ ok: true, status, value: status });
const refused: TryOutcome<number> = {
  ok: false,
  failure: classifyUpstreamFailure('ECONNREFUSED'),
  error: new Error('refused'),
};
const reset: TryOutcome<number> = {
  ok: false,
  failure: classifyUpstreamFailure('ECONNRESET'),
  error: new Error('reset'),
};

function scripted(outcomes: TryOutcome<number>[]): {
  tries: number[];
  run: (i: number) => Promise<TryOutcome<number>>;
} {
  const tries: number[] = [];
  return {
    tries,
    run: async (i) => {
      tries.push(i);
      return outcomes[i] ?? answer(200);
    },
  };
}

test('a retryable status is tried again until an answer that is not', async () => {
  const script = scripted([answer(503), answer(503), answer(200)]);
  assert.equal(await callWithPolicies({ retry, tryTimeoutMs: 0, deadlineMs: 0 }, 'GET', script.run), 200);
  assert.deepEqual(script.tries, [0, 1, 2]);
});

test('the last answer is returned when the attempts run out', async () => {
  const script = scripted([answer(503), answer(503), answer(503), answer(200)]);
  assert.equal(await callWithPolicies({ retry, tryTimeoutMs: 0, deadlineMs: 0 }, 'GET', script.run), 503);
});

test('a POST is retried only when nothing reached the service', async () => {
  const notSent = scripted([refused]);
  assert.equal(await callWithPolicies({ retry, tryTimeoutMs: 0, deadlineMs: 0 }, 'POST', notSent.run), 200);
  const maybeSent = scripted([reset]);
  await assert.rejects(
    callWithPolicies({ retry, tryTimeoutMs: 0, deadlineMs: 0 }, 'POST', maybeSent.run),
    /reset/,
  );
  assert.deepEqual(maybeSent.tries, [0]);
});

test('an open breaker refuses the call without trying', async () => {
  const breaker = new CircuitBreaker({
    failureRate: 0.5,
    minRequests: 2,
    windowMs: 1_000,
    openForMs: 1_000,
    clock: () => 0,
  });
  const policies = { breaker, tryTimeoutMs: 0, deadlineMs: 0 };
  for (let i = 0; i < 2; i++) await callWithPolicies(policies, 'GET', async () => answer(500));
  const script = scripted([]);
  await assert.rejects(callWithPolicies(policies, 'GET', script.run), BrokenCircuitError);
  assert.deepEqual(script.tries, []);
});

test('a full bulkhead refuses the call and frees its slot after each call', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1 });
  let release!: () => void;
  const first = callWithPolicies({ bulkhead, tryTimeoutMs: 0, deadlineMs: 0 }, 'GET', async () => {
    await new Promise<void>((resolve) => (release = resolve));
    return answer(200);
  });
  await assert.rejects(
    callWithPolicies({ bulkhead, tryTimeoutMs: 0, deadlineMs: 0 }, 'GET', async () => answer(200)),
    BulkheadRejectedError,
  );
  release();
  await first;
  assert.equal(bulkhead.active, 0);
});

test('each try gets what is left of the deadline', async () => {
  let now = 1_000;
  const timeouts: number[] = [];
  const policies = { retry, tryTimeoutMs: 500, deadlineMs: 800, clock: () => now };
  await callWithPolicies(policies, 'GET', async (i, timeoutMs) => {
    timeouts.push(timeoutMs);
    now += 400;
    return i === 0 ? answer(503) : answer(200);
  });
  assert.deepEqual(timeouts, [500, 400]);
});

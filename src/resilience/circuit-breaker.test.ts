import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.ts';

function setup(overrides: { halfOpenProbes?: number } = {}) {
  let now = 1_000_000;
  const transitions: string[] = [];
  const breaker = new CircuitBreaker({
    failureRate: 0.5,
    minRequests: 4,
    windowMs: 10_000,
    openForMs: 5_000,
    clock: () => now,
    onTransition: (from: BreakerState, to: BreakerState) => transitions.push(`${from}->${to}`),
    ...overrides,
  });
  return { breaker, transitions, advance: (ms: number) => (now += ms) };
}

test('stays closed below the minimum number of requests even when all fail', () => {
  const { breaker } = setup();
  for (let i = 0; i < 3; i++) breaker.record(false);
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.tryAcquire(), true);
});

test('opens when the failure rate over the window reaches the threshold', () => {
  const { breaker, transitions } = setup();
  breaker.record(true);
  breaker.record(true);
  breaker.record(false);
  assert.equal(breaker.state, 'closed');
  breaker.record(false);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.tryAcquire(), false);
  assert.equal(breaker.allows, false);
  assert.deepEqual(transitions, ['closed->open']);
});

test('forgets failures that left the window', () => {
  const { breaker, advance } = setup();
  breaker.record(false);
  breaker.record(false);
  breaker.record(false);
  advance(11_000);
  breaker.record(false);
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.snapshot().requests, 1);
});

test('lets one probe through after openFor, and closes when it succeeds', () => {
  const { breaker, advance, transitions } = setup();
  for (let i = 0; i < 4; i++) breaker.record(false);
  advance(4_999);
  assert.equal(breaker.tryAcquire(), false);
  advance(1);
  assert.equal(breaker.state, 'half-open');
  assert.equal(breaker.tryAcquire(), true);
  assert.equal(breaker.tryAcquire(), false, 'a second probe must wait for the first');
  breaker.record(true);
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(transitions, ['closed->open', 'open->half-open', 'half-open->closed']);
  assert.equal(breaker.snapshot().requests, 0, 'closing starts a fresh window');
});

test('a failed probe opens the breaker again for another openFor', () => {
  const { breaker, advance } = setup();
  for (let i = 0; i < 4; i++) breaker.record(false);
  advance(5_000);
  assert.equal(breaker.tryAcquire(), true);
  breaker.record(false);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.snapshot().opened, 2);
  advance(4_000);
  assert.equal(breaker.tryAcquire(), false);
});

test('needs as many successful probes as it allows when halfOpenProbes is above one', () => {
  const { breaker, advance } = setup({ halfOpenProbes: 2 });
  for (let i = 0; i < 4; i++) breaker.record(false);
  advance(5_000);
  assert.equal(breaker.tryAcquire(), true);
  assert.equal(breaker.tryAcquire(), true);
  assert.equal(breaker.tryAcquire(), false);
  breaker.record(true);
  assert.equal(breaker.state, 'half-open');
  breaker.record(true);
  assert.equal(breaker.state, 'closed');
});

test('a released probe frees its slot', () => {
  const { breaker, advance } = setup();
  for (let i = 0; i < 4; i++) breaker.record(false);
  advance(5_000);
  assert.equal(breaker.tryAcquire(), true);
  breaker.release();
  assert.equal(breaker.tryAcquire(), true);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bulkhead, BulkheadRejectedError } from './bulkhead.ts';

test('refuses at once beyond maxConcurrent when there is no queue', () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 2 });
  assert.equal(bulkhead.tryAcquire(), true);
  assert.equal(bulkhead.tryAcquire(), true);
  assert.equal(bulkhead.tryAcquire(), false);
  assert.equal(bulkhead.enqueue({ granted() {} }), false);
  bulkhead.release();
  assert.equal(bulkhead.active, 1);
  assert.equal(bulkhead.tryAcquire(), true);
});

test('hands a freed slot to the oldest waiter, and refuses once the queue is full', () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, queue: 2 });
  const granted: string[] = [];
  assert.equal(bulkhead.tryAcquire(), true);
  assert.equal(bulkhead.enqueue({ granted: () => granted.push('a') }), true);
  assert.equal(bulkhead.enqueue({ granted: () => granted.push('b') }), true);
  assert.equal(bulkhead.enqueue({ granted: () => granted.push('c') }), false);
  bulkhead.release();
  assert.deepEqual(granted, ['a']);
  assert.equal(bulkhead.active, 1, 'the slot moved to the waiter');
  assert.equal(bulkhead.queued, 1);
});

test('a cancelled waiter is never granted', () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, queue: 1 });
  let granted = false;
  const waiter = { granted: () => (granted = true) };
  bulkhead.tryAcquire();
  bulkhead.enqueue(waiter);
  assert.equal(bulkhead.cancel(waiter), true);
  bulkhead.release();
  assert.equal(granted, false);
  assert.equal(bulkhead.active, 0);
});

test('acquire rejects with BulkheadRejectedError when full and resolves when a slot frees', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, queue: 1 });
  await bulkhead.acquire();
  const waiting = bulkhead.acquire();
  await assert.rejects(bulkhead.acquire(), BulkheadRejectedError);
  bulkhead.release();
  await waiting;
  assert.equal(bulkhead.active, 1);
});

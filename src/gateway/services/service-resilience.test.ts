import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancer } from '../../balancing/index.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { Instance } from '../upstream/instance.ts';
import { InstanceSet } from '../upstream/instance-set.ts';
import { pruneResilience, resilienceFor, ServiceResilience } from './service-resilience.ts';

const poolOptions = { connectTimeoutMs: 1000, keepAliveTimeoutMs: 4000 };
const breakerConfig = {
  circuitBreaker: { failureRate: 0.5, minRequests: 1, window: '10s', openFor: '30s', halfOpenProbes: 1 },
} as unknown as ServiceConfig;

function setOf(...ids: string[]): { set: InstanceSet; byId: Map<string, Instance> } {
  const byId = new Map<string, Instance>();
  for (const [i, id] of ids.entries()) {
    byId.set(
      id,
      new Instance(
        { id, service: 'users', url: `http://127.0.0.1:${9000 + i}`, weight: 1, source: 'static' },
        poolOptions,
      ),
    );
  }
  const set = new InstanceSet({
    service: 'users',
    balancer: createBalancer('round-robin'),
    instances: [...byId.values()],
  });
  return { set, byId };
}

test('a retry passes over the last two instances tried while a third exists, and reuses them otherwise', () => {
  const resilience = new ServiceResilience('users', breakerConfig);
  const three = setOf('a', 'b', 'c');
  const [a, b, c] = ['a', 'b', 'c'].map((id) => three.byId.get(id) as Instance);
  for (let i = 0; i < 6; i++) assert.equal(resilience.pick(three.set, undefined, b, a), c);
  const two = setOf('a', 'b');
  const [a2, b2] = ['a', 'b'].map((id) => two.byId.get(id) as Instance);
  assert.equal(resilience.pick(two.set, undefined, b2, a2), a2);
});

test('pick answers null when every breaker refuses and undefined when there is no instance', () => {
  let now = 0;
  const resilience = new ServiceResilience('users', breakerConfig, { clock: () => now });
  const { set, byId } = setOf('a', 'b');
  for (const instance of byId.values())
    (resilience.breakerOf(instance) as { record(ok: boolean): void }).record(false);
  assert.equal(resilience.pick(set, undefined, undefined), null);
  assert.equal(resilience.snapshot().breaker?.state, 'open');
  now = 30_000;
  assert.notEqual(resilience.pick(set, undefined, undefined), null);
  assert.equal(resilience.pick(setOf().set, undefined, undefined), undefined);
});

test('a reload with the same resilience config keeps the breakers; a changed config starts afresh', () => {
  const shared = new Map<string, unknown>();
  const first = resilienceFor(shared, 'users', breakerConfig);
  assert.ok(first);
  assert.equal(resilienceFor(shared, 'users', { ...breakerConfig, timeout: '5s' } as ServiceConfig), first);
  const changed = { circuitBreaker: { ...breakerConfig.circuitBreaker, openFor: '1s' } } as ServiceConfig;
  assert.notEqual(resilienceFor(shared, 'users', changed), first);
  assert.equal(resilienceFor(shared, 'users', {} as ServiceConfig), undefined);
});

test('after a swap, breakers of instances that left and the resilience of services that left are dropped', () => {
  const shared = new Map<string, unknown>();
  const users = resilienceFor(shared, 'users', breakerConfig) as ServiceResilience;
  const ordersBefore = resilienceFor(shared, 'orders', breakerConfig);
  const before = setOf('a', 'b', 'c');
  for (const instance of before.byId.values()) users.breakerOf(instance);
  assert.equal(users.breakerCount, 3);
  const after = setOf('a');
  pruneResilience(shared, new Map([['users', { instances: after.set, resilience: users }]]));
  assert.deepEqual(Object.keys(users.snapshot().instances), ['a']);
  assert.equal(resilienceFor(shared, 'users', breakerConfig), users, 'a kept service keeps its state');
  const orders = resilienceFor(shared, 'orders', breakerConfig);
  assert.notEqual(orders, ordersBefore, 'a service that left the table starts afresh when it returns');
  users.forget('a');
  assert.equal(users.breakerCount, 0);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancer } from '../../balancing/index.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { Instance } from '../upstream/instance.ts';
import { InstanceSet } from '../upstream/instance-set.ts';
import { NodeState } from '../runtime/node-state.ts';
import { ServiceResilience } from './service-resilience.ts';

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

/** One reload of a table whose only service is `users`: compiled, then swapped in. */
function reload(state: NodeState, config: ServiceConfig): ServiceResilience | undefined {
  const table = state.prepare();
  const resilience = table.resilience('users', config);
  state.commit(table, new Map());
  return resilience;
}

test('a reload with the same resilience config keeps the breakers; a changed config starts afresh', () => {
  const state = new NodeState();
  const first = reload(state, breakerConfig);
  assert.ok(first);
  assert.equal(reload(state, { ...breakerConfig, timeout: '5s' } as ServiceConfig), first);
  const changed = { circuitBreaker: { ...breakerConfig.circuitBreaker, openFor: '1s' } } as ServiceConfig;
  assert.notEqual(reload(state, changed), first);
  assert.equal(reload(state, {} as ServiceConfig), undefined);
});

test('after a swap, breakers of instances that left and the resilience of services that left are dropped', () => {
  const state = new NodeState();
  let table = state.prepare();
  const users = table.resilience('users', breakerConfig) as ServiceResilience;
  const ordersBefore = table.resilience('orders', breakerConfig);
  state.commit(table, new Map());
  const before = setOf('a', 'b', 'c');
  for (const instance of before.byId.values()) users.breakerOf(instance);
  assert.equal(users.breakerCount, 3);
  const after = setOf('a');
  table = state.prepare();
  assert.equal(table.resilience('users', breakerConfig), users, 'a kept service keeps its state');
  state.commit(table, new Map([['users', { instances: after.set, resilience: users }]]));
  assert.deepEqual(Object.keys(users.snapshot().instances), ['a']);
  const orders = state.prepare().resilience('orders', breakerConfig);
  assert.notEqual(orders, ordersBefore, 'a service that left the table starts afresh when it returns');
  users.forget('a');
  assert.equal(users.breakerCount, 0);
});

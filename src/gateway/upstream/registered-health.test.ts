import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { createAddressPolicy } from '../../registry/address-policy.ts';
import { createRegistry } from '../../registry/registry.ts';
import { createEmbeddedStore } from '../../store/embedded-store.ts';
import type { CheckLease } from '../../store/registry-store.ts';
import { createRegisteredHealthChecks } from './registered-health.ts';

const healthCheck = {
  path: '/health',
  interval: '1s',
  timeout: '100ms',
  unhealthyThreshold: 2,
  healthyThreshold: 2,
};

/** Timers that only fire when the test says so. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 1;
  return {
    timers: {
      setTimeout(callback: () => void) {
        const id = next++;
        pending.set(id, callback);
        return id;
      },
      clearTimeout: (handle: unknown) => pending.delete(handle as number),
    },
    /** Fires every pending timer once (one check round), then lets the round's promises settle. */
    async round(): Promise<void> {
      const due = [...pending];
      pending.clear();
      for (const [, callback] of due) callback();
      for (let i = 0; i < 20; i++) await tick();
    },
    get size() {
      return pending.size;
    },
  };
}

function memoryLease(): CheckLease & { holders: Map<string, string> } {
  const holders = new Map<string, string>();
  return {
    holders,
    tryAcquire: async (key, nodeId) => {
      const holder = holders.get(key);
      if (holder !== undefined && holder !== nodeId) return false;
      holders.set(key, nodeId);
      return true;
    },
    release: async (key, nodeId) => {
      if (holders.get(key) !== nodeId) return false;
      holders.delete(key);
      return true;
    },
  };
}

async function setup(t: TestContext) {
  const store = await createEmbeddedStore({ path: ':memory:' });
  const registry = createRegistry({ store, addressPolicy: createAddressPolicy() });
  await registry.start();
  t.after(async () => {
    await registry.close();
    await store.close();
  });
  return registry;
}

test('publishes critical after unhealthyThreshold failed probes and passing after healthyThreshold successes', async (t) => {
  const registry = await setup(t);
  await registry.register('orders', 'o1', { url: 'http://127.0.0.1:9001', version: '1.0.0', healthCheck });
  await registry.register('orders', 'o2', { url: 'http://127.0.0.1:9002', version: '1.0.0' });
  const healthy = { value: true };
  const probed: string[] = [];
  const clock = manualTimers();
  const checks = createRegisteredHealthChecks({
    registry,
    timers: clock.timers,
    probe: async (instance) => {
      probed.push(instance.id);
      return healthy.value;
    },
  });
  checks.start();
  t.after(() => checks.stop());

  await clock.round();
  assert.deepEqual(probed, ['o1'], 'only instances that declare a check are probed');
  healthy.value = false;
  await clock.round();
  assert.equal(registry.getInstance('orders', 'o1')?.status, 'passing', 'one failure is not enough');
  await clock.round();
  assert.equal(registry.getInstance('orders', 'o1')?.status, 'critical');
  healthy.value = true;
  await clock.round();
  assert.equal(registry.getInstance('orders', 'o1')?.status, 'critical', 'one success is not enough');
  await clock.round();
  assert.equal(registry.getInstance('orders', 'o1')?.status, 'passing');
});

test('a draining instance is not probed into another status, and a deregistered one is no longer probed', async (t) => {
  const registry = await setup(t);
  await registry.register('orders', 'o1', { url: 'http://127.0.0.1:9001', version: '1.0.0', healthCheck });
  const clock = manualTimers();
  let probes = 0;
  const checks = createRegisteredHealthChecks({
    registry,
    timers: clock.timers,
    probe: async () => {
      probes++;
      return false;
    },
  });
  checks.start();
  t.after(() => checks.stop());
  await registry.drain('orders', 'o1');
  for (let i = 0; i < 3; i++) await clock.round();
  assert.equal(registry.getInstance('orders', 'o1')?.status, 'draining');
  await registry.deregister('orders', 'o1');
  const before = probes;
  await clock.round();
  assert.equal(probes, before);
  assert.equal(clock.size, 0);
});

test('with a shared lease only one of two nodes probes an instance; the other takes over when it stops', async (t) => {
  const registry = await setup(t);
  await registry.register('orders', 'o1', { url: 'http://127.0.0.1:9001', version: '1.0.0', healthCheck });
  const lease = memoryLease();
  const clock = manualTimers();
  const probes = { a: 0, b: 0 };
  const node = (name: 'a' | 'b') =>
    createRegisteredHealthChecks({
      registry,
      lease,
      nodeId: name,
      timers: clock.timers,
      probe: async () => {
        probes[name]++;
        return true;
      },
    });
  const a = node('a');
  const b = node('b');
  a.start();
  b.start();
  t.after(() => b.stop());
  for (let i = 0; i < 4; i++) await clock.round();
  assert.deepEqual(probes, { a: 4, b: 0 });
  await a.stop();
  assert.equal(lease.holders.size, 0, 'a stopping node hands its lease back');
  for (let i = 0; i < 2; i++) await clock.round();
  assert.deepEqual(probes, { a: 4, b: 2 });
});

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { PorticoError } from '../errors/portico-error.ts';
import { createEmbeddedStore } from '../store/embedded-store.ts';
import type { RegistryChange, RegistrySnapshot, RegistryStore } from '../store/registry-store.ts';
import { createAddressPolicy } from './address-policy.ts';
import { createRegistry } from './registry.ts';

async function setup(t: TestContext) {
  const store = await createEmbeddedStore({ path: ':memory:' });
  let tick: (() => void) | undefined;
  const errors: unknown[] = [];
  const clock = { now: 1_000 };
  const registry = createRegistry({
    store,
    addressPolicy: createAddressPolicy(),
    clock: () => clock.now,
    expirySweepMs: 250,
    timers: {
      setInterval: (callback, ms) => {
        assert.equal(ms, 250);
        tick = callback;
        return 1;
      },
      clearInterval: () => (tick = undefined),
    },
    onError: (err) => errors.push(err),
  });
  await registry.start();
  t.after(async () => {
    await registry.close();
    await store.close();
  });
  return { store, registry, clock, errors, tick: () => tick?.() };
}

const body = { url: 'http://127.0.0.1:1', version: '1.0.0', ttl: '1s' };

test('the sweep timer expires leases, and a throwing listener neither stops others nor the write', async (t) => {
  const { registry, clock, errors, tick } = await setup(t);
  const seen: RegistryChange[] = [];
  registry.subscribe(() => {
    throw new Error('listener bug');
  });
  registry.subscribe((change) => seen.push(change));
  await registry.register('orders', 'o-1', body);
  clock.now += 1_001;
  tick();
  await registry.sweep();
  assert.deepEqual(
    seen.map((c) => c.reason),
    ['register', 'expire'],
  );
  assert.equal(errors.length, 2);
});

test('a health status change cannot pull an instance out of a drain', async (t) => {
  const { registry } = await setup(t);
  await registry.register('orders', 'o-1', body);
  await registry.drain('orders', 'o-1');
  const revision = registry.revision;
  assert.equal((await registry.setStatus('orders', 'o-1', 'passing')).status, 'draining');
  assert.equal(registry.revision, revision);
  await assert.rejects(registry.setStatus('orders', 'x', 'critical'), { code: 'instance_not_found' });
});

test('a sweep that cannot reach the store fails with store_unavailable and is reported', async (t) => {
  const { registry, store, errors, tick } = await setup(t);
  await store.close();
  await assert.rejects(
    registry.sweep(),
    (err) => err instanceof PorticoError && err.code === 'store_unavailable',
  );
  tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal((errors[0] as PorticoError | undefined)?.code, 'store_unavailable');
});

test('a subscriber for one service is only called for that service; unsubscribe stops it', async (t) => {
  const { registry } = await setup(t);
  const orders: string[] = [];
  const off = registry.subscribe((c) => orders.push(c.id), { service: 'orders' });
  await registry.register('billing', 'b-1', body);
  await registry.register('orders', 'o-1', body);
  off();
  await registry.register('orders', 'o-2', body);
  assert.deepEqual(orders, ['o-1']);
  assert.deepEqual(
    registry.snapshot().instances.map((i) => i.id),
    ['b-1', 'o-1', 'o-2'],
  );
});

test('a store resync replaces the copy, lowers the revision when data was lost, and notifies resync listeners', async (t) => {
  const inner = await createEmbeddedStore({ path: ':memory:' });
  let fire: ((snapshot: RegistrySnapshot) => void) | undefined;
  const store: RegistryStore = {
    kind: 'redis',
    snapshot: () => inner.snapshot(),
    upsert: (instance, reason) => inner.upsert(instance, reason),
    renew: (service, id, expiresAt) => inner.renew(service, id, expiresAt),
    remove: (service, id, reason) => inner.remove(service, id, reason),
    expire: (now) => inner.expire(now),
    changesSince: (revision) => inner.changesSince(revision),
    putContract: (service, version, document) => inner.putContract(service, version, document),
    getContract: (service, version) => inner.getContract(service, version),
    versions: inner.versions,
    onChange: (listener) => inner.onChange(listener),
    onResync(listener) {
      fire = listener;
      return () => (fire = undefined);
    },
    close: () => inner.close(),
  };
  const registry = createRegistry({ store, addressPolicy: createAddressPolicy() });
  await registry.start();
  t.after(async () => {
    await registry.close();
    await inner.close();
  });
  await registry.register('a', 'a1', body);
  await registry.register('a', 'a2', body);
  assert.equal(registry.revision, 2);
  const kept = registry.getInstance('a', 'a2');
  assert.ok(kept);
  const seen: number[] = [];
  registry.onResync((snapshot) => seen.push(snapshot.revision));
  fire?.({ revision: 1, instances: [kept] });
  assert.deepEqual(seen, [1]);
  assert.equal(registry.revision, 1);
  assert.deepEqual(
    registry.listInstances('a').map((i) => i.id),
    ['a2'],
  );
  await registry.close();
  assert.equal(fire, undefined, 'close detaches from the store');
});

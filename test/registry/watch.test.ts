import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { createAddressPolicy } from '../../src/registry/address-policy.ts';
import { createRegistryRoutes } from '../../src/registry/http-api.ts';
import { createRegistry } from '../../src/registry/registry.ts';
import { createEmbeddedStore } from '../../src/store/embedded-store.ts';
import type { RegistrySnapshot, RegistryStore } from '../../src/store/registry-store.ts';
import { eventually } from '../helpers/eventually.ts';
import { call, openWatch, startAdmin } from './admin-harness.ts';
import { startRegistryApi } from './setup.ts';

const body = (version = '1.0.0') => ({ url: 'http://127.0.0.1:3001', version, ttl: '30s' });

test('without since, the watch starts with a snapshot and then streams changes in revision order', async (t) => {
  const { base } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', body());
  const watcher = await openWatch(t, `${base}/v1/watch`);
  assert.equal(watcher.status, 200);
  assert.match(watcher.response.headers['content-type'] as string, /^text\/event-stream/);
  await eventually(() => assert.ok(watcher.events.length === 1, 'snapshot'), 2_000);
  const [snapshot] = watcher.events;
  assert.equal(snapshot?.event, 'snapshot');
  assert.equal(snapshot?.id, '1');
  assert.deepEqual(
    snapshot?.data.instances.map((i: { id: string }) => i.id),
    ['o-1'],
  );
  await call(base, 'PUT', '/v1/services/orders/instances/o-2', body());
  await call(base, 'POST', '/v1/services/orders/instances/o-1/drain');
  await call(base, 'DELETE', '/v1/services/orders/instances/o-2');
  await eventually(() => assert.ok(watcher.events.length === 4, 'three changes'), 2_000);
  assert.deepEqual(
    watcher.events.slice(1).map((e) => [e.id, e.event, e.data.reason, e.data.id]),
    [
      ['2', 'upsert', 'register', 'o-2'],
      ['3', 'upsert', 'drain', 'o-1'],
      ['4', 'delete', 'deregister', 'o-2'],
    ],
  );
});

test('resumes after Last-Event-ID, which wins over since', async (t) => {
  const { base } = await startRegistryApi(t);
  for (const id of ['o-1', 'o-2', 'o-3', 'o-4'])
    await call(base, 'PUT', `/v1/services/orders/instances/${id}`, body());
  const watcher = await openWatch(t, `${base}/v1/watch?since=0`, { 'last-event-id': '2' });
  await eventually(() => assert.ok(watcher.events.length === 2, 'replay'), 2_000);
  assert.deepEqual(
    watcher.events.map((e) => [e.id, e.data.id]),
    [
      ['3', 'o-3'],
      ['4', 'o-4'],
    ],
  );
  await call(base, 'PUT', '/v1/services/orders/instances/o-5', body());
  await eventually(() => assert.ok(watcher.events.length === 3, 'live change after replay'), 2_000);
  assert.equal(watcher.events[2]?.id, '5');
  const bySince = await openWatch(t, `${base}/v1/watch?since=4`);
  await eventually(() => assert.ok(bySince.events.length === 1, 'replay by since'), 2_000);
  assert.equal(bySince.events[0]?.id, '5');
});

test('a revision older than the change log gets a snapshot, and so does one from the future', async (t) => {
  const { base } = await startRegistryApi(t, { changeLogSize: 3 });
  for (const id of ['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']) {
    await call(base, 'PUT', `/v1/services/orders/instances/${id}`, body());
  }
  const replayable = await openWatch(t, `${base}/v1/watch?since=3`);
  await eventually(() => assert.ok(replayable.events.length === 3, 'replay of the kept log'), 2_000);
  assert.deepEqual(
    replayable.events.map((e) => e.event),
    ['upsert', 'upsert', 'upsert'],
  );
  for (const since of ['2', '99']) {
    const watcher = await openWatch(t, `${base}/v1/watch`, { 'last-event-id': since });
    await eventually(() => assert.ok(watcher.events.length === 1, 'snapshot'), 2_000);
    assert.equal(watcher.events[0]?.event, 'snapshot');
    assert.equal(watcher.events[0]?.id, '6');
    assert.equal(watcher.events[0]?.data.instances.length, 6);
  }
});

test('a watch filtered to one service sees only that service, and its subscribers are not woken by others', async (t) => {
  const { base, registry } = await startRegistryApi(t);
  let billingCalls = 0;
  registry.subscribe(() => billingCalls++, { service: 'billing' });
  const watcher = await openWatch(t, `${base}/v1/watch?service=orders`);
  await eventually(() => assert.ok(watcher.events.length === 1, 'snapshot'), 2_000);
  await call(base, 'PUT', '/v1/services/billing/instances/b-1', body());
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', body());
  await call(base, 'PUT', '/v1/services/billing/instances/b-2', body());
  await call(base, 'PUT', '/v1/services/orders/instances/o-2', body());
  await eventually(() => assert.ok(watcher.events.length === 3, 'orders changes'), 2_000);
  assert.deepEqual(
    watcher.events.slice(1).map((e) => [e.id, e.data.service]),
    [
      ['2', 'orders'],
      ['4', 'orders'],
    ],
  );
  assert.equal(billingCalls, 2);
  const resumed = await openWatch(t, `${base}/v1/watch?service=billing&since=2`);
  await eventually(() => assert.ok(resumed.events.length === 1, 'billing replay'), 2_000);
  assert.deepEqual([resumed.events[0]?.id, resumed.events[0]?.data.id], ['3', 'b-2']);
});

test('an idle watch gets keep-alive comments, and a replay that skipped changes moves the client past them', async (t) => {
  const { base } = await startRegistryApi(t, { routes: { keepAliveMs: 20 } });
  await call(base, 'PUT', '/v1/services/billing/instances/b-1', body());
  await call(base, 'PUT', '/v1/services/billing/instances/b-2', body());
  const watcher = await openWatch(t, `${base}/v1/watch?service=orders&since=0`, { 'last-event-id': '1' });
  await eventually(() => assert.ok(watcher.comments >= 2, 'keep-alives'), 2_000);
  assert.equal(watcher.events.length, 0);
  assert.equal(watcher.lastId, '2');
});

test('refuses a since that is not a revision number', async (t) => {
  const { base } = await startRegistryApi(t);
  const answer = await call(base, 'GET', '/v1/watch?since=abc');
  assert.equal(answer.status, 400);
  assert.equal(answer.body.code, 'bad_request');
});

test('a watcher that stops reading is disconnected, while the registry and other watchers carry on', async (t) => {
  const { base, registry } = await startRegistryApi(t, { routes: { maxBufferedBytes: 64 * 1024 } });
  const fast = await openWatch(t, `${base}/v1/watch`);
  const { port } = new URL(base);
  const slow = connect(Number(port), '127.0.0.1');
  t.after(() => slow.destroy());
  let slowClosed = false;
  let slowBytes = 0;
  slow.on('close', () => (slowClosed = true));
  slow.write('GET /v1/watch HTTP/1.1\r\nhost: admin\r\n\r\n');
  await new Promise((resolve) => slow.once('data', resolve));
  slow.pause();
  // Each change carries ~16 KiB of metadata: 600 of them overflow any socket buffer on the way.
  const metadata = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'x'.repeat(256)]));
  const total = 600;
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    await registry.register('orders', `o-${i}`, { ...body(), metadata });
    // Registrations arrive as separate requests, with I/O turns in between.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsed = Date.now() - started;
  await eventually(
    () => assert.ok(fast.events.length === total + 1, 'every change at the fast watcher'),
    10_000,
  );
  slow.on('data', (chunk: Buffer) => (slowBytes += chunk.length));
  slow.resume();
  await eventually(() => assert.ok(slowClosed, 'the slow watcher to be cut'), 5_000);
  assert.ok(slowBytes < total * 16 * 1024, `the slow watcher got ${slowBytes} bytes, not everything`);
  assert.equal(fast.ended, false);
  assert.ok(elapsed < 5_000, `600 registrations took ${elapsed}ms`);
});

test('after a store resync every open watch starts over from a snapshot, even when the revision went down', async (t) => {
  const inner = await createEmbeddedStore({ path: ':memory:' });
  let fire: ((snapshot: RegistrySnapshot) => void) | undefined;
  // The embedded store only resyncs in multi-process mode; this one hands the resync to the test.
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'onResync')
        return (listener: (snapshot: RegistrySnapshot) => void) => {
          fire = listener;
          return () => (fire = undefined);
        };
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as RegistryStore;
  const registry = createRegistry({ store, addressPolicy: createAddressPolicy() });
  await registry.start();
  t.after(async () => {
    await registry.close();
    await inner.close();
  });
  const base = await startAdmin(t, createRegistryRoutes(registry));
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', body());
  await call(base, 'PUT', '/v1/services/orders/instances/o-2', body());
  const watcher = await openWatch(t, `${base}/v1/watch`);
  await eventually(() => assert.ok(watcher.events.length === 1, 'first snapshot'), 2_000);
  assert.equal(watcher.events[0]?.id, '2');
  const kept = registry.getInstance('orders', 'o-2');
  assert.ok(kept && fire);
  fire({ revision: 1, instances: [kept] });
  await eventually(() => assert.ok(watcher.events.length === 2, 'snapshot after the resync'), 2_000);
  const resynced = watcher.events[1];
  assert.equal(resynced?.event, 'snapshot');
  assert.equal(resynced?.id, '1');
  assert.deepEqual(
    resynced?.data.instances.map((i: { id: string }) => i.id),
    ['o-2'],
  );
  await call(base, 'PUT', '/v1/services/orders/instances/o-3', body());
  await eventually(() => assert.ok(watcher.events.length === 3, 'a change after the resync'), 2_000);
  assert.deepEqual([watcher.events[2]?.event, watcher.events[2]?.data.id], ['upsert', 'o-3']);
});

import assert from 'node:assert/strict';
import { fsync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import { createEmbeddedStore } from './embedded-store.ts';
import type { RegistryChange, StoredInstance } from './registry-store.ts';

function instance(id: string, expiresAt = 10_000): StoredInstance {
  return {
    service: 'orders',
    id,
    url: 'http://127.0.0.1:3001/',
    version: '1.0.0',
    metadata: {},
    status: 'passing',
    ttlMs: 1_000,
    expiresAt,
    registeredAt: 0,
    updatedAt: 0,
  };
}

test('numbers every change with a monotonic revision and delivers it to listeners before the write resolves', async (t) => {
  const store = await createEmbeddedStore({ path: ':memory:' });
  t.after(() => store.close());
  const seen: RegistryChange[] = [];
  store.onChange((change) => seen.push(change));
  const first = await store.upsert(instance('a'), 'register');
  const second = await store.upsert(instance('b'), 'register');
  const removed = await store.remove('orders', 'a', 'deregister');
  assert.deepEqual([first.revision, second.revision, removed?.revision], [1, 2, 3]);
  assert.deepEqual(
    seen.map((c) => [c.revision, c.kind, c.reason, c.id]),
    [
      [1, 'upsert', 'register', 'a'],
      [2, 'upsert', 'register', 'b'],
      [3, 'delete', 'deregister', 'a'],
    ],
  );
  assert.equal(await store.remove('orders', 'a', 'deregister'), undefined);
  assert.deepEqual((await store.snapshot()).revision, 3);
});

test('renewing moves the lease end without a change, and is false for an unknown instance', async (t) => {
  const store = await createEmbeddedStore({ path: ':memory:' });
  t.after(() => store.close());
  await store.upsert(instance('a', 100), 'register');
  assert.equal(await store.renew('orders', 'a', 500), true);
  assert.equal(await store.renew('orders', 'zz', 500), false);
  const snapshot = await store.snapshot();
  assert.equal(snapshot.revision, 1);
  assert.equal(snapshot.instances[0]?.expiresAt, 500);
});

test('expire removes exactly the instances whose lease ended before now', async (t) => {
  const store = await createEmbeddedStore({ path: ':memory:' });
  t.after(() => store.close());
  await store.upsert(instance('a', 100), 'register');
  await store.upsert(instance('b', 200), 'register');
  assert.deepEqual(await store.expire(100), []);
  const expired = await store.expire(150);
  assert.deepEqual(
    expired.map((c) => [c.kind, c.reason, c.id]),
    [['delete', 'expire', 'a']],
  );
  assert.deepEqual(
    (await store.snapshot()).instances.map((i) => i.id),
    ['b'],
  );
});

test('replays changes after a revision while the log holds them, and answers undefined once trimmed', async (t) => {
  const store = await createEmbeddedStore({ path: ':memory:', changeLogSize: 3 });
  t.after(() => store.close());
  for (const id of ['a', 'b', 'c', 'd', 'e']) await store.upsert(instance(id), 'register');
  assert.deepEqual(
    (await store.changesSince(2))?.map((c) => c.revision),
    [3, 4, 5],
  );
  assert.deepEqual(await store.changesSince(5), []);
  assert.equal(await store.changesSince(1), undefined);
  assert.equal(await store.changesSince(6), undefined, 'a revision from the future');
});

test('stores contracts by service and version with their sha256', async (t) => {
  const store = await createEmbeddedStore({ path: ':memory:' });
  t.after(() => store.close());
  const hash = await store.putContract('orders', '1.0.0', '{"openapi":"3.1.0"}');
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(await store.getContract('orders', '1.0.0'), '{"openapi":"3.1.0"}');
  assert.equal(await store.getContract('orders', '2.0.0'), undefined);
});

test('keeps instances, revisions and contracts across a reopen, in WAL mode', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await createEmbeddedStore({ path: dir });
  await first.upsert(instance('a'), 'register');
  await first.putContract('orders', '1.0.0', '{}');
  await first.close();
  const second = await createEmbeddedStore({ path: dir });
  t.after(() => second.close());
  const snapshot = await second.snapshot();
  assert.equal(snapshot.revision, 1);
  assert.deepEqual(snapshot.instances, [instance('a')]);
  assert.equal((await second.upsert(instance('b'), 'register')).revision, 2);
  assert.equal(await second.getContract('orders', '1.0.0'), '{}');
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(join(dir, 'portico.db'), { readOnly: true });
  t.after(() => raw.close());
  assert.deepEqual({ ...raw.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
});

test('rejects every operation once closed', async () => {
  const store = await createEmbeddedStore({ path: ':memory:' });
  await store.close();
  await assert.rejects(store.upsert(instance('a'), 'register'), /closed/);
  await assert.rejects(store.snapshot(), /closed/);
});

test('in multi-process mode a follower that fell behind the trimmed log resyncs from a snapshot, then continues', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  const options = { path, multiProcess: true, changeLogSize: 3, pollMs: 5 };
  const writer = await createEmbeddedStore(options);
  const follower = await createEmbeddedStore(options);
  t.after(async () => {
    await writer.close();
    await follower.close();
    await rm(path, { recursive: true, force: true });
  });
  const changes: number[] = [];
  const resyncs: number[] = [];
  follower.onChange((c) => changes.push(c.revision));
  follower.onResync?.((snapshot) => resyncs.push(snapshot.revision));
  // No await between the writes: node:sqlite commits synchronously, so all ten land before the follower polls.
  const writes: Promise<RegistryChange>[] = [];
  for (let i = 0; i < 10; i++) writes.push(writer.upsert(instance(`i${i}`), 'register'));
  await Promise.all(writes);
  await eventually(() => resyncs.length === 1);
  assert.deepEqual(resyncs, [10]);
  assert.deepEqual(changes, [], 'trimmed changes are covered by the snapshot, not replayed');
  const next = await writer.upsert(instance('next'), 'register');
  await eventually(() => changes.length === 1);
  assert.deepEqual(changes, [next.revision]);
});

test('in multi-process mode a write of another process is pushed by the file watch, with no polling', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  // A poll period far beyond the test: only the watch of the WAL file can deliver the foreign change.
  const options = { path, multiProcess: true, pollMs: 60_000 };
  const a = await createEmbeddedStore(options);
  const b = await createEmbeddedStore(options);
  t.after(async () => {
    await a.close();
    await b.close();
    await rm(path, { recursive: true, force: true });
  });
  const seen: number[] = [];
  b.onChange((c) => seen.push(c.revision));
  const first = await a.upsert(instance('a'), 'register');
  await eventually(() => seen.length === 1);
  const second = await a.remove('orders', 'a', 'deregister');
  await eventually(() => seen.length === 2);
  assert.deepEqual(seen, [first.revision, second?.revision]);
});

test('in multi-process mode an own write is delivered before the write resolves, after earlier foreign ones', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  const options = { path, multiProcess: true, pollMs: 60_000 };
  const a = await createEmbeddedStore(options);
  const b = await createEmbeddedStore(options);
  t.after(async () => {
    await a.close();
    await b.close();
    await rm(path, { recursive: true, force: true });
  });
  const seen: number[] = [];
  b.onChange((c) => seen.push(c.revision));
  const foreign = await a.upsert(instance('a'), 'register');
  const own = await b.upsert(instance('b'), 'register');
  assert.deepEqual(seen, [foreign.revision, own.revision]);
});

test('concurrent writes share one commit and one fsync of the WAL, and each resolves after it', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  const held: (() => void)[] = [];
  const store = await createEmbeddedStore({
    path,
    fsync: (fd, done) => held.push(() => fsync(fd, done)),
  });
  t.after(async () => {
    for (const release of held.splice(0)) release();
    await store.close();
    await rm(path, { recursive: true, force: true });
  });
  const seen: number[] = [];
  store.onChange((c) => seen.push(c.revision));
  let resolved = 0;
  const writes = Array.from({ length: 20 }, (_, i) =>
    store.upsert(instance(`i${i}`), 'register').then((change) => {
      resolved++;
      return change;
    }),
  );
  await eventually(() => held.length === 1);
  assert.equal(resolved, 0, 'no registration resolves before its fsync');
  assert.deepEqual(seen, [], 'no change is delivered before its fsync');
  // A heartbeat changes no routing: it resolves at its commit, while the fsync is still held.
  assert.equal(await store.renew('orders', 'i0', 50_000), true);
  held.shift()?.();
  const changes = await Promise.all(writes);
  assert.deepEqual(
    changes.map((c) => c.revision),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    seen,
    changes.map((c) => c.revision),
  );
  assert.equal(held.length, 0, 'twenty registrations took one fsync');
});

test('writes that arrive during an fsync share the next one', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  const held: (() => void)[] = [];
  const store = await createEmbeddedStore({
    path,
    fsync: (fd, done) => held.push(() => fsync(fd, done)),
  });
  t.after(async () => {
    for (const release of held.splice(0)) release();
    await store.close();
    await rm(path, { recursive: true, force: true });
  });
  const first = store.upsert(instance('a'), 'register');
  await eventually(() => held.length === 1);
  const later = [store.upsert(instance('b'), 'register'), store.remove('orders', 'a', 'deregister')];
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(held.length, 1, 'the next fsync waits for the one in flight');
  held.shift()?.();
  assert.equal((await first).revision, 1);
  await eventually(() => held.length === 1);
  held.shift()?.();
  const [b, removed] = await Promise.all(later);
  assert.deepEqual([b?.revision, removed?.revision], [2, 3]);
});

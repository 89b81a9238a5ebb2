import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import { storedInstance, waitFor } from '../../src/store/registry-store.contract.ts';
import type { RegistryChange, RegistrySnapshot, RegistryStore } from '../../src/store/registry-store.ts';

/** Retries a write until Redis is back (bounded); answers the change. */
function writeWhenBack(store: RegistryStore, id: string, timeoutMs = 5000): Promise<RegistryChange> {
  return eventually(() => store.upsert(storedInstance(id), 'register'), timeoutMs);
}

test('a Redis outage fails writes fast, and the feed resumes or resyncs after the restart', async (t) => {
  const server = await startRedisServer();
  const stores: RegistryStore[] = [];
  // Stores close before the server stops, so closing does not wait on a dead connection.
  t.after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await server.stop();
  });
  const options = {
    url: server.url,
    prefix: 'portico:',
    commandTimeoutMs: 500,
    blockMs: 200,
    retryMaxMs: 100,
  };
  const writer = await createRedisStore(options);
  const follower = await createRedisStore(options);
  stores.push(writer, follower);
  const changes: RegistryChange[] = [];
  const resyncs: RegistrySnapshot[] = [];
  follower.onChange((c) => changes.push(c));
  follower.onResync?.((s) => resyncs.push(s));

  const before = await writer.upsert(storedInstance('before'), 'register');
  await waitFor(() => changes.length === 1, 5000);

  await t.test(
    'writes and reads reject with store_unavailable within a second while Redis is down',
    async () => {
      await server.stop({ keepData: true });
      const started = performance.now();
      await assert.rejects(writer.upsert(storedInstance('during'), 'register'), {
        code: 'store_unavailable',
        status: 503,
      });
      await assert.rejects(writer.renew('orders', 'before', 30_000), { code: 'store_unavailable' });
      await assert.rejects(follower.snapshot(), { code: 'store_unavailable' });
      assert.ok(performance.now() - started < 1000, 'an outage must not hold writes');
    },
  );

  await t.test('after a restart that kept the data, the follower resumes without a resync', async () => {
    await server.start();
    const after = await writeWhenBack(writer, 'after');
    assert.equal(after.revision, before.revision + 1);
    await waitFor(() => changes.length === 2, 5000);
    assert.deepEqual(
      changes.map((c) => c.id),
      ['before', 'after'],
    );
    assert.equal(resyncs.length, 0);
  });

  await t.test('after a restart that lost the data, the follower resyncs to the new state', async () => {
    await server.stop();
    await server.start();
    const lost = await writeWhenBack(writer, 'after-loss');
    assert.equal(lost.revision, 1, 'the revision counter starts over');
    await waitFor(() => resyncs.length === 1, 5000);
    const snapshot = resyncs[0];
    assert.ok(snapshot);
    // The follower may notice the loss before or after the first new write; either way it sees the write once.
    if (snapshot.revision === 0) {
      assert.deepEqual(snapshot.instances, []);
      await waitFor(() => changes.at(-1)?.id === 'after-loss', 5000);
    } else {
      assert.deepEqual(
        snapshot.instances.map((i) => i.id),
        ['after-loss'],
      );
    }
    assert.equal(changes.filter((c) => c.id === 'after-loss').length, snapshot.revision === 0 ? 1 : 0);
    assert.equal(resyncs.length, 1);
    assert.equal(
      await writer.renew('orders', 'before', 30_000),
      false,
      'a lost instance must register again',
    );
  });
});

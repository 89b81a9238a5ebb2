import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import type { RegistryChange, RegistryStore, StoredInstance } from './registry-store.ts';

/** A store under test and how to remove it (close it and delete its data) afterwards. */
export interface StoreFixture {
  readonly store: RegistryStore;
  cleanup(): Promise<void>;
  /**
   * Opens a second store on the same data, as another node or process would (optional: enables the shared-data
   * tests). The suite closes what it opens.
   */
  openPeer?(): Promise<RegistryStore>;
}

/** What a contract test may ask of the fixture factory. */
export interface ContractStoreOptions {
  /** Keep only about this many changes for replay, so the suite can check the gap answer. */
  readonly changeRetention?: number | undefined;
}

/**
 * The behaviour every {@link RegistryStore} shares. Each implementation calls this from its own test file, so the
 * registry logic above can rely on the same semantics whichever store is configured.
 *
 * @example
 * registryStoreContract('embedded', async () => {
 *   const store = await createEmbeddedStore({ path: dir });
 *   return { store, cleanup: () => store.close() };
 * });
 */
export function registryStoreContract(
  name: string,
  makeStore: (options?: ContractStoreOptions) => Promise<StoreFixture>,
): void {
  describe(`${name} store contract`, () => {
    async function open(t: { after(fn: () => Promise<void>): void }, options?: ContractStoreOptions) {
      const fixture = await makeStore(options);
      t.after(() => fixture.cleanup());
      return fixture.store;
    }

    /** Two stores on one set of data, or undefined when the fixture cannot open a peer. */
    async function openPair(t: {
      after(fn: () => Promise<void>): void;
    }): Promise<[RegistryStore, RegistryStore] | undefined> {
      const fixture = await makeStore();
      t.after(() => fixture.cleanup());
      if (fixture.openPeer === undefined) return undefined;
      const peer = await fixture.openPeer();
      t.after(() => peer.close());
      return [fixture.store, peer];
    }

    test('changes written through two stores on shared data reach both, in revision order, once each', async (t) => {
      const pair = await openPair(t);
      if (pair === undefined) return t.skip('the fixture opens no peer');
      const [a, b] = pair;
      const seenA: number[] = [];
      const seenB: number[] = [];
      a.onChange((c) => seenA.push(c.revision));
      b.onChange((c) => seenB.push(c.revision));
      const writes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 === 0 ? a : b).upsert(storedInstance(`i${i}`), 'register'),
        ),
      );
      const revisions = writes.map((w) => w.revision).sort((x, y) => x - y);
      assert.equal(new Set(revisions).size, 40, 'revisions are unique across writers');
      await waitFor(() => seenA.length >= 40 && seenB.length >= 40);
      const marker = await b.upsert(storedInstance('marker'), 'register');
      await waitFor(() => seenA.at(-1) === marker.revision && seenB.at(-1) === marker.revision);
      assert.deepEqual(seenA, [...revisions, marker.revision]);
      assert.deepEqual(seenB, [...revisions, marker.revision]);
    });

    test('expire called through two stores at once removes every ended lease exactly once', async (t) => {
      const pair = await openPair(t);
      if (pair === undefined) return t.skip('the fixture opens no peer');
      const [a, b] = pair;
      for (let i = 0; i < 200; i++)
        await a.upsert(storedInstance(`i${i}`, { expiresAt: 1000 + i }), 'register');
      const seen: RegistryChange[] = [];
      b.onChange((c) => {
        if (c.kind === 'delete') seen.push(c);
      });
      const [fromA, fromB] = await Promise.all([a.expire(5000), b.expire(5000)]);
      const ids = [...fromA, ...fromB].map((c) => c.id);
      assert.equal(ids.length, 200);
      assert.equal(new Set(ids).size, 200);
      await waitFor(() => seen.length === 200);
      assert.deepEqual((await b.snapshot()).instances, []);
    });

    test('upsert answers a change whose revision grows with every write', async (t) => {
      const store = await open(t);
      const a = storedInstance('a', { healthCheck: check, contractHash: 'f'.repeat(64) });
      const first = await store.upsert(a, 'register');
      const second = await store.upsert(storedInstance('b'), 'register');
      const third = await store.upsert({ ...a, status: 'critical' }, 'status');
      assert.deepEqual(first, {
        revision: first.revision,
        kind: 'upsert',
        reason: 'register',
        service: 'orders',
        id: 'a',
        instance: a,
      });
      assert.ok(first.revision > 0);
      assert.ok(second.revision > first.revision);
      assert.ok(third.revision > second.revision);
      assert.equal(third.instance.status, 'critical');
    });

    test('snapshot reflects registrations, replacements and removals at its revision', async (t) => {
      const store = await open(t);
      const empty = await store.snapshot();
      assert.deepEqual(empty.instances, []);
      await store.upsert(storedInstance('a'), 'register');
      await store.upsert(storedInstance('b'), 'register');
      const replaced = storedInstance('a', { version: '1.3.0', updatedAt: 2000, metadata: { zone: 'b' } });
      await store.upsert(replaced, 'update');
      const last = await store.remove('orders', 'b', 'deregister');
      const snapshot = await store.snapshot();
      assert.equal(snapshot.revision, last?.revision);
      assert.deepEqual(snapshot.instances, [replaced]);
    });

    test('renew moves the lease of a known instance without a change, and refuses an unknown one', async (t) => {
      const store = await open(t);
      const registered = await store.upsert(storedInstance('a'), 'register');
      assert.equal(await store.renew('orders', 'a', 99_000), true);
      assert.deepEqual(await store.changesSince(registered.revision), []);
      assert.equal((await store.snapshot()).instances[0]?.expiresAt, 99_000);
      assert.equal(await store.renew('orders', 'missing', 99_000), false);
      await store.remove('orders', 'a', 'deregister');
      assert.equal(await store.renew('orders', 'a', 99_000), false);
      assert.deepEqual(
        (await store.snapshot()).instances,
        [],
        'renew must not bring a removed instance back',
      );
    });

    test('renew never moves a lease back, so a late renewal cannot undo a later one', async (t) => {
      const store = await open(t);
      await store.upsert(storedInstance('a'), 'register');
      assert.equal(await store.renew('orders', 'a', 60_000), true);
      assert.equal(await store.renew('orders', 'a', 40_000), true);
      assert.equal((await store.snapshot()).instances[0]?.expiresAt, 60_000);
      assert.deepEqual(await store.expire(50_000), []);
    });

    test('remove answers the delete with the instance as it was, and undefined when it is absent', async (t) => {
      const store = await open(t);
      const a = storedInstance('a');
      const registered = await store.upsert(a, 'register');
      await store.renew('orders', 'a', 50_000);
      const removed = await store.remove('orders', 'a', 'deregister');
      assert.deepEqual(removed, {
        revision: registered.revision + 1,
        kind: 'delete',
        reason: 'deregister',
        service: 'orders',
        id: 'a',
        instance: { ...a, expiresAt: 50_000 },
      });
      assert.equal(await store.remove('orders', 'a', 'deregister'), undefined);
      assert.equal(await store.remove('billing', 'a', 'deregister'), undefined);
    });

    test('expire removes only leases that ended before now, each once', async (t) => {
      const store = await open(t);
      await store.upsert(storedInstance('a', { expiresAt: 1000 }), 'register');
      await store.upsert(storedInstance('b', { expiresAt: 2000 }), 'register');
      await store.upsert(storedInstance('c', { expiresAt: 3000 }), 'register');
      const expired = await store.expire(2000);
      assert.deepEqual(
        expired.map((c) => [c.kind, c.reason, c.id]),
        [['delete', 'expire', 'a']],
      );
      assert.deepEqual(await store.expire(2000), []);
      const [left, right] = await Promise.all([store.expire(10_000), store.expire(10_000)]);
      assert.deepEqual([...left, ...right].map((c) => c.id).sort(), ['b', 'c']);
      assert.deepEqual((await store.snapshot()).instances, []);
    });

    test('changesSince replays later changes in revision order', async (t) => {
      const store = await open(t);
      const start = (await store.snapshot()).revision;
      const written = [
        await store.upsert(storedInstance('a'), 'register'),
        await store.upsert(storedInstance('b'), 'register'),
        await store.upsert(storedInstance('a', { status: 'draining' }), 'drain'),
      ];
      const removed = await store.remove('orders', 'b', 'deregister');
      assert.ok(removed);
      written.push(removed);
      assert.deepEqual(await store.changesSince(start), written);
      assert.deepEqual(await store.changesSince(written[1]!.revision), written.slice(2));
      assert.deepEqual(await store.changesSince(removed.revision), []);
      assert.equal(
        await store.changesSince(removed.revision + 10),
        undefined,
        'a revision the store never had',
      );
    });

    test('changesSince answers undefined once the revision is no longer kept', async (t) => {
      const store = await open(t, { changeRetention: 5 });
      let last: RegistryChange | undefined;
      for (let i = 0; i < 300; i++)
        last = await store.upsert(storedInstance('a', { updatedAt: i }), 'update');
      assert.ok(last);
      assert.equal(await store.changesSince(0), undefined);
      const recent = await store.changesSince(last.revision - 3);
      assert.deepEqual(
        recent?.map((c) => c.revision),
        [last.revision - 2, last.revision - 1, last.revision],
      );
    });

    test('stores contracts per service and version and answers their sha256', async (t) => {
      const store = await open(t);
      const document = '{"openapi":"3.1.0","info":{"title":"orders","version":"1.2.0"}}';
      const hash = await store.putContract('orders', '1.2.0', document);
      assert.equal(hash, createHash('sha256').update(document).digest('hex'));
      assert.equal(await store.getContract('orders', '1.2.0'), document);
      assert.equal(await store.getContract('orders', '1.3.0'), undefined);
      assert.equal(await store.getContract('billing', '1.2.0'), undefined);
    });

    test('onChange delivers every change once, in revision order', async (t) => {
      const store = await open(t);
      const seen: RegistryChange[] = [];
      store.onChange((change) => seen.push(change));
      const written: RegistryChange[] = [];
      for (let i = 0; i < 10; i++)
        written.push(await store.upsert(storedInstance(`i${i}`, { expiresAt: 1000 + i }), 'register'));
      written.push(...(await store.expire(1003)));
      const removed = await store.remove('orders', 'i9', 'deregister');
      assert.ok(removed);
      written.push(removed);
      await waitFor(() => seen.length >= written.length);
      // One more change proves nothing else was queued behind the ones already seen.
      written.push(await store.upsert(storedInstance('marker'), 'register'));
      await waitFor(() => seen.at(-1)?.id === 'marker');
      assert.deepEqual(seen, written);
    });

    test('an unsubscribed listener and a closed store deliver nothing more', async (t) => {
      const store = await open(t);
      const dropped: RegistryChange[] = [];
      const kept: RegistryChange[] = [];
      const unsubscribe = store.onChange((change) => dropped.push(change));
      store.onChange((change) => kept.push(change));
      await store.upsert(storedInstance('a'), 'register');
      await waitFor(() => kept.length === 1);
      unsubscribe();
      await store.upsert(storedInstance('b'), 'register');
      await waitFor(() => kept.length === 2);
      assert.deepEqual(
        dropped.map((c) => c.id),
        ['a'],
      );
      await store.close();
      await store.close();
      await assert.rejects(store.upsert(storedInstance('c'), 'register'));
      assert.equal(kept.length, 2);
    });
  });
}

const check = {
  path: '/health',
  intervalMs: 5000,
  timeoutMs: 1000,
  unhealthyThreshold: 3,
  healthyThreshold: 2,
};

/** A passing `orders` instance for store tests; `overrides` replace any field. */
export function storedInstance(id: string, overrides: Partial<StoredInstance> = {}): StoredInstance {
  return {
    service: 'orders',
    id,
    url: 'http://127.0.0.1:7001',
    version: '1.2.0',
    metadata: { zone: 'a' },
    status: 'passing',
    ttlMs: 15_000,
    expiresAt: 20_000,
    registeredAt: 1000,
    updatedAt: 1000,
    ...overrides,
  };
}

/** Polls `condition` (see {@link eventually}) until it holds; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 2000, intervalMs = 5): Promise<void> {
  await eventually(
    () => assert.ok(condition(), `condition not met within ${timeoutMs} ms`),
    timeoutMs,
    intervalMs,
  );
}

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { createEmbeddedStore } from './embedded-store.ts';
import { createRedisStore } from './redis-store.ts';
import type { RegistryStore } from './registry-store.ts';

type Open = (t: { after(fn: () => Promise<void>): void }) => Promise<RegistryStore[]>;

/** Two stores over the same data, as two nodes see it: one contract for both implementations. */
const kinds: [string, Open][] = [
  [
    'embedded',
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'portico-acme-store-'));
      const a = await createEmbeddedStore({ path: dir });
      const b = await createEmbeddedStore({ path: dir });
      t.after(async () => {
        await a.close();
        await b.close();
        await rm(dir, { recursive: true, force: true });
      });
      return [a, b];
    },
  ],
  [
    'redis',
    async (t) => {
      const prefix = `portico-test:${randomUUID()}:`;
      const a = await createRedisStore({ url: sharedRedisUrl, prefix });
      const b = await createRedisStore({ url: sharedRedisUrl, prefix });
      t.after(async () => {
        await a.close();
        await b.close();
        await deleteRedisKeys(sharedRedisUrl, prefix);
      });
      return [a, b];
    },
  ],
];

for (const [kind, open] of kinds) {
  test(`${kind}: a record written by one node is read, replaced and removed by the other`, async (t) => {
    const [a, b] = await open(t);
    assert.equal(await b!.acme.get('cert:x'), undefined);
    await a!.acme.put('cert:x', 'sealed-1');
    assert.equal(await b!.acme.get('cert:x'), 'sealed-1');
    await b!.acme.put('cert:x', 'sealed-2');
    assert.equal(await a!.acme.get('cert:x'), 'sealed-2');
    assert.equal(await a!.acme.remove('cert:x'), true);
    assert.equal(await b!.acme.get('cert:x'), undefined);
    assert.equal(await b!.acme.remove('cert:x'), false);
  });

  test(`${kind}: a record written with a TTL disappears after it`, async (t) => {
    const [a, b] = await open(t);
    await a!.acme.put('challenge:t', 'answer', 200);
    assert.equal(await b!.acme.get('challenge:t'), 'answer');
    await eventually(async () => assert.equal(await b!.acme.get('challenge:t'), undefined), 5000, 50);
  });

  test(`${kind}: one node holds the order lease; the other takes it only once released or lapsed`, async (t) => {
    const [a, b] = await open(t);
    assert.equal(await a!.acme.tryLease('order:x', 'node-a', 60_000), true);
    assert.equal(await b!.acme.tryLease('order:x', 'node-b', 60_000), false);
    // The holder extends its own lease.
    assert.equal(await a!.acme.tryLease('order:x', 'node-a', 60_000), true);
    assert.equal(await b!.acme.releaseLease('order:x', 'node-b'), false);
    assert.equal(await a!.acme.releaseLease('order:x', 'node-a'), true);
    assert.equal(await b!.acme.tryLease('order:x', 'node-b', 150), true);
    assert.equal(await a!.acme.tryLease('order:x', 'node-a', 60_000), false);
    // node-b "dies": its lease lapses and node-a takes over.
    await eventually(
      async () => assert.equal(await a!.acme.tryLease('order:x', 'node-a', 60_000), true),
      5000,
      50,
    );
    assert.equal(await b!.acme.tryLease('order:x', 'node-b', 60_000), false);
  });

  test(`${kind}: two nodes racing for a free lease: exactly one wins`, async (t) => {
    const [a, b] = await open(t);
    for (let i = 0; i < 20; i++) {
      const won = await Promise.all([
        a!.acme.tryLease(`race:${i}`, 'node-a', 60_000),
        b!.acme.tryLease(`race:${i}`, 'node-b', 60_000),
      ]);
      assert.equal(won.filter(Boolean).length, 1, `round ${i}`);
    }
  });
}

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { createEmbeddedStore } from './embedded-store.ts';
import { createRedisStore } from './redis-store.ts';
import type { RegistryStore } from './registry-store.ts';
import { dayOf } from './version-store.ts';

type Open = (t: { after(fn: () => Promise<void>): void }) => Promise<RegistryStore[]>;

/** Two stores over the same data, as two nodes see it. */
const kinds: [string, Open][] = [
  [
    'embedded',
    async (t) => {
      const { mkdtemp, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const dir = await mkdtemp(join(tmpdir(), 'portico-versions-'));
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
  test(`${kind}: usage from two nodes is summed per day, version and consumer, last seen kept at the latest`, async (t) => {
    const [a, b] = await open(t);
    const today = dayOf(Date.now());
    const yesterday = dayOf(Date.now() - 86_400_000);
    await a!.versions.addUsage([
      { service: 'users', version: '1.4.0', consumer: 'app', day: today, requests: 3, lastSeenAt: 2_000 },
      { service: 'users', version: '1.4.0', consumer: 'app', day: yesterday, requests: 1, lastSeenAt: 500 },
      { service: 'other', version: '1.0.0', consumer: 'app', day: today, requests: 9, lastSeenAt: 9 },
    ]);
    await b!.versions.addUsage([
      { service: 'users', version: '1.4.0', consumer: 'app', day: today, requests: 2, lastSeenAt: 1_000 },
      { service: 'users', version: '2.0.0', consumer: 'web', day: today, requests: 5, lastSeenAt: 3_000 },
    ]);
    const rows = await a!.versions.usage('users', yesterday);
    const key = (r: { day: string; version: string; consumer: string }) =>
      `${r.day} ${r.version} ${r.consumer}`;
    assert.deepEqual(
      rows
        .map((r) => ({ key: key(r), requests: r.requests, lastSeenAt: r.lastSeenAt }))
        .sort((x, y) => (x.key < y.key ? -1 : 1)),
      [
        { key: `${yesterday} 1.4.0 app`, requests: 1, lastSeenAt: 500 },
        { key: `${today} 1.4.0 app`, requests: 5, lastSeenAt: 2_000 },
        { key: `${today} 2.0.0 web`, requests: 5, lastSeenAt: 3_000 },
      ].sort((x, y) => (x.key < y.key ? -1 : 1)),
    );
    assert.equal((await a!.versions.usage('users', today)).length, 2, 'sinceDay bounds the days read');
  });

  test(`${kind}: the first pin wins, an operator moves it, and both nodes see it`, async (t) => {
    const [a, b] = await open(t);
    assert.equal(await a!.versions.getPin('users', 'app'), undefined);
    assert.deepEqual(await a!.versions.pinIfAbsent('users', 'app', '1', 100), {
      consumer: 'app',
      version: '1',
      pinnedAt: 100,
    });
    assert.deepEqual(await b!.versions.pinIfAbsent('users', 'app', '2', 200), {
      consumer: 'app',
      version: '1',
      pinnedAt: 100,
    });
    await b!.versions.setPin('users', 'app', '2', 300);
    assert.deepEqual(await a!.versions.getPin('users', 'app'), {
      consumer: 'app',
      version: '2',
      pinnedAt: 300,
    });
    await a!.versions.pinIfAbsent('users', 'web', '1', 400);
    assert.deepEqual(
      (await b!.versions.pins('users')).map((p) => `${p.consumer}=${p.version}`),
      ['app=2', 'web=1'],
    );
    assert.equal(await a!.versions.removePin('users', 'web'), true);
    assert.equal(await a!.versions.removePin('users', 'web'), false);
    assert.deepEqual(await b!.versions.pins('other'), []);
  });
}

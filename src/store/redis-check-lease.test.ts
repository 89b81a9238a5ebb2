import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { createRedisCheckLease, type RedisCheckLease } from './redis-check-lease.ts';
import { createRedisConnection, type RedisClient } from './redis-connection.ts';

async function twoNodes(t: { after(fn: () => Promise<void>): void }) {
  const prefix = `portico-test:${randomUUID()}:`;
  const connections: RedisClient[] = [];
  t.after(async () => {
    await Promise.all(connections.map((c) => c.quit()));
    await deleteRedisKeys(sharedRedisUrl, prefix);
  });
  const leases: RedisCheckLease[] = [];
  for (let i = 0; i < 2; i++) {
    const redis = await createRedisConnection(sharedRedisUrl);
    connections.push(redis);
    leases.push(createRedisCheckLease({ redis, prefix }));
  }
  const [a, b] = leases;
  assert.ok(a && b);
  return { a, b, redis: connections[0] as RedisClient, prefix };
}

test('only one of two nodes holds the check lease of an instance', async (t) => {
  const { a, b } = await twoNodes(t);
  const results = await Promise.all([
    a.tryAcquire('orders\ni1', 'node-a', 5000),
    b.tryAcquire('orders\ni1', 'node-b', 5000),
  ]);
  assert.deepEqual(results.sort(), [false, true]);
  assert.equal(await a.tryAcquire('orders\ni2', 'node-a', 5000), true, 'leases are per instance');
});

test('the holder extends its lease and another node cannot take it meanwhile', async (t) => {
  const { a, b, redis, prefix } = await twoNodes(t);
  assert.equal(await a.tryAcquire('orders\ni1', 'node-a', 1000), true);
  assert.equal(await a.tryAcquire('orders\ni1', 'node-a', 60_000), true);
  const ttl = await redis.pttl(`${prefix}check:orders\ni1`);
  assert.ok(ttl > 1000 && ttl <= 60_000, `extended ttl ${ttl}`);
  assert.equal(await b.tryAcquire('orders\ni1', 'node-b', 60_000), false);
});

test('a lapsed lease passes to another node', async (t) => {
  const { a, b } = await twoNodes(t);
  assert.equal(await a.tryAcquire('orders\ni1', 'node-a', 30), true);
  assert.equal(await eventually(() => b.tryAcquire('orders\ni1', 'node-b', 5000), 2000, 10), true);
  assert.equal(await a.tryAcquire('orders\ni1', 'node-a', 5000), false);
});

test('only the holder can release a lease', async (t) => {
  const { a, b } = await twoNodes(t);
  await a.tryAcquire('orders\ni1', 'node-a', 60_000);
  assert.equal(await b.release('orders\ni1', 'node-b'), false);
  assert.equal(await b.tryAcquire('orders\ni1', 'node-b', 60_000), false);
  assert.equal(await a.release('orders\ni1', 'node-a'), true);
  assert.equal(await b.tryAcquire('orders\ni1', 'node-b', 60_000), true);
});

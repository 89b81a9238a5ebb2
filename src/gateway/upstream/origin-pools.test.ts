import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Instance } from './instance.ts';
import { createOriginPool, originPools, originSessions, SharedByOrigin } from './origin-pools.ts';

const settings = { connectTimeoutMs: 1000, keepAliveTimeoutMs: 4000 };

function registered(id: string, url: string): Instance {
  return new Instance({ id, service: 'orders', url, source: 'registry' }, { ...settings });
}

test('ten thousand instances on two origins hold two pools, closed with the last instance of each', async () => {
  const before = originPools.size;
  const instances: Instance[] = [];
  for (let i = 0; i < 10_000; i++)
    instances.push(registered(`i${i}`, i % 2 === 0 ? 'http://127.0.0.1:1/' : 'http://127.0.0.1:2/a'));
  const pools = new Set(instances.map((instance) => instance.pool));
  assert.equal(pools.size, 2);
  assert.equal(originPools.size, before + 2);
  const [first] = pools;
  for (const instance of instances.slice(0, -2)) await instance.close();
  assert.equal(originPools.size, before + 2, 'a pool stays while an instance uses it');
  assert.equal(first?.closed, false);
  for (const instance of instances.slice(-2)) await instance.close();
  assert.equal(originPools.size, before);
  assert.equal(first?.closed, true);
});

test('instances with different connection settings, TLS or protocol do not share a pool', async () => {
  const pools = new SharedByOrigin(createOriginPool);
  const base = {
    origin: 'https://127.0.0.1:9',
    connections: null,
    connectTimeoutMs: 1000,
    keepAliveTimeoutMs: 4000,
    lookup: undefined,
    tls: undefined,
    protocol: 'http1' as const,
  };
  const a = pools.acquire(base);
  assert.equal(pools.acquire({ ...base }), a);
  const other = [
    pools.acquire({ ...base, connectTimeoutMs: 2000 }),
    pools.acquire({ ...base, tls: { rejectUnauthorized: false } }),
    pools.acquire({ ...base, origin: 'https://127.0.0.1:10' }),
    pools.acquire({ ...base, protocol: 'h2' }),
  ];
  assert.equal(new Set([a, ...other]).size, 5);
  for (const pool of [a, a, ...other]) await pools.release(pool);
  assert.equal(pools.size, 0);
});

test('gRPC instances on one origin share one multiplexed HTTP/2 session, closed with the last of them', async () => {
  const before = originSessions.size;
  const instances: Instance[] = [];
  for (let i = 0; i < 1_000; i++) {
    instances.push(
      new Instance(
        { id: `g${i}`, service: 'greeter', url: 'http://127.0.0.1:3/', source: 'registry' },
        { ...settings, protocol: 'h2c' },
      ),
    );
  }
  const sessions = new Set(instances.map((instance) => instance.http2));
  assert.equal(sessions.size, 1);
  assert.equal(originSessions.size, before + 1);
  for (const instance of instances.slice(0, -1)) await instance.close();
  assert.equal(originSessions.size, before + 1, 'the session stays while an instance uses it');
  await instances.at(-1)?.close();
  assert.equal(originSessions.size, before);
});

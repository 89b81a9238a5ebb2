import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';

/*
 * A Redis that hangs (SIGSTOP) is not a Redis that refuses connections: commands sent meanwhile wait in its
 * sockets and run when it resumes. These tests freeze a private redis-server under a real Portico node.
 */

const config =
  (redisUrl: string) =>
  ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redisUrl}", prefix: "hung:" }
services:
  orders: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
`;

interface Answer {
  status: number;
  body: { code?: string; instances?: { id: string }[] } | undefined;
}

function caller(agent: Agent) {
  return async (url: string, method = 'GET', body?: unknown): Promise<Answer> => {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: agent,
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Answer['body']) };
  };
}

test('a registration answered 503 while Redis hangs does not take effect when Redis resumes', async (t) => {
  const redis = await startRedisServer();
  const upstream = await startUpstream('orders');
  const agent = new Agent({ connections: 4 });
  const portico = await startPortico(config(redis.url));
  const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(async () => {
    redis.resume();
    direct.disconnect();
    await portico.stop();
    await agent.close();
    await upstream.close();
    await redis.stop();
  });
  const call = caller(agent);
  const instance = { url: upstream.url, version: '1.0.0', ttl: '1m' };
  const at = (id: string) => `${portico.adminUrl}/v1/services/orders/instances/${id}`;
  assert.equal((await call(at('o1'), 'PUT', instance)).status, 201);
  // Every script this test sends to the frozen Redis has run once, so it is sent by sha and needs no reload.
  assert.equal((await call(at('o0'), 'PUT', instance)).status, 201);
  assert.equal((await call(at('o0'), 'DELETE')).status, 204);

  redis.pause();
  const late = await call(at('o2'), 'PUT', instance);
  assert.equal(late.status, 503);
  assert.equal(late.body?.code, 'store_unavailable');
  const leaving = await call(at('o1'), 'DELETE');
  assert.equal(leaving.status, 503, 'a deregistration answered 503 must not take effect either');
  redis.resume();

  // The node's one write connection runs commands in order: once o3 is in, the stale writes have run or been refused.
  await eventually(
    async () => assert.equal((await call(at('o3'), 'PUT', instance)).status, 201),
    10_000,
    100,
  );
  const listed = await call(`${portico.adminUrl}/v1/services/orders/instances`);
  assert.deepEqual(
    listed.body?.instances?.map((i) => i.id),
    ['o1', 'o3'],
  );
  await direct.connect();
  assert.deepEqual(await direct.hkeys('hung:instances'), ['orders\no1', 'orders\no3']);
});

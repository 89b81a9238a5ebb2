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
  assert.deepEqual((await direct.hkeys('hung:instances')).sort(), ['orders\no1', 'orders\no3']);
});

test('an instance heartbeating through a Redis outage longer than its lease never drops out', async (t) => {
  const redis = await startRedisServer();
  const upstream = await startUpstream('orders');
  const agent = new Agent({ connections: 8 });
  const portico = await startPortico(config(redis.url));
  const watch = new AbortController();
  let stop = false;
  const loops: Promise<void>[] = [];
  t.after(async () => {
    stop = true;
    watch.abort();
    redis.resume();
    await Promise.allSettled(loops);
    await portico.stop();
    await agent.close();
    await upstream.close();
    await redis.stop();
  });
  const call = caller(agent);
  const instance = { url: upstream.url, version: '1.0.0', ttl: '1s' };
  const at = `${portico.adminUrl}/v1/services/orders/instances/o1`;
  assert.equal((await call(at, 'PUT', instance)).status, 201);

  // Every change of the service, to prove afterwards that no lease expired.
  const stream = await fetch(`${portico.adminUrl}/v1/watch?service=orders`, {
    dispatcher: agent,
    signal: watch.signal,
  } as RequestInit);
  let events = '';
  loops.push(
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body as AsyncIterable<Uint8Array>)
        events += decoder.decode(chunk, { stream: true });
    })().catch(() => undefined),
  );

  // The instance heartbeats every ttl/4, registers again on 404 as the SDK does, and backs off 2 s after a 503:
  // so when Redis resumes right after a 503 its lease has ended and no heartbeat comes before the next sweeps.
  const heartbeats = { ok: 0, unavailable: 0, notFound: 0 };
  loops.push(
    (async () => {
      while (!stop) {
        const started = Date.now();
        const { status } = await call(`${at}/heartbeat`, 'PUT');
        if (status === 200) heartbeats.ok++;
        else if (status === 503) heartbeats.unavailable++;
        else if (status === 404) {
          heartbeats.notFound++;
          await call(at, 'PUT', instance);
        }
        const pause = status === 503 ? 2000 : Math.max(0, 250 - (Date.now() - started));
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    })(),
  );
  // Clients of the gateway and of the registry look all the time.
  const gaps: string[] = [];
  loops.push(
    (async () => {
      while (!stop) {
        const routed = await call(`${portico.url}/orders/x`);
        if (routed.status !== 200) gaps.push(`gateway answered ${routed.status}`);
        const listed = await call(`${portico.adminUrl}/v1/services/orders/instances`);
        if (listed.body?.instances?.length !== 1) gaps.push('the registry did not list the instance');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(),
  );
  await eventually(() => assert.ok(heartbeats.ok >= 2), 5000);

  redis.pause();
  const pausedAt = Date.now();
  // Longer than the 1 s lease: resumed while the instance backs off after its first refused heartbeat.
  await eventually(() => assert.ok(heartbeats.unavailable >= 1 && Date.now() - pausedAt > 2000), 10_000, 20);
  redis.resume();
  const okAtResume = heartbeats.ok;
  const resumedAt = Date.now();
  // Several sweeps and heartbeats after Redis is back.
  await eventually(
    () => assert.ok(heartbeats.ok >= okAtResume + 4 && Date.now() - resumedAt > 3000),
    15_000,
    50,
  );
  stop = true;
  await Promise.all(loops.slice(1));

  assert.equal(heartbeats.notFound, 0, 'a heartbeat got 404: the lease expired');
  assert.deepEqual(gaps, []);
  assert.doesNotMatch(events, /"reason":"expire"/);
  t.diagnostic(`heartbeats: ${JSON.stringify(heartbeats)}, outage ${resumedAt - pausedAt} ms`);
});

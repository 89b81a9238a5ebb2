import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startSentinelTopology } from '../helpers/redis-topology.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('Sentinel: after the primary is killed under load, proxied requests never fail and registrations, heartbeats and the watch feed resume on the promoted replica', async (t) => {
  const redis = await startSentinelTopology();
  t.after(() => redis.stop());
  const upstream = await startUpstream('orders');
  t.after(() => upstream.close());
  const agent = new Agent({ connections: 8 });
  t.after(() => agent.close());
  const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, sentinels: ${JSON.stringify(redis.sentinels)}, name: ${redis.name}, prefix: "ha:" }
logging: { level: warn, accessLog: false }
services:
  orders: {}
routes:
  - name: orders
    match: { path: /orders/** }
    service: orders
    rateLimit: { limit: 100000, window: 1s, by: global, onStoreFailure: local }
`;
  const [a, b] = await Promise.all([startPortico(config), startPortico(config)]);
  t.after(() => Promise.all([a.stop(), b.stop()]));

  const call = async (url: string, method: 'GET' | 'PUT' = 'GET', body?: unknown) => {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headersTimeout: 5000,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.body.dump();
    return res.statusCode;
  };
  const instance = { url: upstream.url, version: '1.0.0', ttl: '30s' };
  assert.equal(await call(`${a.adminUrl}/v1/services/orders/instances/o1`, 'PUT', instance), 201);
  await eventually(async () => assert.equal(await call(`${b.url}/orders/x`), 200), 2000);

  // Light load on both nodes for the whole test, plus a heartbeat every 200 ms.
  let running = true;
  const proxied: number[] = [];
  const heartbeats: number[] = [];
  const traffic = (async () => {
    while (running) {
      for (const node of [a, b]) proxied.push(await call(`${node.url}/orders/t`));
      await sleep(10);
    }
  })();
  const heartbeat = (async () => {
    while (running) {
      heartbeats.push(await call(`${b.adminUrl}/v1/services/orders/instances/o1/heartbeat`, 'PUT'));
      await sleep(200);
    }
  })();
  try {
    await sleep(500);
    const oldPrimary = redis.primary.port;
    await redis.primary.kill();
    const killed = Date.now();
    await eventually(async () => assert.notEqual(await redis.primaryPort(), oldPrimary), 20_000, 100);
    const promoted = Date.now();
    // A registration through node b after the failover reaches node a's routing through the watch feed.
    await eventually(
      async () =>
        assert.equal(await call(`${b.adminUrl}/v1/services/orders/instances/o2`, 'PUT', instance), 201),
      15_000,
      100,
    );
    const registered = Date.now();
    await eventually(async () => {
      const res = await request(`${a.adminUrl}/v1/services/orders/instances`, { dispatcher: agent });
      const body = (await res.body.json()) as { instances: { id: string }[] };
      assert.deepEqual(body.instances.map((i) => i.id).sort(), ['o1', 'o2']);
      // The other node's watch follower reconnects to the promoted replica with backoff; on a loaded machine
      // that has taken more than 5 s.
    }, 15_000);
    const seen = Date.now();
    const beatsBefore = heartbeats.length;
    await eventually(() => assert.ok(heartbeats.slice(beatsBefore).includes(200)), 5000);
    running = false;
    await Promise.all([traffic, heartbeat]);

    const failed = proxied.filter((status) => status !== 200);
    assert.deepEqual(failed, [], `${failed.length} of ${proxied.length} proxied requests failed`);
    // The lease of o1 outlived the failover: no heartbeat was told to register again.
    assert.ok(!heartbeats.includes(404), 'a heartbeat answered 404 (the lease was lost)');
    t.diagnostic(
      `primary killed; sentinel promoted the replica after ${promoted - killed} ms; first registration ` +
        `accepted ${registered - killed} ms after the kill, seen by the other node ${seen - registered} ms later; ` +
        `${proxied.length} proxied requests, none failed; heartbeats: ${heartbeats.filter((s) => s === 503).length} answered 503 during the failover`,
    );
  } finally {
    running = false;
    await Promise.all([traffic, heartbeat]);
  }
});

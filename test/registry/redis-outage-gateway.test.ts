import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('during a Redis outage both nodes keep routing, registry writes get 503, and registries agree afterwards', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstream = await startUpstream('orders');
  t.after(() => upstream.close());
  const agent = new Agent({ connections: 4 });
  t.after(() => agent.close());
  const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redis.url}", prefix: "outage:" }
services:
  orders: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
`;
  const nodes: PorticoProcess[] = await Promise.all([startPortico(config), startPortico(config)]);
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  const [a, b] = nodes as [PorticoProcess, PorticoProcess];

  const call = async (url: string, method = 'GET', body?: unknown) => {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: agent,
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const instance = { url: upstream.url, version: '1.0.0', ttl: '1m' };
  assert.equal((await call(`${a.adminUrl}/v1/services/orders/instances/o1`, 'PUT', instance)).status, 201);
  await eventually(async () => assert.equal((await call(`${b.url}/orders/x`)).status, 200), 1000);

  // Traffic to both nodes for the whole test; every answer must be a 200 from the known instance.
  let stop = false;
  const failures: number[] = [];
  let sent = 0;
  const traffic = (async () => {
    while (!stop) {
      for (const node of nodes) {
        const { status } = await call(`${node.url}/orders/t`);
        sent++;
        if (status !== 200) failures.push(status);
      }
    }
  })();

  await redis.stop({ keepData: true });
  const outageStart = Date.now();
  const write = await call(`${b.adminUrl}/v1/services/orders/instances/o2`, 'PUT', instance);
  assert.equal(write.status, 503);
  assert.equal(write.body.code, 'store_unavailable');
  assert.equal((await call(`${a.adminUrl}/v1/services/orders/instances/o1/heartbeat`, 'PUT')).status, 503);
  assert.equal((await call(`${a.adminUrl}/v1/services/orders/instances/o1`, 'DELETE')).status, 503);
  // Reads come from each node's copy and keep answering.
  assert.equal((await call(`${b.adminUrl}/v1/services/orders/instances`)).body.instances.length, 1);
  await eventually(() => assert.ok(Date.now() - outageStart >= 3000), 4000, 100);
  const duringOutage = sent;
  await redis.start();

  await eventually(
    async () =>
      assert.equal(
        (await call(`${b.adminUrl}/v1/services/orders/instances/o2`, 'PUT', instance)).status,
        201,
      ),
    10_000,
    100,
  );
  await eventually(async () => {
    const [ra, rb] = await Promise.all([
      call(`${a.adminUrl}/v1/services/orders/instances`),
      call(`${b.adminUrl}/v1/services/orders/instances`),
    ]);
    assert.deepEqual(
      ra.body.instances.map((i: { id: string }) => i.id),
      ['o1', 'o2'],
    );
    assert.equal(ra.body.revision, rb.body.revision);
    assert.deepEqual(
      ra.body.instances.map((i: { id: string; status: string }) => [i.id, i.status]),
      rb.body.instances.map((i: { id: string; status: string }) => [i.id, i.status]),
    );
  }, 5000);
  stop = true;
  await traffic;
  assert.ok(duringOutage > 50, `only ${duringOutage} requests sent`);
  assert.deepEqual(failures, [], `${failures.length} failed of ${sent}`);
});

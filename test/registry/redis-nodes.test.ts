import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const prefix = `portico-test:${randomUUID()}:`;
const agent = new Agent({ connections: 8 });
let a: PorticoProcess;
let b: PorticoProcess;
const upstreams: TestUpstream[] = [];

const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}" }
services:
  orders: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
`;

before(async () => {
  [a, b] = await Promise.all([startPortico(config), startPortico(config)]);
});

after(async () => {
  await Promise.all([a.stop(), b.stop()]);
  await Promise.all(upstreams.map((u) => u.close()));
  await agent.close();
  await deleteRedisKeys(sharedRedisUrl, prefix);
});

async function put(node: PorticoProcess, path: string, body?: unknown): Promise<number> {
  const res = await fetch(node.adminUrl + path, {
    method: body === undefined ? 'DELETE' : 'PUT',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
  } as RequestInit);
  await res.arrayBuffer();
  return res.status;
}

async function status(node: PorticoProcess, path: string): Promise<number> {
  const res = await fetch(node.url + path, { dispatcher: agent } as RequestInit);
  await res.arrayBuffer();
  return res.status;
}

test('an instance registered at node A is routed at node B within 100 ms', async () => {
  const u = await startUpstream('orders');
  upstreams.push(u);
  const latencies: number[] = [];
  for (let i = 0; i < 10; i++) {
    assert.equal(await put(a, `/v1/services/orders/instances/o${i}`, { url: u.url, version: '1.0.0' }), 201);
    const start = performance.now();
    while ((await status(b, `/orders/${i}`)) !== 200) {
      assert.ok(performance.now() - start < 1000, 'not routable at B within 1 s');
    }
    latencies.push(performance.now() - start);
    assert.equal(await put(a, `/v1/services/orders/instances/o${i}`), 204);
    const gone = performance.now();
    while ((await status(b, `/orders/${i}`)) !== 503) {
      assert.ok(performance.now() - gone < 1000, 'still routed at B 1 s after deregistration');
    }
  }
  // The median, not the slowest: on a busy shared machine one of ten can meet a scheduling pause (each one is
  // bounded by the 1 s checks above).
  const median = latencies.sort((x, y) => x - y)[5] ?? Infinity;
  assert.ok(
    median < 100,
    `median ${median.toFixed(1)} ms of ${latencies.map((l) => l.toFixed(0)).join(', ')}`,
  );
});

test('an instance failing its declared health check is critical on both nodes, and probed by one node only', async () => {
  const u = await startUpstream('checked');
  upstreams.push(u);
  const health = { status: 200 };
  u.handler = (req, res) => {
    res.writeHead(req.url === '/health' ? health.status : 200, { 'content-type': 'application/json' });
    res.end('{}');
  };
  const healthCheck = {
    path: '/health',
    interval: '1s',
    timeout: '200ms',
    unhealthyThreshold: 2,
    healthyThreshold: 1,
  };
  assert.equal(
    await put(a, '/v1/services/orders/instances/checked', { url: u.url, version: '1.0.0', healthCheck }),
    201,
  );
  const probes = () => u.requests.filter((r) => r.url === '/health').length;
  await eventually(() => assert.ok(probes() >= 1), 3000, 50);
  // One prober at a 1 s interval needs about 3 s for 3 more probes; two would need about 1.5 s.
  const first = probes();
  const start = Date.now();
  await eventually(() => assert.ok(probes() >= first + 3), 6000, 20);
  assert.ok(Date.now() - start >= 2500, `3 probes in ${Date.now() - start} ms: more than one node probes`);

  health.status = 503;
  const instanceStatus = async (node: PorticoProcess) => {
    const res = await fetch(`${node.adminUrl}/v1/services/orders/instances`, {
      dispatcher: agent,
    } as RequestInit);
    return ((await res.json()) as { instances: { id: string; status: string }[] }).instances.find(
      (i) => i.id === 'checked',
    )?.status;
  };
  await eventually(async () => assert.equal(await instanceStatus(b), 'critical'), 4000, 50);
  assert.equal(await instanceStatus(a), 'critical');
  health.status = 200;
  await eventually(async () => assert.equal(await instanceStatus(a), 'passing'), 4000, 50);
  await eventually(async () => assert.equal(await instanceStatus(b), 'passing'), 1000, 20);
  assert.equal(await put(a, '/v1/services/orders/instances/checked'), 204);
});

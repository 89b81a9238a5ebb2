import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

interface ClusterStatus {
  workers: { id: number; pid: number; requests: number }[];
  restarts: number;
}

let portico: PorticoProcess;
let orders: TestUpstream;
let limited: TestUpstream;

const config = (ports: { port: number; adminPort: number }, extraRoutes = ''): string => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: warn, accessLog: false }
workers: 2
services:
  orders: { instances: [{ url: "${orders.url}" }] }
  limited: { instances: [{ url: "${limited.url}" }] }
  dynamic: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
  - { name: dynamic, match: { path: /dynamic/** }, service: dynamic }
  - name: limited
    match: { path: /limited/** }
    service: limited
    rateLimit: { limit: 100, window: 10s, by: global }
${extraRoutes}`;

/** One request on a connection of its own: node:cluster hands each new connection to the next worker. */
async function fresh(url: string, init: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; body?: string } = {}) {
  const res = await request(url, {
    method: init.method ?? 'GET',
    body: init.body,
    // A connection handed to a worker at the moment it is killed is lost; fail fast so a poll can retry.
    headersTimeout: 3000,
    bodyTimeout: 3000,
    headers:
      init.body === undefined
        ? { connection: 'close' }
        : { connection: 'close', 'content-type': 'application/json' },
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function clusterStatus(): Promise<ClusterStatus> {
  const res = await fresh(`${portico.adminUrl}/v1/cluster`);
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text) as ClusterStatus;
}

before(async () => {
  orders = await startUpstream('orders');
  limited = await startUpstream('limited');
  portico = await startPortico((ports) => config(ports));
  await eventually(async () => assert.equal((await clusterStatus()).workers.length, 2), 15_000, 50);
});

after(async () => {
  // SIGTERM, not SIGKILL: a killed primary would leave its workers to notice the lost channel on their own.
  await portico?.stop('SIGTERM');
  await orders?.close();
  await limited?.close();
});

test('requests on separate connections are served by both workers and counted node-wide', async () => {
  const before = await clusterStatus();
  for (let i = 0; i < 10; i++) assert.equal((await fresh(`${portico.url}/orders/${i}`)).status, 200);
  const status = await clusterStatus();
  const served = status.workers.map(
    (w) => w.requests - (before.workers.find((b) => b.id === w.id)?.requests ?? 0),
  );
  assert.equal(status.workers.length, 2);
  assert.ok(
    served.every((n) => n > 0),
    `both workers must serve: ${JSON.stringify(served)}`,
  );
  assert.notEqual(status.workers[0]?.pid, status.workers[1]?.pid);
  // Whichever worker answers the scrape, the counter is the node's: all ten requests, not one worker's share.
  for (let i = 0; i < 2; i++) {
    const metrics = (await fresh(`${portico.adminUrl}/metrics`)).text;
    assert.match(metrics, /portico_http_requests_total\{route="orders",method="GET",status="200"\} 10\n/);
    assert.match(metrics, /portico_workers 2\n/);
  }
});

test('an instance registered through one worker is routable through every worker at once', async (t) => {
  const latencies: number[] = [];
  const dynamic: TestUpstream[] = [];
  t.after(() => Promise.all(dynamic.map((u) => u.close())));
  for (let i = 0; i < 5; i++) {
    const u = await startUpstream(`dynamic-${i}`);
    dynamic.push(u);
    const started = performance.now();
    const put = await fresh(`${portico.adminUrl}/v1/services/dynamic/instances/d${i}`, {
      method: 'PUT',
      body: JSON.stringify({ url: u.url, version: '1.0.0' }),
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    if (i > 0) {
      const del = await fresh(`${portico.adminUrl}/v1/services/dynamic/instances/d${i - 1}`, {
        method: 'DELETE',
      });
      assert.ok(del.status < 300, del.text);
    }
    // Two fresh connections in a row reach both workers; each must route to the new instance within 250 ms.
    for (let c = 0; c < 2; c++) {
      await eventually(
        async () => {
          const res = await fresh(`${portico.url}/dynamic/x`);
          assert.equal(res.status, 200);
          assert.equal((JSON.parse(res.text) as { upstream: string }).upstream, `dynamic-${i}`);
        },
        250,
        2,
      );
    }
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  t.diagnostic(
    `registration to routable on both workers (PUT + 2 requests), ms: median ${latencies[2]?.toFixed(1)}, max ${latencies[4]?.toFixed(1)}`,
  );
});

test('a rate limit holds for the node, not per worker, under concurrent clients on many connections', async () => {
  const agent = new Agent({ connections: 8, pipelining: 1 });
  const before = await clusterStatus();
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const res = await request(`${portico.url}/limited/x`, { dispatcher: agent });
      await res.body.dump();
      return res.statusCode;
    }),
  );
  const elapsedMs = performance.now() - started;
  await agent.close();
  const allowed = statuses.filter((s) => s === 200).length;
  assert.equal(allowed + statuses.filter((s) => s === 429).length, 300);
  // GCRA: a burst of 100, then one request every 100 ms. Per-worker budgets would let about 200 through.
  const ceiling = 100 + Math.ceil(elapsedMs / 100) + 1;
  assert.ok(
    allowed >= 100 && allowed <= ceiling,
    `${allowed} allowed in ${elapsedMs.toFixed(0)} ms (≤ ${ceiling})`,
  );
  const status = await clusterStatus();
  const served = status.workers.map(
    (w) => w.requests - (before.workers.find((b) => b.id === w.id)?.requests ?? 0),
  );
  assert.ok(
    served.every((n) => n > 50),
    `the load must be spread over both workers: ${JSON.stringify(served)}`,
  );
});

test('a reload reaches every worker, from a file change and from the admin call on any worker', async () => {
  await portico.writeConfig(
    config(portico, '  - { name: from-file, match: { path: /from-file/** }, service: orders }\n'),
  );
  await eventually(async () => {
    for (let i = 0; i < 2; i++) assert.equal((await fresh(`${portico.url}/from-file/x`)).status, 200);
  }, 5000);

  await portico.writeConfig('routes: [ { name: broken } ]\n');
  const rejected = await fresh(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
  assert.equal(rejected.status, 422);
  assert.ok((JSON.parse(rejected.text) as { errors: unknown[] }).errors.length > 0);
  for (let i = 0; i < 2; i++) assert.equal((await fresh(`${portico.url}/from-file/x`)).status, 200);

  await portico.writeConfig(
    config(portico, '  - { name: from-admin, match: { path: /from-admin/** }, service: orders }\n'),
  );
  const applied = await fresh(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
  assert.equal(applied.status, 200, applied.text);
  // The call answers once every worker applied it: no polling here.
  for (let i = 0; i < 4; i++) assert.equal((await fresh(`${portico.url}/from-admin/x`)).status, 200);
});

test('a killed worker is restarted and counted', async () => {
  const before = await clusterStatus();
  const victim = before.workers[0];
  assert.ok(victim);
  process.kill(victim.pid, 'SIGKILL');
  const after = await eventually(
    async () => {
      const status = await clusterStatus();
      assert.equal(status.workers.length, 2);
      assert.ok(!status.workers.some((w) => w.pid === victim.pid));
      return status;
    },
    15_000,
    100,
  );
  assert.equal(after.restarts, before.restarts + 1);
  const metrics = (await fresh(`${portico.adminUrl}/metrics`)).text;
  assert.match(metrics, new RegExp(`portico_worker_restarts_total ${after.restarts}\\n`));
  for (let i = 0; i < 4; i++) assert.equal((await fresh(`${portico.url}/orders/x`)).status, 200);
});

test('SIGTERM drains an in-flight request on every worker and the node exits 0', async (t) => {
  const slow = await startUpstream('slow');
  t.after(() => slow.close());
  slow.fault = { kind: 'delay', ms: 800 };
  slow.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"upstream":"slow"}');
  };
  const node = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
workers: 2
shutdownTimeout: 10s
services:
  slow: { instances: [{ url: "${slow.url}" }] }
routes:
  - { name: slow, match: { path: /slow/** }, service: slow }
`,
  );
  t.after(() => node.stop('SIGKILL'));
  await eventually(async () => {
    const res = await fresh(`${node.adminUrl}/v1/cluster`);
    assert.equal((JSON.parse(res.text) as ClusterStatus).workers.length, 2);
  }, 15_000);
  // Two slow requests on two connections: one in flight on each worker.
  const inflight = [0, 1].map(() => fresh(`${node.url}/slow/x`));
  await eventually(() => assert.equal(slow.requests.length, 2));
  const exited = node.stop('SIGTERM');
  const answers = await Promise.all(inflight);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200],
  );
  assert.equal(await exited, 0);
  assert.equal(node.output().match(/"msg":"portico stopped"/g)?.length, 2, node.output());
});

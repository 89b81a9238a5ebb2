import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertProblem, send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

function json(body: unknown): TestUpstream['handler'] {
  return (_req, res) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}

describe('bulkheads, fallbacks and aggregates', () => {
  let slow: TestUpstream;
  let fast: TestUpstream;
  let users: TestUpstream;
  let orders: TestUpstream;
  let carts: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    [slow, fast, users, orders, carts] = await Promise.all([
      startUpstream('slow'),
      startUpstream('fast'),
      startUpstream('users'),
      startUpstream('orders'),
      startUpstream('carts'),
    ]);
    slow.fault = { kind: 'delay', ms: 600 };
    portico = await startPortico(
      ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  slow: { instances: [{ url: "${slow.url}" }], bulkhead: { maxConcurrent: 2, queue: 1 } }
  fast: { instances: [{ url: "${fast.url}" }] }
  users: { instances: [{ url: "${users.url}" }], retries: { attempts: 1, on: [connect-failure, 503] } }
  orders: { instances: [{ url: "${orders.url}" }] }
  carts: { instances: [{ url: "${carts.url}" }] }
  gone: { instances: [{ url: "http://127.0.0.1:1" }], healthCheck: { path: /h, interval: 50ms, timeout: 50ms, unhealthyThreshold: 1 } }
routes:
  - { name: slow, match: { path: /slow/** }, service: slow }
  - { name: fast, match: { path: /fast/** }, service: fast }
  - name: status
    match: { path: /status }
    service: gone
    fallback: { status: 200, body: { status: degraded } }
aggregates:
  - name: dashboard
    match: { path: "/dashboard/{userId}", methods: [GET] }
    calls:
      user: { service: users, path: "/users/{userId}" }
      orders: { service: orders, path: "/orders?user={userId}", optional: true, timeout: 300ms }
      cart: { service: carts, path: "/carts/{user.cartId}", after: user, optional: true }
`,
    );
  });
  after(async () => {
    await portico.stop();
    await Promise.all([slow, fast, users, orders, carts].map((u) => u.close()));
  });

  test('a slow service saturating its bulkhead is refused at once while a fast service keeps its latency', async () => {
    const started = Date.now();
    const slowCalls = Array.from({ length: 6 }, () =>
      send(`${portico.url}/slow/x`).then((res) => ({ res, ms: Date.now() - started })),
    );
    const fastLatencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      assert.equal((await send(`${portico.url}/fast/x`)).status, 200);
      fastLatencies.push(Date.now() - t0);
    }
    const results = await Promise.all(slowCalls);
    const served = results.filter(({ res }) => res.status === 200);
    const refused = results.filter(({ res }) => res.status === 503);
    assert.equal(served.length, 3, '2 slots and 1 queue place');
    assert.equal(refused.length, 3);
    for (const { res, ms } of refused) {
      assertProblem(res, 503, 'overloaded');
      assert.ok(ms < 400, `refused after ${ms}ms instead of at once`);
    }
    assert.ok(Math.max(...fastLatencies) < 300, `fast service latencies ${fastLatencies.join(', ')}ms`);
  });

  test('a route whose service has no healthy instance answers its fallback', async () => {
    // The first health check takes the unreachable instance out of rotation.
    const res = await eventually(async () => {
      const answer = await send(`${portico.url}/status`);
      assert.equal(answer.status, 200);
      return answer;
    });
    assert.deepEqual(res.json(), { status: 'degraded' });
    assert.equal(res.headers['portico-fallback'], 'true');
  });

  test('an aggregate merges its calls; latency is that of the slowest path, not the sum', async () => {
    users.fault = { kind: 'delay', ms: 200 };
    users.handler = json({ id: 'u1', cartId: 'c9' });
    orders.fault = { kind: 'delay', ms: 250 };
    orders.handler = json([{ id: 'o1' }]);
    carts.fault = { kind: 'delay', ms: 200 };
    carts.handler = json({ items: 2 });
    const started = Date.now();
    const res = await send(`${portico.url}/dashboard/u1`, { headers: { authorization: 'Bearer t' } });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), {
      user: { id: 'u1', cartId: 'c9' },
      orders: [{ id: 'o1' }],
      cart: { items: 2 },
    });
    assert.equal(res.headers['portico-partial'], undefined);
    // user → cart is the slowest path (400ms); the sum of the three would be 650ms.
    assert.ok(elapsed >= 390 && elapsed < 600, `aggregate took ${elapsed}ms`);
    assert.equal(carts.requests.at(-1)?.url, '/carts/c9');
    assert.equal(orders.requests.at(-1)?.url, '/orders?user=u1');
    assert.equal(orders.requests.at(-1)?.headers.authorization, 'Bearer t', 'credentials go with every call');
  });

  test('a failing optional call leaves its key null, is listed under errors and marks the answer partial', async () => {
    users.fault = { kind: 'none' };
    carts.fault = { kind: 'none' };
    orders.fault = { kind: 'hang' };
    const res = await send(`${portico.url}/dashboard/u1`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['portico-partial'], 'true');
    const body = res.json<{ orders: unknown; cart: unknown; errors: { call: string; code: string }[] }>();
    assert.equal(body.orders, null);
    assert.deepEqual(body.cart, { items: 2 });
    assert.deepEqual(
      body.errors.map((e) => [e.call, e.code]),
      [['orders', 'upstream_timeout']],
    );
    orders.fault = { kind: 'none' };
  });

  test('a failing required call answers 502 aggregate_failed naming the call', async () => {
    users.fault = { kind: 'status', status: 500 };
    const res = await send(`${portico.url}/dashboard/u1`);
    assertProblem(res, 502, 'aggregate_failed');
    const body = res.json<{ call: string; cause: { code: string; status: number } }>();
    assert.equal(body.call, 'user');
    assert.deepEqual(body.cause, { code: 'upstream_status', status: 500 });
    users.fault = { kind: 'none' };
  });
});

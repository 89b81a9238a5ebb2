import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { assertProblem, send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

function json(body: unknown): NonNullable<TestUpstream['handler']> {
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

  test('a slow service saturating its bulkhead is refused at once while a fast service keeps answering', async () => {
    // The slow service holds its answers until the test lets them go, so "at once" needs no clock: the
    // refusals and the fast service's answers must all arrive while both slots are still taken.
    const held: ServerResponse[] = [];
    slow.handler = (_req, res) => void held.push(res);
    const statuses: number[] = [];
    const slowCalls = Array.from({ length: 6 }, () =>
      send(`${portico.url}/slow/x`).then((res) => {
        statuses.push(res.status);
        return res;
      }),
    );
    await eventually(() => assert.equal(statuses.length, 3, 'the calls past 2 slots and 1 queue place'));
    assert.deepEqual(statuses, [503, 503, 503]);
    // The refusals can come back before the two admitted calls reach the service.
    await eventually(() => assert.equal(held.length, 2, 'both slots taken, the third call queued'));
    for (let i = 0; i < 10; i++) assert.equal((await send(`${portico.url}/fast/x`)).status, 200);
    assert.equal(statuses.length, 3, 'the slow calls were still held while the fast service answered');
    const release = (res: ServerResponse): void => void res.writeHead(200).end('{}');
    held.splice(0).forEach(release);
    await eventually(() => assert.equal(held.length, 1, 'the queued call got a slot'));
    held.splice(0).forEach(release);
    const results = await Promise.all(slowCalls);
    assert.equal(results.filter((res) => res.status === 200).length, 3, '2 slots and 1 queue place');
    for (const res of results.filter((r) => r.status !== 200)) assertProblem(res, 503, 'overloaded');
    slow.handler = undefined;
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

  test('an aggregate merges its calls: independent calls run at once, a dependent call after the one it needs', async () => {
    // No clock: `user` and `orders` each answer only once the other has arrived, so they pass only when the
    // gateway runs them side by side (one after the other, the first would wait for the second until its
    // 5 s bound and fail). `cart` needs `user`'s answer and records whether it came after it.
    const arrived = { user: false, orders: false };
    let userAnswered = false;
    let cartAfterUser: boolean | undefined;
    const meet = (
      own: 'user' | 'orders',
      other: 'user' | 'orders',
      body: unknown,
    ): TestUpstream['handler'] => {
      const answer = json(body);
      return (req, res) => {
        arrived[own] = true;
        const deadline = Date.now() + 5000;
        const poll = (): void => {
          if (arrived[other]) {
            if (own === 'user') userAnswered = true;
            answer(req, res);
          } else if (Date.now() > deadline) res.writeHead(500).end();
          else setTimeout(poll, 5);
        };
        poll();
      };
    };
    users.handler = meet('user', 'orders', { id: 'u1', cartId: 'c9' });
    orders.handler = meet('orders', 'user', [{ id: 'o1' }]);
    const cart = json({ items: 2 });
    carts.handler = (req, res) => {
      cartAfterUser = userAnswered;
      cart(req, res);
    };
    const res = await send(`${portico.url}/dashboard/u1`, { headers: { authorization: 'Bearer t' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), {
      user: { id: 'u1', cartId: 'c9' },
      orders: [{ id: 'o1' }],
      cart: { items: 2 },
    });
    assert.equal(res.headers['portico-partial'], undefined);
    assert.equal(cartAfterUser, true, 'cart started once user had answered');
    assert.equal(carts.requests.at(-1)?.url, '/carts/c9');
    assert.equal(orders.requests.at(-1)?.url, '/orders?user=u1');
    assert.equal(orders.requests.at(-1)?.headers.authorization, 'Bearer t', 'credentials go with every call');
    users.handler = json({ id: 'u1', cartId: 'c9' });
    orders.handler = json([{ id: 'o1' }]);
    carts.handler = json({ items: 2 });
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

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerParent = `00-${callerTrace}-00f067aa0ba902b7-01`;
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

let portico: PorticoProcess;
let users: TestUpstream;
let orders: TestUpstream;

before(async () => {
  users = await startUpstream('users');
  orders = await startUpstream('orders');
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: true }
services:
  users: { instances: [{ url: ${users.url} }] }
  orders: { instances: [{ url: ${orders.url} }] }
routes:
  - { name: users, match: { path: /users/** }, service: users }
aggregates:
  - name: profile
    match: { path: "/profile/{id}", methods: [GET] }
    calls:
      user: { service: users, path: "/users/{id}" }
      orders: { service: orders, path: "/orders?user={id}" }
`,
  );
});

after(async () => {
  await portico?.stop();
  await users?.close();
  await orders?.close();
});

function lastHeaders(upstream: TestUpstream): Record<string, string | string[] | undefined> {
  const last = upstream.requests.at(-1);
  assert.ok(last !== undefined, `${upstream.name} received a request`);
  return last.headers;
}

/** The access log line of the request with this id. */
async function accessLog(requestId: string): Promise<{ traceId: string; spanId: string }> {
  return eventually(() => {
    for (const line of portico.output().split('\n')) {
      if (!line.includes(requestId) || !line.includes('"msg":"request"')) continue;
      return JSON.parse(line) as { traceId: string; spanId: string };
    }
    throw new Error(`no access log line for ${requestId}`);
  });
}

test('continues the caller trace through a route with the gateway own span', async () => {
  const res = await fetch(`${portico.url}/users/7`, {
    headers: {
      traceparent: callerParent,
      tracestate: 'rojo=00f067aa0ba902b7',
      'x-request-id': 'trace-route-1',
    },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  const headers = lastHeaders(users);
  const match = traceparentPattern.exec(String(headers.traceparent));
  assert.ok(match, `upstream traceparent ${String(headers.traceparent)}`);
  assert.equal(match[1], callerTrace);
  assert.notEqual(match[2], '00f067aa0ba902b7', 'the gateway sends its own span id, not the caller span');
  assert.equal(match[3], '01');
  assert.equal(headers.tracestate, 'rojo=00f067aa0ba902b7');
  const log = await accessLog('trace-route-1');
  assert.equal(log.traceId, callerTrace);
  assert.equal(log.spanId, match[2]);
});

test('starts a new trace when the caller sent none or a malformed one, dropping its tracestate', async () => {
  const seen = new Set<string>();
  for (const headers of [{}, { traceparent: 'not-a-trace', tracestate: 'rojo=1' }]) {
    const res = await fetch(`${portico.url}/users/8`, { headers });
    await res.arrayBuffer();
    const upstream = lastHeaders(users);
    const match = traceparentPattern.exec(String(upstream.traceparent));
    assert.ok(match, `upstream traceparent ${String(upstream.traceparent)}`);
    assert.equal(upstream.tracestate, undefined);
    seen.add(match[1] as string);
  }
  assert.equal(seen.size, 2, 'each request starts its own trace');
});

test('every call of an aggregate carries the caller trace and the same gateway span', async () => {
  const res = await fetch(`${portico.url}/profile/42`, {
    headers: { traceparent: callerParent, 'x-request-id': 'trace-aggregate-1' },
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(body));
  const fromUsers = traceparentPattern.exec(String(lastHeaders(users).traceparent));
  const fromOrders = traceparentPattern.exec(String(lastHeaders(orders).traceparent));
  assert.ok(fromUsers && fromOrders);
  assert.equal(fromUsers[1], callerTrace);
  assert.equal(fromOrders[1], callerTrace);
  assert.equal(fromUsers[2], fromOrders[2], 'both calls are children of the one gateway span');
  assert.notEqual(fromUsers[2], '00f067aa0ba902b7');
  const log = await accessLog('trace-aggregate-1');
  assert.equal(log.spanId, fromUsers[2]);
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem, send } from '../gateway/client.ts';
import { freePort } from '../helpers/free-port.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let live: TestUpstream;
let resetting: TestUpstream;
let other: TestUpstream;

before(async () => {
  [live, resetting, other] = await Promise.all([
    startUpstream('live'),
    startUpstream('resetting'),
    startUpstream('other'),
  ]);
  resetting.fault = { kind: 'reset' };
  // Nothing listens there: every connection is refused.
  const dead = `http://127.0.0.1:${await freePort()}`;
  portico = await startPortico(
    ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  refusing:
    instances: [{ url: "${dead}" }, { url: "${live.url}" }]
    outlierDetection: { enabled: false }
    retries: { attempts: 1, on: [connect-failure] }
  resetting:
    instances: [{ url: "${resetting.url}" }, { url: "${other.url}" }]
    outlierDetection: { enabled: false }
    retries: { attempts: 1, on: [connect-failure] }
routes:
  - { name: refusing, match: { path: /refusing }, service: refusing }
  - { name: resetting, match: { path: /resetting }, service: resetting }
aggregates:
  - name: submit
    match: { path: /submit, methods: [POST] }
    calls:
      order: { service: refusing, path: /orders, method: POST }
`,
  );
});

after(async () => {
  await portico?.stop();
  await Promise.all([live?.close(), resetting?.close(), other?.close()]);
});

test('a refused connection is retried on another instance whatever the method: nothing was sent', async () => {
  for (const method of ['POST', 'PATCH', 'POST', 'PATCH', 'GET', 'DELETE']) {
    const res = await send(`${portico.url}/refusing`, { method });
    assert.equal(res.status, 200, `${method}: ${res.text}`);
  }
  assert.equal(live.requests.length, 6, 'every request reached the live instance, half of them on a retry');
});

test('a connection reset after the request was sent is retried for idempotent methods only', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await send(`${portico.url}/resetting`, { method: 'POST' });
    if (res.status !== 200) assertProblem(res, 502, 'upstream_unavailable');
    statuses.push(res.status);
  }
  assert.equal(
    statuses.filter((status) => status === 502).length,
    resetting.requests.length,
    'every POST that reached the resetting instance failed',
  );
  assert.ok(resetting.requests.length > 0, 'the balancer sent POSTs to the resetting instance');
  const seen = resetting.requests.length;
  for (let i = 0; i < 4; i++) assert.equal((await send(`${portico.url}/resetting`)).status, 200);
  assert.ok(resetting.requests.length > seen, 'GETs reached the resetting instance and were retried');
});

test('an aggregate call refused by one instance is retried on another, POST included', async () => {
  for (let i = 0; i < 4; i++) {
    const res = await send(`${portico.url}/submit`, { method: 'POST' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ order: { method?: string } | null }>().order?.method, 'POST');
  }
  const posts = live.requests.filter((r) => r.url === '/orders' && r.method === 'POST');
  assert.equal(posts.length, 4, 'every call reached the live instance, half of them on a retry');
});

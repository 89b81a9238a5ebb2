import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import type { Json } from './admin-harness.ts';

const run = promisify(execFile);
const agent = new Agent({ connections: 8 });
let portico: PorticoProcess;
const upstreams: TestUpstream[] = [];

before(async () => {
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
services:
  orders: {}
  flaky:
    outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 1s }
  checked: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
  - { name: flaky, match: { path: /flaky/** }, service: flaky }
  - { name: checked, match: { path: /checked/** }, service: checked }
`,
  );
});

after(async () => {
  await portico.stop();
  await Promise.all(upstreams.map((u) => u.close()));
  await agent.close();
});

async function upstream(name: string): Promise<TestUpstream> {
  const u = await startUpstream(name);
  upstreams.push(u);
  return u;
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(portico.adminUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function get(path: string): Promise<{ status: number; upstream: string | undefined }> {
  const res = await fetch(portico.url + path, { dispatcher: agent } as RequestInit);
  const text = await res.text();
  let name: string | undefined;
  try {
    name = (JSON.parse(text) as { upstream?: string }).upstream;
  } catch {
    name = undefined;
  }
  return { status: res.status, upstream: name };
}

test('a registration is routable by the first request after its 2xx, and a deregistration stops traffic at once', async () => {
  const u = await upstream('fast');
  let extraPolls = 0;
  // The registry applies a change to the gateway's instance sets before it answers the PUT, so the very
  // first request after the 2xx is routed (the change-to-routable latency is measured in bench/, not here).
  for (let i = 0; i < 30; i++) {
    const put = await admin('PUT', `/v1/services/orders/instances/r${i}`, { url: u.url, version: '1.0.0' });
    assert.equal(put.status, 201);
    const deadline = performance.now() + 1000;
    while ((await get(`/orders/${i}`)).status !== 200) {
      extraPolls++;
      assert.ok(performance.now() < deadline, `registration ${i} not routable within 1 s`);
    }
    assert.equal((await admin('DELETE', `/v1/services/orders/instances/r${i}`)).status, 204);
    assert.equal((await get(`/orders/${i}`)).status, 503, 'a deregistered instance gets no new request');
  }
  assert.equal(extraPolls, 0, 'the first request after the 2xx is routed every time');
});

test('a draining instance gets no new requests, and an in-flight request to a deregistered instance finishes', async () => {
  const slow = await upstream('slow');
  const other = await upstream('other');
  await admin('PUT', '/v1/services/orders/instances/slow', { url: slow.url, version: '1.0.0' });
  await admin('PUT', '/v1/services/orders/instances/other', { url: other.url, version: '1.0.0' });
  for (const u of [slow, other]) {
    u.handler = (_req, res) => {
      setTimeout(
        () =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ upstream: u.name })),
        400,
      );
    };
  }
  // Two requests in flight: round-robin puts one on each instance.
  const inflight = [get('/orders/a'), get('/orders/b')];
  await eventually(() => assert.equal(slow.requests.length + other.requests.length, 2), 2000);
  assert.equal((await admin('DELETE', '/v1/services/orders/instances/slow')).status, 204);
  const answers = await Promise.all(inflight);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200],
  );
  assert.deepEqual(answers.map((a) => a.upstream).sort(), ['other', 'slow']);

  slow.handler = other.handler = undefined;
  await admin('PUT', '/v1/services/orders/instances/slow', { url: slow.url, version: '1.0.0' });
  assert.equal((await admin('POST', '/v1/services/orders/instances/slow/drain')).status, 200);
  const before = slow.requests.length;
  for (let i = 0; i < 10; i++) assert.equal((await get(`/orders/d${i}`)).upstream, 'other');
  assert.equal(slow.requests.length, before);
  await admin('DELETE', '/v1/services/orders/instances/slow');
  await admin('DELETE', '/v1/services/orders/instances/other');
});

test('an instance whose lease ends gets no new requests', async () => {
  const u = await upstream('short');
  await admin('PUT', '/v1/services/orders/instances/short', { url: u.url, version: '1.0.0', ttl: '1s' });
  assert.equal((await get('/orders/x')).status, 200);
  // Bounded by the lease (1 s) and the sweep; a narrower window than this 3 s would fail on a busy machine.
  await eventually(async () => assert.equal((await get('/orders/x')).status, 503), 3000, 50);
  const before = u.requests.length;
  for (let i = 0; i < 5; i++) assert.equal((await get('/orders/y')).status, 503);
  assert.equal(u.requests.length, before);
});

test('an instance failing real traffic is ejected after 3 failures and comes back after the ejection time', async () => {
  const bad = await upstream('bad');
  const good = await upstream('good');
  bad.fault = { kind: 'status', status: 500 };
  await admin('PUT', '/v1/services/flaky/instances/bad', { url: bad.url, version: '1.0.0' });
  await admin('PUT', '/v1/services/flaky/instances/good', { url: good.url, version: '1.0.0' });
  for (let i = 0; i < 10; i++) await get(`/flaky/${i}`);
  assert.equal(bad.requests.length, 3, 'three failures, then no more traffic');
  const ejectedAt = Date.now();
  await eventually(() => assert.match(portico.output(), /instance ejected after consecutive failures/), 1000);
  bad.fault = { kind: 'none' };
  await eventually(
    async () => {
      assert.equal((await get('/flaky/back')).upstream, 'bad');
    },
    3000,
    50,
  );
  assert.ok(Date.now() - ejectedAt >= 900, 'restored before its ejection time');
});

test('active checks of registered instances mark them critical; below the panic threshold traffic goes to all', async () => {
  const names = ['a', 'b', 'c'] as const;
  const health: Record<string, number> = { a: 200, b: 200, c: 200 };
  const healthCheck = {
    path: '/health',
    interval: '1s',
    timeout: '200ms',
    unhealthyThreshold: 1,
    healthyThreshold: 1,
  };
  for (const name of names) {
    const u = await upstream(name);
    u.handler = (req, res) => {
      const status = req.url === '/health' ? (health[name] as number) : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ upstream: name }));
    };
    await admin('PUT', `/v1/services/checked/instances/${name}`, {
      url: u.url,
      version: '1.0.0',
      healthCheck,
    });
  }
  const status = async (id: string) =>
    (await admin('GET', `/v1/services/checked/instances`)).body.instances.find(
      (i: { id: string }) => i.id === id,
    )?.status;
  const servedBy = async (prefix: string) => {
    const served = new Set<string | undefined>();
    for (let i = 0; i < 9; i++) served.add((await get(`/checked/${prefix}${i}`)).upstream);
    return [...served].sort();
  };

  health.a = 503;
  await eventually(async () => assert.equal(await status('a'), 'critical'), 3000, 50);
  assert.deepEqual(await servedBy('one'), ['b', 'c'], 'two of three healthy: no panic, a gets nothing');

  health.b = 503;
  await eventually(async () => assert.equal(await status('b'), 'critical'), 3000, 50);
  assert.deepEqual(await servedBy('p'), ['a', 'b', 'c'], 'panic mode balances across all instances');
  const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  assert.match(metrics, /portico_upstream_panic_mode\{service="checked"\} 1/);
  assert.match(portico.output(), /service entered panic mode/);

  health.c = 503;
  await eventually(async () => assert.equal(await status('c'), 'critical'), 3000, 50);
  const none = await fetch(`${portico.url}/checked/none`);
  assert.equal(none.status, 503, 'no instance available at all: no panic, 503');
  assert.equal(((await none.json()) as { code: string }).code, 'no_healthy_instance');

  health.a = health.b = health.c = 200;
  for (const name of names)
    await eventually(async () => assert.equal(await status(name), 'passing'), 3000, 50);
  const after = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  assert.match(after, /portico_upstream_panic_mode\{service="checked"\} 0/);
  assert.match(portico.output(), /service left panic mode/);
});

test('portico services and portico services show NAME read the running registry', async () => {
  const u = await upstream('cli');
  await admin('PUT', '/v1/services/orders/instances/cli-1', { url: u.url, version: '1.2.0' });
  const cli = resolve(import.meta.dirname, '../../src/cli/main.ts');
  const list = await run(process.execPath, [cli, 'services', '--admin', portico.adminUrl]);
  assert.match(list.stdout, /orders\s+1\.2\.0\s+1\/1 passing/);
  const show = await run(process.execPath, [cli, 'services', 'show', 'orders', '--admin', portico.adminUrl]);
  assert.match(show.stdout, /cli-1\s+passing\s+1\.2\.0\s+http:\/\/127\.0\.0\.1:\d+\//);
  const json = await run(process.execPath, [cli, 'services', '--json', '--admin', portico.adminUrl]);
  assert.equal(JSON.parse(json.stdout).services[0].name, 'checked');
});

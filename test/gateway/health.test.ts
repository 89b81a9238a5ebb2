import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { assertProblem, send } from './client.ts';

interface RouteView {
  name: string;
  instances: { id: string; url: string; available: boolean }[];
}

/** An upstream whose /healthz answers `status.code`, and whose other paths answer its name. */
async function startCheckedUpstream(
  name: string,
): Promise<{ upstream: TestUpstream; status: { code: number } }> {
  const upstream = await startUpstream(name);
  const status = { code: 200 };
  upstream.handler = (req, res) => {
    req.resume();
    const code = req.url === '/healthz' ? status.code : 200;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: name }));
  };
  return { upstream, status };
}

describe('active health checks', () => {
  let portico: PorticoProcess;
  let steady: Awaited<ReturnType<typeof startCheckedUpstream>>;
  let flaky: Awaited<ReturnType<typeof startCheckedUpstream>>;

  before(async () => {
    [steady, flaky] = await Promise.all([startCheckedUpstream('steady'), startCheckedUpstream('flaky')]);
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: error, accessLog: false }
services:
  app:
    instances: [{ url: "${steady.upstream.url}" }, { url: "${flaky.upstream.url}" }]
    healthCheck: { path: /healthz, interval: 100ms, timeout: 100ms, unhealthyThreshold: 2, healthyThreshold: 1 }
    # Panic mode would spread traffic over unhealthy instances once too few are left; these tests need it off.
    panicThreshold: 0
routes:
  - { name: app, match: { path: /app/** }, service: app }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await Promise.all([steady?.upstream.close(), flaky?.upstream.close()]);
  });

  async function availability(): Promise<Record<string, boolean>> {
    const routes = (await (await fetch(`${portico.adminUrl}/v1/routes`)).json()) as RouteView[];
    const app = routes.find((r) => r.name === 'app');
    assert.ok(app);
    return Object.fromEntries(app.instances.map((i) => [i.url, i.available]));
  }

  const trafficTo = (upstream: TestUpstream) => upstream.requests.filter((r) => r.url !== '/healthz').length;

  async function servedBy(path: string): Promise<string> {
    const res = await send(`${portico.url}${path}`);
    assert.equal(res.status, 200, res.text);
    return res.json<{ upstream: string }>().upstream;
  }

  test('both instances take traffic while their checks pass', async () => {
    await eventually(() => assert.ok(flaky.upstream.requests.some((r) => r.url === '/healthz')), 3000);
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add(await servedBy(`/app/${i}`));
    assert.deepEqual([...served].sort(), ['flaky', 'steady']);
  });

  test('an instance failing its check is ejected and gets no traffic, then comes back when it passes', async () => {
    flaky.status.code = 503;
    await eventually(async () => assert.equal((await availability())[flaky.upstream.url], false), 3000);
    const before = trafficTo(flaky.upstream);
    for (let i = 0; i < 20; i++) assert.equal(await servedBy(`/app/ejected-${i}`), 'steady');
    assert.equal(trafficTo(flaky.upstream), before, 'an ejected instance received traffic');

    flaky.status.code = 200;
    await eventually(async () => assert.equal((await availability())[flaky.upstream.url], true), 3000);
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add(await servedBy(`/app/back-${i}`));
    assert.ok(served.has('flaky'), 'the restored instance got no traffic');
  });

  test('with every instance ejected the gateway answers 503 no_healthy_instance', async () => {
    flaky.status.code = 503;
    steady.status.code = 500;
    try {
      await eventually(
        async () => assert.deepEqual(Object.values(await availability()), [false, false]),
        3000,
      );
      const before = trafficTo(steady.upstream) + trafficTo(flaky.upstream);
      assertProblem(await send(`${portico.url}/app/x`), 503, 'no_healthy_instance');
      assert.equal(trafficTo(steady.upstream) + trafficTo(flaky.upstream), before);
    } finally {
      flaky.status.code = 200;
      steady.status.code = 200;
    }
    await eventually(async () => assert.deepEqual(Object.values(await availability()), [true, true]), 3000);
    assert.equal((await send(`${portico.url}/app/again`)).status, 200);
  });

  test('a check that times out counts as a failure', async () => {
    const hang = flaky.upstream.handler;
    flaky.upstream.handler = (req, res) => {
      if (req.url !== '/healthz') return hang?.(req, res);
      // Never answer the check.
    };
    try {
      await eventually(async () => assert.equal((await availability())[flaky.upstream.url], false), 3000);
    } finally {
      flaky.upstream.handler = hang;
    }
    await eventually(async () => assert.equal((await availability())[flaky.upstream.url], true), 3000);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** One counter line of the Prometheus text, 0 when absent. */
function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('mirroring', () => {
  let primary: TestUpstream;
  let shadow: TestUpstream;
  let stuck: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    primary = await startUpstream('primary');
    shadow = await startUpstream('shadow');
    stuck = await startUpstream('stuck');
    stuck.fault = { kind: 'hang' };
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  primary: { instances: [{ url: "${primary.url}" }] }
  shadow: { instances: [{ url: "${shadow.url}" }] }
  stuck: { instances: [{ url: "${stuck.url}" }] }
routes:
  - name: copied
    match: { path: /m/** }
    service: primary
    transform: { request: { headers: { set: { X-Tenant: acme } } } }
    mirror: { service: shadow, maxBodySize: 1kb }
  - name: into-the-void
    match: { path: /h/** }
    service: primary
    mirror: { service: stuck, maxConcurrent: 3, timeout: 60s }
  - name: never
    match: { path: /n/** }
    service: primary
    mirror: { service: shadow, percent: 0 }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await Promise.all([primary?.close(), shadow?.close(), stuck?.close()]);
  });

  test('a copy of the request, transformed like the real one and with its body, reaches the mirror', async () => {
    const body = JSON.stringify({ order: 42 });
    const res = await send(`${portico.url}/m/orders?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.json().upstream, 'primary');
    const copy = await eventually(() => {
      const found = shadow.requests.find((r) => r.url === '/m/orders?x=1');
      assert.ok(found);
      return found;
    });
    assert.equal(copy.method, 'POST');
    assert.equal(copy.bodyBytes, Buffer.byteLength(body));
    assert.equal(copy.headers['x-tenant'], 'acme');
    assert.equal(copy.headers['portico-mirror'], '1');
    const real = primary.requests.find((r) => r.url === '/m/orders?x=1');
    assert.equal(real?.bodyBytes, Buffer.byteLength(body));
  });

  test('a body above maxBodySize is not copied, and the request itself is unaffected', async () => {
    const res = await send(`${portico.url}/m/big`, { method: 'POST', body: 'x'.repeat(4096) });
    assert.equal(res.status, 200);
    assert.equal(primary.requests.find((r) => r.url === '/m/big')?.bodyBytes, 4096);
    const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
    assert.equal(metric(metrics, 'portico_mirror_requests_total', 'route="copied",outcome="skipped"'), 1);
  });

  test('a mirror that hangs never slows or fails the client; copies in flight stay bounded', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await send(`${portico.url}/h/${i}`);
      assert.equal(res.status, 200);
      assert.equal(res.json().upstream, 'primary');
    }
    await eventually(() => assert.equal(stuck.requests.length, 3));
    const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
    assert.equal(
      metric(metrics, 'portico_mirror_requests_total', 'route="into-the-void",outcome="dropped"'),
      9,
    );
  });

  test('percent 0 copies nothing; compared pairs are counted with both durations', async () => {
    await send(`${portico.url}/n/x`);
    await send(`${portico.url}/m/compare`);
    await eventually(async () => {
      const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
      assert.ok(
        metric(metrics, 'portico_mirror_requests_total', 'route="copied",outcome="same_status"') >= 2,
      );
      assert.ok(metric(metrics, 'portico_mirror_duration_seconds_total', 'route="copied",side="mirror"') > 0);
      assert.ok(
        metric(metrics, 'portico_mirror_duration_seconds_total', 'route="copied",side="primary"') > 0,
      );
    });
    assert.equal(shadow.requests.filter((r) => r.url === '/n/x').length, 0);
  });
});

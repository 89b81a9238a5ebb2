import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { listed, porticoConfig, registryCall, startTestService } from './helpers.ts';

const contract = {
  openapi: '3.1.0',
  info: { title: 'orders', version: '1.2.0' },
  paths: { '/orders': { get: { responses: { '200': { description: 'the orders' } } } } },
};

test('a service registers with its contract, heartbeats, drains and deregisters on close', async (t) => {
  const portico = await startPortico(({ port, adminPort }) => porticoConfig(port, adminPort));
  t.after(() => portico.stop());
  const service = await startTestService(t, portico.adminUrl, {
    name: 'orders',
    version: '1.2.0',
    contract,
    handler(_req, res) {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'), 400);
    },
  });

  const [instance] = await listed(portico.adminUrl, 'orders');
  assert.equal(instance.id, service.id);
  assert.equal(instance.url, `${service.url}/`);
  assert.equal(instance.status, 'passing');
  const published = await registryCall(
    portico.adminUrl,
    'GET',
    '/v1/services/orders/versions/1.2.0/contract',
  );
  assert.deepEqual(published.body, contract);

  // Heartbeats every 200 ms renew the 2 s lease: it is pushed forward while the service runs.
  const firstExpiry = instance.expiresAt as number;
  await eventually(async () => {
    const [renewed] = await listed(portico.adminUrl, 'orders');
    assert.ok(renewed.expiresAt > firstExpiry + 300, 'lease renewed');
  }, 3_000);

  const slow = fetch(`${service.url}/slow`);
  await eventually(() => assert.equal(service.inflight, 1));
  let answered = false;
  void slow.then(() => (answered = true));
  const closed = service.close();
  await eventually(async () => {
    const [draining] = await listed(portico.adminUrl, 'orders');
    assert.equal(draining?.status, 'draining');
  }, 2_000);
  assert.equal((await slow).status, 200);
  await closed;
  assert.ok(answered, 'the in-flight request was answered before the service stopped');
  assert.deepEqual(await listed(portico.adminUrl, 'orders'), []);
  assert.equal(service.server.listening, false);
});

test('a service the registry forgot registers again at its next heartbeat', async (t) => {
  const portico = await startPortico(({ port, adminPort }) => porticoConfig(port, adminPort));
  t.after(() => portico.stop());
  const service = await startTestService(t, portico.adminUrl, { name: 'carts', version: '1.0.0' });
  const removed = await registryCall(
    portico.adminUrl,
    'DELETE',
    `/v1/services/carts/instances/${service.id}`,
  );
  assert.equal(removed.status, 204);
  assert.deepEqual(await listed(portico.adminUrl, 'carts'), []);
  await eventually(async () => {
    const instances = await listed(portico.adminUrl, 'carts');
    assert.deepEqual(
      instances.map((i) => [i.id, i.status]),
      [[service.id, 'passing']],
    );
  }, 3_000);
});

test('a service registers again after the registry restarts without its data', async (t) => {
  let ports = { port: 0, adminPort: 0 };
  const first = await startPortico((p) => {
    ports = p;
    return porticoConfig(p.port, p.adminPort);
  });
  t.after(() => first.stop());
  const service = await startTestService(t, first.adminUrl, { name: 'users', version: '2.0.0' });
  assert.equal((await listed(first.adminUrl, 'users')).length, 1);
  await first.stop();
  // Same ports, fresh working directory: the embedded store starts empty, as after losing its data.
  // The helper waits for readiness on ports of its own; this config ignores them, so readiness is polled here.
  const second = await startPortico(() => porticoConfig(ports.port, ports.adminPort), { waitReady: false });
  t.after(() => second.stop());
  await eventually(async () => {
    const instances = await listed(first.adminUrl, 'users');
    assert.deepEqual(
      instances.map((i) => i.id),
      [service.id],
    );
    assert.ok(service.registered);
    // The second node is started without waiting for it: allow it the helper's own start-up bound.
  }, 30_000);
});

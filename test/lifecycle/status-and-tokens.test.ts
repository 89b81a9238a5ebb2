import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

const adminToken = 'admin-token-for-tests-0123456789';
const statusToken = 'status-token-for-tests-0123456789';
const ordersToken = 'orders-service-token-0123456789';
const readToken = 'read-only-token-for-tests-0123456';
const sha = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('status listener and scoped tokens', () => {
  let portico: PorticoProcess;
  let statusUrl: string;

  before(async () => {
    const statusPort = await freePort();
    statusUrl = `http://127.0.0.1:${statusPort}`;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort}, token: "${adminToken}" }
status: { listen: 127.0.0.1:${statusPort}, token: "${statusToken}" }
tokens:
  - { name: orders-svc, hash: "${sha(ordersToken)}", role: "service:orders" }
  - { name: grafana, hash: "${sha(readToken)}", role: read }
logging: { level: info, accessLog: false }
services:
  orders: {}
  users: {}
routes:
  - { name: orders, match: { path: /orders/** }, service: orders }
`,
    );
  });

  after(async () => {
    await portico.stop();
  });

  test('probes answer on the status listener without a token while the admin API refuses', async () => {
    assert.equal((await fetch(`${statusUrl}/healthz`)).status, 200);
    const ready = await fetch(`${statusUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true });
    assert.equal((await fetch(`${portico.adminUrl}/metrics`)).status, 401);
    assert.equal((await fetch(`${portico.adminUrl}/v1/config`)).status, 401);
  });

  test('metrics on the status listener need the status token, and nothing else is served there', async () => {
    const refused = await fetch(`${statusUrl}/metrics`);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'unauthorized');
    const metrics = await fetch(`${statusUrl}/metrics`, { headers: bearer(statusToken) });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# HELP portico_/m);
    const config = await fetch(`${statusUrl}/v1/config`, { headers: bearer(adminToken) });
    assert.equal(config.status, 404);
    const reload = await fetch(`${statusUrl}/v1/config/reload`, {
      method: 'POST',
      headers: bearer(adminToken),
    });
    assert.equal(reload.status, 404);
  });

  test('a service:orders token registers orders, but not users, and cannot reload the config', async () => {
    const register = (service: string, token: string) =>
      fetch(`${portico.adminUrl}/v1/services/${service}/instances/i1`, {
        method: 'PUT',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://127.0.0.1:9', version: '1.0.0', ttl: '30s' }),
      });
    assert.equal((await register('orders', ordersToken)).status, 201);
    const users = await register('users', ordersToken);
    assert.equal(users.status, 403);
    assert.equal(((await users.json()) as { code: string }).code, 'forbidden');
    const reload = await fetch(`${portico.adminUrl}/v1/config/reload`, {
      method: 'POST',
      headers: bearer(ordersToken),
    });
    assert.equal(reload.status, 403);
    const heartbeat = await fetch(`${portico.adminUrl}/v1/services/orders/instances/i1/heartbeat`, {
      method: 'PUT',
      headers: bearer(ordersToken),
    });
    assert.equal(heartbeat.status, 200);
    const list = await fetch(`${portico.adminUrl}/v1/services`, { headers: bearer(ordersToken) });
    assert.equal(list.status, 200, 'a service token reads the registry to discover other services');

    assert.equal((await register('orders', readToken)).status, 403, 'a read token writes nothing');
    assert.equal((await register('users', adminToken)).status, 201, 'admin.token keeps the admin role');
    const deregister = await fetch(`${portico.adminUrl}/v1/services/orders/instances/i1`, {
      method: 'DELETE',
      headers: bearer(ordersToken),
    });
    assert.equal(deregister.status, 204);
  });

  test('every admin write leaves an audit line: who, what, result', async () => {
    await eventually(() => {
      const lines = portico
        .output()
        .split('\n')
        .filter((line) => line.includes('"audit"'))
        .map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit);
      const find = (who: string, method: string, path: string) =>
        lines.find((a) => a.who === who && a.method === method && a.path === path);
      assert.deepEqual(find('orders-svc', 'PUT', '/v1/services/users/instances/i1'), {
        who: 'orders-svc',
        role: 'service:orders',
        method: 'PUT',
        path: '/v1/services/users/instances/i1',
        status: 403,
        result: 'refused',
      });
      assert.equal(find('orders-svc', 'PUT', '/v1/services/orders/instances/i1')?.result, 'ok');
      assert.equal(find('orders-svc', 'POST', '/v1/config/reload')?.status, 403);
      assert.equal(find('admin.token', 'PUT', '/v1/services/users/instances/i1')?.status, 201);
      assert.equal(find('orders-svc', 'DELETE', '/v1/services/orders/instances/i1')?.status, 204);
    });
  });

  test('GET /v1/whoami says what the token may do', async () => {
    const res = await fetch(`${portico.adminUrl}/v1/whoami`, { headers: bearer(ordersToken) });
    assert.deepEqual(await res.json(), {
      name: 'orders-svc',
      role: 'service:orders',
      may: { read: true, reloadConfig: false, registerServices: ['orders'] },
    });
    const config = await fetch(`${portico.adminUrl}/v1/config`, { headers: bearer(readToken) });
    const text = await config.text();
    assert.ok(!text.includes(sha(ordersToken).slice(7)), 'token hashes are redacted');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { call } from './admin-harness.ts';
import { startRegistryApi } from './setup.ts';

const orders = { url: 'http://127.0.0.1:3001', version: '1.2.0', ttl: '10s', metadata: { zone: 'a' } };

test('a first PUT creates the instance (201) and an identical PUT only renews its lease (200, same revision)', async (t) => {
  const { base, registry, clock } = await startRegistryApi(t);
  const first = await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  assert.equal(first.status, 201);
  assert.equal(first.headers.location, '/v1/services/orders/instances/o-1');
  assert.deepEqual(
    { ...first.body, registeredAt: 0, updatedAt: 0, expiresAt: 0 },
    {
      service: 'orders',
      id: 'o-1',
      url: 'http://127.0.0.1:3001/',
      version: '1.2.0',
      metadata: { zone: 'a' },
      status: 'passing',
      ttlMs: 10_000,
      registeredAt: 0,
      updatedAt: 0,
      expiresAt: 0,
    },
  );
  const revision = registry.revision;
  clock.now += 4_000;
  const again = await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  assert.equal(again.status, 200);
  assert.equal(registry.revision, revision);
  assert.equal(again.body.expiresAt, clock.now + 10_000);
  assert.equal(registry.getInstance('orders', 'o-1')?.expiresAt, clock.now + 10_000);
});

test('a PUT that changes a field is an update with a new revision', async (t) => {
  const { base, registry } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  const revision = registry.revision;
  const updated = await call(base, 'PUT', '/v1/services/orders/instances/o-1', {
    ...orders,
    version: '1.3.0',
  });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.version, '1.3.0');
  assert.equal(registry.revision, revision + 1);
  const changes = await registry.changesSince(revision);
  assert.deepEqual(
    changes?.map((c) => c.reason),
    ['update'],
  );
});

const invalidBodies: [string, string, unknown, string][] = [
  ['service name with upper case', 'Orders', orders, 'service'],
  ['service name too long', 'a'.repeat(64), orders, 'service'],
  ['body that is not an object', 'orders', [orders], 'body'],
  ['unknown field', 'orders', { ...orders, weight: 3 }, 'weight'],
  ['missing url', 'orders', { version: '1.0.0' }, 'url'],
  ['url that is not a URL', 'orders', { ...orders, url: 'not a url' }, 'url'],
  ['ftp url', 'orders', { ...orders, url: 'ftp://127.0.0.1:21' }, 'url'],
  ['url with port 0', 'orders', { ...orders, url: 'http://127.0.0.1:0' }, 'url'],
  ['url with credentials', 'orders', { ...orders, url: 'http://u:p@127.0.0.1:1' }, 'url'],
  ['url with a query', 'orders', { ...orders, url: 'http://127.0.0.1:1/?a=1' }, 'url'],
  ['missing version', 'orders', { url: orders.url }, 'version'],
  ['version that is not semver', 'orders', { ...orders, version: '1.2' }, 'version'],
  ['ttl below 1s', 'orders', { ...orders, ttl: '999ms' }, 'ttl'],
  ['ttl above 1h', 'orders', { ...orders, ttl: '61m' }, 'ttl'],
  ['ttl as a number', 'orders', { ...orders, ttl: 30 }, 'ttl'],
  ['ttl without unit', 'orders', { ...orders, ttl: '30' }, 'ttl'],
  ['metadata that is not an object', 'orders', { ...orders, metadata: 'x' }, 'metadata'],
  ['metadata with a number value', 'orders', { ...orders, metadata: { a: 1 } }, 'metadata'],
  ['metadata value over 256 chars', 'orders', { ...orders, metadata: { a: 'x'.repeat(257) } }, 'metadata'],
  ['metadata key over 256 chars', 'orders', { ...orders, metadata: { ['k'.repeat(257)]: 'x' } }, 'metadata'],
  [
    'metadata with 33 entries',
    'orders',
    { ...orders, metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) },
    'metadata',
  ],
  ['healthCheck without path', 'orders', { ...orders, healthCheck: {} }, 'healthCheck.path'],
  [
    'healthCheck with relative path',
    'orders',
    { ...orders, healthCheck: { path: 'health' } },
    'healthCheck.path',
  ],
  [
    'healthCheck unknown field',
    'orders',
    { ...orders, healthCheck: { path: '/h', expect: 1 } },
    'healthCheck.expect',
  ],
  [
    'healthCheck interval below 1s',
    'orders',
    { ...orders, healthCheck: { path: '/h', interval: '10ms' } },
    'healthCheck.interval',
  ],
  [
    'healthCheck timeout longer than interval',
    'orders',
    { ...orders, healthCheck: { path: '/h', interval: '2s', timeout: '3s' } },
    'healthCheck.timeout',
  ],
  [
    'healthCheck threshold 0',
    'orders',
    { ...orders, healthCheck: { path: '/h', unhealthyThreshold: 0 } },
    'healthCheck.unhealthyThreshold',
  ],
  [
    'healthCheck threshold not an integer',
    'orders',
    { ...orders, healthCheck: { path: '/h', healthyThreshold: 1.5 } },
    'healthCheck.healthyThreshold',
  ],
  ['contract that is not an object', 'orders', { ...orders, contract: 'openapi: 3.1.0' }, 'contract'],
  ['contract over 1 MiB', 'orders', { ...orders, contract: { big: 'x'.repeat(1_048_577) } }, 'contract'],
];

for (const [name, service, body, field] of invalidBodies) {
  test(`refuses a registration with ${name} (400 invalid_registration, field ${field})`, async (t) => {
    const { base, registry } = await startRegistryApi(t);
    const answer = await call(base, 'PUT', `/v1/services/${service}/instances/o-1`, body);
    assert.equal(answer.status, 400);
    assert.match(answer.headers['content-type'] as string, /application\/problem\+json/);
    assert.equal(answer.body.code, 'invalid_registration');
    assert.equal(answer.body.field, field);
    assert.equal(registry.revision, 0);
  });
}

test('refuses instance ids outside the documented pattern', async (t) => {
  const { base } = await startRegistryApi(t);
  for (const id of ['-lead', '.x', 'a'.repeat(129), 'with%20space', 'sl%2Fash']) {
    const answer = await call(base, 'PUT', `/v1/services/orders/instances/${id}`, orders);
    assert.equal(answer.status, 400, id);
    assert.equal(answer.body.field, 'id', id);
  }
  const ok = await call(base, 'PUT', `/v1/services/orders/instances/host-1.example:8080`, orders);
  assert.equal(ok.status, 201);
});

test('refuses a body that is not JSON', async (t) => {
  const { base } = await startRegistryApi(t);
  const answer = await call(base, 'PUT', '/v1/services/orders/instances/o-1', '{"url":');
  assert.equal(answer.status, 400);
  assert.equal(answer.body.code, 'bad_request');
});

const refusedUrls = [
  'http://169.254.169.254/',
  'http://2852039166/',
  'http://0251.0376.0251.0376/',
  'http://0xa9fea9fe/',
  'http://0xA9.0xFE.0xA9.0xFE/',
  'http://169.254.43518/',
  'http://169.16689662/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[0:0:0:0:0:ffff:a9fe:a9fe]/',
  'http://[::169.254.169.254]/',
  'http://[64:ff9b::169.254.169.254]/',
  'http://[fd00:ec2::254]/',
  'http://[fe80::1]:8080/',
  'https://100.100.100.200/',
  'http://0.0.0.0:8080/',
  'http://0/',
  'http://[::]:8080/',
  'http://224.0.0.1/',
  'http://[ff02::1]/',
  'http://255.255.255.255/',
];

for (const url of refusedUrls) {
  test(`refuses the instance address ${url}`, async (t) => {
    const { base } = await startRegistryApi(t);
    const answer = await call(base, 'PUT', '/v1/services/orders/instances/o-1', { ...orders, url });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.code, 'invalid_registration');
    assert.equal(answer.body.field, 'url');
  });
}

test('refuses a host name that resolves to a metadata address, accepts one that resolves elsewhere', async (t) => {
  const table: Record<string, string[]> = {
    'evil.test': ['10.0.0.1', '169.254.169.254'],
    'good.test': ['10.0.0.2'],
  };
  const { base } = await startRegistryApi(t, {
    policy: { resolve: async (host) => table[host] ?? Promise.reject(new Error('ENOTFOUND')) },
  });
  const evil = await call(base, 'PUT', '/v1/services/orders/instances/o-1', {
    ...orders,
    url: 'http://evil.test:80',
  });
  assert.equal(evil.status, 400);
  assert.equal(evil.body.field, 'url');
  const unknown = await call(base, 'PUT', '/v1/services/orders/instances/o-1', {
    ...orders,
    url: 'http://nope.test',
  });
  assert.equal(unknown.status, 400);
  const good = await call(base, 'PUT', '/v1/services/orders/instances/o-1', {
    ...orders,
    url: 'http://good.test:80',
  });
  assert.equal(good.status, 201);
});

test('refuses loopback when allowLoopback is false, and honours allow and deny lists', async (t) => {
  const { base } = await startRegistryApi(t, {
    policy: { allowLoopback: false, allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] },
  });
  const put = (url: string) => call(base, 'PUT', '/v1/services/orders/instances/o-1', { ...orders, url });
  assert.equal((await put('http://127.0.0.1:3000')).status, 400);
  assert.equal((await put('http://192.168.1.1:3000')).status, 400);
  assert.equal((await put('http://10.9.1.1:3000')).status, 400);
  assert.equal((await put('http://10.1.1.1:3000')).status, 201);
});

test('a heartbeat renews the lease of a known instance and answers 404 for an unknown one', async (t) => {
  const { base, registry, clock } = await startRegistryApi(t);
  const unknown = await call(base, 'PUT', '/v1/services/orders/instances/o-1/heartbeat');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 'instance_not_found');
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  const revision = registry.revision;
  clock.now += 5_000;
  const beat = await call(base, 'PUT', '/v1/services/orders/instances/o-1/heartbeat');
  assert.equal(beat.status, 200);
  assert.equal(beat.body.expiresAt, clock.now + 10_000);
  assert.equal(registry.revision, revision, 'a heartbeat is not a change');
  clock.now += 9_000;
  assert.deepEqual(await registry.sweep(), []);
});

test('an instance whose lease ends is removed by the sweep, and its heartbeat then answers 404', async (t) => {
  const { base, registry, clock } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', { ...orders, ttl: '1s' });
  clock.now += 1_000;
  assert.deepEqual(await registry.sweep(), [], 'the lease still holds at its last millisecond');
  clock.now += 1;
  const expired = await registry.sweep();
  assert.deepEqual(
    expired.map((c) => [c.kind, c.reason, c.id]),
    [['delete', 'expire', 'o-1']],
  );
  assert.equal((await call(base, 'PUT', '/v1/services/orders/instances/o-1/heartbeat')).status, 404);
  assert.deepEqual((await call(base, 'GET', '/v1/services/orders/instances')).body.instances, []);
});

test('with real timers, an instance with a 1s TTL expires after its TTL, not before', async (t) => {
  const { base, registry } = await startRegistryApi(t, { realClock: true, expirySweepMs: 100 });
  const registeredAt = Date.now();
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', { ...orders, ttl: '1s' });
  await eventually(() => assert.ok(registry.getInstance('orders', 'o-1') === undefined, 'expiry'), 3_000);
  const elapsed = Date.now() - registeredAt;
  // Not before the TTL; the 3 s bound above is the upper one (how soon after is the sweep's promptness, which
  // the fake-clock tests pin exactly and a busy machine's timers cannot).
  assert.ok(elapsed >= 1_000, `expired after ${elapsed}ms`);
});

test('a drained instance is listed as draining, stays draining through heartbeats and re-registration', async (t) => {
  const { base, registry } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  await call(base, 'PUT', '/v1/services/orders/instances/o-2', orders);
  const drained = await call(base, 'POST', '/v1/services/orders/instances/o-1/drain');
  assert.equal(drained.status, 200);
  assert.equal(drained.body.status, 'draining');
  await call(base, 'PUT', '/v1/services/orders/instances/o-1/heartbeat');
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  await registry.setStatus('orders', 'o-1', 'passing');
  const draining = await call(base, 'GET', '/v1/services/orders/instances?status=draining');
  assert.deepEqual(
    draining.body.instances.map((i: { id: string }) => i.id),
    ['o-1'],
  );
  assert.equal((await call(base, 'POST', '/v1/services/orders/instances/nope/drain')).status, 404);
});

test('deregistering answers 204 then 404, and the instance is no longer listed', async (t) => {
  const { base } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  assert.equal((await call(base, 'DELETE', '/v1/services/orders/instances/o-1')).status, 204);
  assert.equal((await call(base, 'DELETE', '/v1/services/orders/instances/o-1')).status, 404);
  assert.deepEqual((await call(base, 'GET', '/v1/services')).body.services, []);
});

test('lists services with versions and counts, and instances filtered by semver range and status', async (t) => {
  const { base, registry } = await startRegistryApi(t);
  const put = (service: string, id: string, version: string) =>
    call(base, 'PUT', `/v1/services/${service}/instances/${id}`, { ...orders, version });
  await put('orders', 'o-1', '1.2.0');
  await put('orders', 'o-2', '1.4.1');
  await put('orders', 'o-3', '2.0.0');
  await put('billing', 'b-1', '0.1.0');
  await registry.setStatus('orders', 'o-2', 'critical');
  const services = await call(base, 'GET', '/v1/services');
  assert.deepEqual(services.body.services, [
    { name: 'billing', versions: ['0.1.0'], instances: { total: 1, passing: 1, critical: 0, draining: 0 } },
    {
      name: 'orders',
      versions: ['2.0.0', '1.4.1', '1.2.0'],
      instances: { total: 3, passing: 2, critical: 1, draining: 0 },
    },
  ]);
  const ids = async (query: string) =>
    (await call(base, 'GET', `/v1/services/orders/instances${query}`)).body.instances.map(
      (i: { id: string }) => i.id,
    );
  assert.deepEqual(await ids('?version=%5E1.3.0'), ['o-2']);
  assert.deepEqual(await ids('?version=1.x'), ['o-1', 'o-2']);
  assert.deepEqual(await ids('?version=%3E%3D1.0.0&status=passing'), ['o-1', 'o-3']);
  assert.deepEqual(await ids('?status=critical'), ['o-2']);
  assert.equal((await call(base, 'GET', '/v1/services/orders/instances?version=banana')).status, 400);
  assert.equal((await call(base, 'GET', '/v1/services/orders/instances?status=sick')).status, 400);
  assert.deepEqual((await call(base, 'GET', '/v1/services/nobody/instances')).body.instances, []);
});

test('serves the contract published with a version, and 404 for a version without one', async (t) => {
  const { base } = await startRegistryApi(t);
  const contract = { openapi: '3.1.0', info: { title: 'orders', version: '1.2.0' }, paths: {} };
  const put = await call(base, 'PUT', '/v1/services/orders/instances/o-1', { ...orders, contract });
  assert.match(put.body.contractHash, /^[0-9a-f]{64}$/);
  const fetched = await call(base, 'GET', '/v1/services/orders/versions/1.2.0/contract');
  assert.equal(fetched.status, 200);
  assert.deepEqual(fetched.body, contract);
  const missing = await call(base, 'GET', '/v1/services/orders/versions/9.9.9/contract');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'not_found');
});

test('answers 503 store_unavailable when the store fails a write', async (t) => {
  const { base, store } = await startRegistryApi(t);
  await call(base, 'PUT', '/v1/services/orders/instances/o-1', orders);
  await store.close();
  const put = await call(base, 'PUT', '/v1/services/orders/instances/o-2', orders);
  assert.equal(put.status, 503);
  assert.equal(put.body.code, 'store_unavailable');
  assert.equal((await call(base, 'PUT', '/v1/services/orders/instances/o-1/heartbeat')).status, 503);
  assert.equal(
    (await call(base, 'GET', '/v1/services')).status,
    200,
    'reads keep serving the last known state',
  );
});

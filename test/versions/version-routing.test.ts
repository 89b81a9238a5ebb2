import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let u0: TestUpstream;
let u1: TestUpstream;
let u2: TestUpstream;

const contract = (version: string, required: string[]) => ({
  openapi: '3.0.3',
  info: { title: 'users', version },
  paths: {
    '/users/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'a user',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required,
                  properties: { id: { type: 'string' }, name: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  },
});

async function register(service: string, id: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${portico.adminUrl}/v1/services/${service}/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: '60s', ...body }),
  });
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${portico.url}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

before(async () => {
  [u0, u1, u2] = await Promise.all([startUpstream('v0'), startUpstream('v1'), startUpstream('v2')]);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
trustedProxies: [127.0.0.1/32]
logging: { level: warn, accessLog: false }
services:
  users:
    versions:
      "0": { sunset: "2020-01-01", refuseAfterSunset: true }
      "1": { deprecated: "2026-06-01", sunset: "2027-01-01", link: "https://docs.example.test/users/v2" }
  carts: {}
  tills: {}
routes:
  - name: users
    match: { path: /users/** }
    service: users
    version: { from: [path, header, media-type], default: "^2" }
  - name: carts
    match: { path: /carts/** }
    service: carts
    split: { "1": 50, "2": 50 }
  - name: tills
    match: { path: /tills/** }
    service: tills
    split: { "1": 50, "3": 50 }
`,
  );
  for (const [id, url, version, c] of [
    ['u0', u0.url, '0.9.0', undefined],
    ['u1', u1.url, '1.4.0', contract('1.4.0', ['id', 'name'])],
    ['u2', u2.url, '2.1.0', contract('2.1.0', ['id', 'name'])],
  ] as const) {
    const res = await register('users', id, { url, version, ...(c === undefined ? {} : { contract: c }) });
    assert.equal(res.status, 201, await res.text());
  }
  assert.equal((await register('carts', 'c1', { url: u1.url, version: '1.0.0' })).status, 201);
  assert.equal((await register('carts', 'c2', { url: u2.url, version: '2.0.0' })).status, 201);
  assert.equal((await register('tills', 't1', { url: u1.url, version: '1.0.0' })).status, 201);
});

after(async () => {
  await portico?.stop();
  await Promise.all([u0?.close(), u1?.close(), u2?.close()]);
});

test('a /v1 prefix picks a 1.x instance, is stripped upstream, and the answer names the version', async () => {
  const res = await get('/v1/users/7?x=1');
  assert.equal(res.status, 200);
  assert.equal(res.body.upstream, 'v1');
  assert.equal(res.body.url, '/users/7?x=1');
  assert.equal(res.headers.get('portico-version'), '1.4.0');
});

test('a deprecated version carries Deprecation, Sunset and a deprecation Link on its answers', async () => {
  const res = await get('/v1/users/7');
  assert.equal(res.headers.get('deprecation'), `@${Date.parse('2026-06-01T00:00:00Z') / 1000}`);
  assert.equal(res.headers.get('sunset'), 'Fri, 01 Jan 2027 00:00:00 GMT');
  assert.equal(
    res.headers.get('link'),
    '<https://docs.example.test/users/v2>; rel="deprecation"; type="text/html"',
  );
  const current = await get('/v2/users/7');
  assert.equal(current.headers.get('deprecation'), null);
  assert.equal(current.headers.get('sunset'), null);
});

test('Accept-Version holds a semver range', async () => {
  const res = await get('/users/7', { 'accept-version': '^1.2' });
  assert.equal(res.body.upstream, 'v1');
  assert.equal(res.headers.get('portico-version'), '1.4.0');
});

test('a version parameter of the Accept media type selects the version', async () => {
  const res = await get('/users/7', { accept: 'application/json; version=1' });
  assert.equal(res.body.upstream, 'v1');
});

test('the route default applies when the client names no version', async () => {
  const res = await get('/users/7');
  assert.equal(res.body.upstream, 'v2');
  assert.equal(res.headers.get('portico-version'), '2.1.0');
});

test('the path prefix wins over the header because it comes first in "from"', async () => {
  const res = await get('/v1/users/7', { 'accept-version': '^2' });
  assert.equal(res.body.upstream, 'v1');
});

test('an unknown version answers 404 version_not_found listing the versions that run', async () => {
  const res = await get('/v7/users/7');
  assert.equal(res.status, 404);
  assert.equal(res.body.code, 'version_not_found');
  assert.deepEqual(res.body.versions, ['2.1.0', '1.4.0', '0.9.0']);
});

test('a malformed Accept-Version answers 400 bad_request', async () => {
  const res = await get('/users/7', { 'accept-version': 'banana' });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'bad_request');
});

test('a version past its sunset answers 410 version_sunset when configured', async () => {
  const res = await get('/v0/users/7');
  assert.equal(res.status, 410);
  assert.equal(res.body.code, 'version_sunset');
  assert.equal(u0.requests.length, 0);
});

test('instances registered and removed at runtime join and leave the version views', async () => {
  assert.equal((await get('/users/1', { 'accept-version': '^2' })).body.upstream, 'v2');
  assert.equal((await register('users', 'u2b', { url: u0.url, version: '2.2.0' })).status, 201);
  await eventually(async () =>
    assert.equal((await get('/users/1', { 'accept-version': '2.2.x' })).body.upstream, 'v0'),
  );
  const res = await fetch(`${portico.adminUrl}/v1/services/users/instances/u2b`, { method: 'DELETE' });
  assert.equal(res.status, 204);
  await eventually(async () =>
    assert.equal((await get('/users/1', { 'accept-version': '2.2.x' })).status, 404),
  );
});

test('a canary split is sticky per client address', async () => {
  const seen = new Map<string, string>();
  for (let i = 0; i < 40; i++) {
    const ip = `10.0.0.${i}`;
    const first = await get('/carts/1', { 'x-forwarded-for': ip });
    const again = await get('/carts/1', { 'x-forwarded-for': ip });
    assert.equal(again.headers.get('portico-version'), first.headers.get('portico-version'));
    seen.set(ip, String(first.headers.get('portico-version')));
  }
  const versions = new Set(seen.values());
  assert.deepEqual([...versions].sort(), ['1.0.0', '2.0.0']);
});

test('clients whose canary arm has no instance running go to the other arm', async () => {
  for (let i = 0; i < 20; i++) {
    const res = await get('/tills/1', { 'x-forwarded-for': `10.0.1.${i}` });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('portico-version'), '1.0.0');
  }
});

test('usage counts requests per version and consumer', async () => {
  const before = await (await fetch(`${portico.adminUrl}/v1/services/users/versions/1/usage`)).json();
  await get('/v1/users/1');
  const usage = (await (await fetch(`${portico.adminUrl}/v1/services/users/versions/1/usage`)).json()) as {
    requests: number;
    consumers: { consumer: string; requests: number }[];
  };
  assert.equal(usage.requests, (before as { requests: number }).requests + 1);
  assert.equal(usage.consumers[0]?.consumer, 'anonymous');
  const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  assert.match(
    metrics,
    /portico_version_requests_total\{service="users",version="1.4.0",consumer="anonymous"\} \d+/,
  );
});

test('the registry refuses a minor whose contract breaks the previous one, unless forced', async () => {
  const breaking = { url: u2.url, version: '2.3.0', contract: contract('2.3.0', ['id']) };
  const refused = await register('users', 'u23', breaking);
  assert.equal(refused.status, 409);
  const problem = (await refused.json()) as { code: string; against: string; breaks: { rule: string }[] };
  assert.equal(problem.code, 'breaking_change');
  assert.equal(problem.against, '2.1.0');
  assert.deepEqual(
    problem.breaks.map((b) => b.rule),
    ['response-property-made-optional'],
  );
  const forced = await register('users', 'u23', { ...breaking, force: true });
  assert.equal(forced.status, 201);
  await eventually(() => assert.match(portico.output(), /registered a breaking contract with force: true/));
  const compatible = await register('users', 'u3', {
    url: u2.url,
    version: '3.0.0',
    contract: contract('3.0.0', []),
  });
  assert.equal(compatible.status, 201, 'a new major may break');
  const bad = await register('users', 'u4', { url: u2.url, version: '2.4.0', contract: { openapi: '2.0' } });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { detail: string }).detail, /contract: openapi: .*3\.0\.x and 3\.1\.x/);
});

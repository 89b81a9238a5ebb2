import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { send } from '../gateway/client.ts';
import { keyHash } from './helpers.ts';

const allowed = 'https://shop.example.test';

describe('CORS', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    upstream = await startUpstream('svc');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
auth:
  apiKeys: { header: x-api-key }
consumers:
  - { id: app, apiKeys: ["${keyHash('k')}"] }
routes:
  - name: users
    match: { path: /users/**, methods: [GET, POST, PUT, DELETE] }
    service: svc
    auth: [apiKey]
    rateLimit: { limit: 100, window: 1m, by: ip }
cors:
  origins: [${allowed}]
  methods: [GET, POST, PUT, DELETE]
  headers: [authorization, content-type, x-api-key]
  exposeHeaders: [ratelimit, ratelimit-policy, retry-after]
  maxAge: 10m
  credentials: true
`,
    );
  });
  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  async function preflight(origin: string, method: string, headers?: string) {
    const before = upstream.requests.length;
    const res = await send(`${portico.url}/users/1`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        ...(headers === undefined ? {} : { 'access-control-request-headers': headers }),
      },
    });
    assert.equal(upstream.requests.length, before, 'a preflight never reaches the service');
    return res;
  }

  test('the gateway answers an allowed preflight itself, before authentication', async () => {
    const res = await preflight(allowed, 'PUT', 'x-api-key, content-type');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], allowed);
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, PUT, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'x-api-key, content-type');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.match(String(res.headers.vary), /Origin/);
  });

  test('a preflight from a disallowed origin gets no CORS headers', async () => {
    const res = await preflight('https://evil.example.test', 'GET');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-allow-methods'], undefined);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  test('a preflight for a method or header not allowed gets no CORS headers', async () => {
    assert.equal((await preflight(allowed, 'PATCH')).headers['access-control-allow-origin'], undefined);
    assert.equal(
      (await preflight(allowed, 'GET', 'x-secret')).headers['access-control-allow-origin'],
      undefined,
    );
  });

  test('the "null" origin and look-alike origins are not allowed', async () => {
    for (const origin of ['null', 'https://shop.example.test.evil.test', 'http://shop.example.test']) {
      assert.equal(
        (await preflight(origin, 'GET')).headers['access-control-allow-origin'],
        undefined,
        origin,
      );
    }
  });

  test('an actual request from an allowed origin gets CORS headers, on errors too', async () => {
    const ok = await send(`${portico.url}/users/1`, { headers: { origin: allowed, 'x-api-key': 'k' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], allowed);
    assert.equal(ok.headers['access-control-expose-headers'], 'ratelimit, ratelimit-policy, retry-after');
    assert.ok(ok.headers['ratelimit'], 'rate-limit headers set before the proxy answer survive it');
    const denied = await send(`${portico.url}/users/1`, { headers: { origin: allowed } });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['access-control-allow-origin'], allowed);
  });

  test('an actual request from a disallowed origin gets no CORS headers', async () => {
    const res = await send(`${portico.url}/users/1`, {
      headers: { origin: 'https://evil.example.test', 'x-api-key': 'k' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

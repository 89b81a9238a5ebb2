import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { send } from '../gateway/client.ts';
import { keyHash } from './helpers.ts';

describe('rate limits (local mode)', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;

  const config =
    (extraRoute = '') =>
    ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
auth:
  apiKeys: { header: x-api-key }
consumers:
  - { id: alice, apiKeys: ["${keyHash('alice-key')}"], rateLimit: { limit: 2, window: 1h, by: consumer } }
  - { id: bob, apiKeys: ["${keyHash('bob-key')}"] }
rateLimits:
  shared-budget: { limit: 3, window: 1h, by: global }
  per-route: { limit: 2, window: 1h, by: route }
routes:
  - { name: own, match: { path: /own/** }, service: svc, rateLimit: { limit: 3, window: 1h, by: ip } }
  - { name: shared-a, match: { path: /shared-a/** }, service: svc, rateLimit: shared-budget }
  - { name: shared-b, match: { path: /shared-b/** }, service: svc, rateLimit: shared-budget }
  - { name: split-a, match: { path: /split-a/** }, service: svc, rateLimit: per-route }
  - { name: split-b, match: { path: /split-b/** }, service: svc, rateLimit: per-route }
  - name: by-consumer
    match: { path: /consumer/** }
    service: svc
    auth: [apiKey]
    rateLimit: { limit: 2, window: 1h, by: consumer }
  - { name: by-header, match: { path: /header/** }, service: svc, rateLimit: { limit: 1, window: 1h, by: "header:x-tenant" } }
  - { name: mine, match: { path: /mine/** }, service: svc, auth: [apiKey] }
  - name: multi
    match: { path: /multi/** }
    service: svc
    rateLimit: [{ limit: 10, window: 1h, by: ip }, { limit: 2, window: 1h, by: global }]
  - { name: reloaded, match: { path: /reloaded/** }, service: svc, rateLimit: { limit: 1, window: 1h, by: global } }
${extraRoute}`;

  before(async () => {
    upstream = await startUpstream('svc');
    portico = await startPortico(config());
  });
  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  async function hit(path: string, headers: Record<string, string> = {}) {
    const before = upstream.requests.length;
    const res = await send(`${portico.url}${path}`, { headers });
    return { res, reached: upstream.requests.length > before };
  }

  test('a route limit lets `limit` requests through with RateLimit headers, then answers 429 with Retry-After', async () => {
    const first = await hit('/own/1');
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers['ratelimit-policy'], '"own";q=3;w=3600');
    assert.equal(first.res.headers['ratelimit'], '"own";r=2;t=1200');
    assert.equal((await hit('/own/1')).res.status, 200);
    const third = await hit('/own/1');
    assert.equal(third.res.headers['ratelimit'], '"own";r=0;t=3600');
    const refused = await hit('/own/1');
    assert.equal(refused.res.status, 429);
    assert.equal(refused.res.json().code, 'rate_limited');
    assert.equal(refused.res.headers['retry-after'], '1200');
    assert.equal(refused.res.headers['ratelimit-policy'], '"own";q=3;w=3600');
    assert.ok(!refused.reached);
  });

  test('a forged X-Forwarded-For from an untrusted peer does not open a new ip budget', async () => {
    const refused = await hit('/own/1', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(refused.res.status, 429);
    assert.ok(!refused.reached);
  });

  test('a named limit is one budget shared by every route that names it', async () => {
    assert.equal((await hit('/shared-a/x')).res.status, 200);
    assert.equal((await hit('/shared-a/x')).res.status, 200);
    assert.equal((await hit('/shared-b/x')).res.status, 200);
    assert.equal((await hit('/shared-b/x')).res.status, 429);
    assert.equal((await hit('/shared-a/x')).res.status, 429);
  });

  test('a named limit by route gives each route its own budget', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await hit('/split-a/x')).res.status, 200);
    assert.equal((await hit('/split-a/x')).res.status, 429);
    assert.equal((await hit('/split-b/x')).res.status, 200);
  });

  test('a limit by consumer gives each consumer its own budget', async () => {
    for (let i = 0; i < 2; i++)
      assert.equal((await hit('/consumer/x', { 'x-api-key': 'bob-key' })).res.status, 200);
    assert.equal((await hit('/consumer/x', { 'x-api-key': 'bob-key' })).res.status, 429);
    assert.equal((await hit('/consumer/y', { 'x-api-key': 'alice-key' })).res.status, 200);
  });

  test('a limit by header keys the budget on that header', async () => {
    assert.equal((await hit('/header/x', { 'x-tenant': 't1' })).res.status, 200);
    assert.equal((await hit('/header/x', { 'x-tenant': 't1' })).res.status, 429);
    assert.equal((await hit('/header/x', { 'x-tenant': 't2' })).res.status, 200);
  });

  test("a consumer's own limit applies on routes that authenticate it", async () => {
    // alice spent one request of her own budget on /consumer above.
    const res = await hit('/mine/x', { 'x-api-key': 'alice-key' });
    assert.equal(res.res.status, 200);
    assert.equal(res.res.headers['ratelimit-policy'], '"consumer";q=2;w=3600');
    assert.equal((await hit('/mine/x', { 'x-api-key': 'alice-key' })).res.status, 429);
    for (let i = 0; i < 3; i++)
      assert.equal((await hit('/mine/x', { 'x-api-key': 'bob-key' })).res.status, 200);
  });

  test('several limits apply together and the tightest one is reported', async () => {
    const first = await hit('/multi/x');
    assert.equal(first.res.headers['ratelimit-policy'], '"multi.0";q=10;w=3600, "multi.1";q=2;w=3600');
    assert.equal(first.res.headers['ratelimit'], '"multi.1";r=1;t=1800');
    assert.equal((await hit('/multi/x')).res.status, 200);
    const refused = await hit('/multi/x');
    assert.equal(refused.res.status, 429);
    assert.equal(refused.res.json().detail, 'rate limit "multi.1" exceeded');
  });

  test('a reload keeps the counters', async () => {
    assert.equal((await hit('/reloaded/x')).res.status, 200);
    assert.equal((await hit('/reloaded/x')).res.status, 429);
    await portico.writeConfig(
      config('  - { name: probe, match: { path: /probe }, service: svc }')({
        port: portico.port,
        adminPort: portico.adminPort,
      }),
    );
    await eventually(async () => assert.equal((await hit('/probe')).res.status, 200), 10_000);
    assert.equal((await hit('/reloaded/x')).res.status, 429);
  });
});

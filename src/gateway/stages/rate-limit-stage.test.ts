import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PorticoError } from '../../errors/portico-error.ts';
import { configOf, contextOf, runStage, stageOf } from '../../../test/helpers/stage-kit.ts';
import type { Stage } from '../pipeline/stage.ts';
import { NodeState } from '../runtime/node-state.ts';
import { rateLimitStage } from './rate-limit-stage.ts';

const config = configOf(`
services:
  svc: { instances: [{ url: "http://127.0.0.1:9" }] }
auth:
  apiKeys: { header: x-api-key }
consumers:
  - { id: alice, apiKeys: ["sha256:${'0'.repeat(64)}"], rateLimit: { limit: 1, window: 1h, by: consumer } }
rateLimits:
  shared-budget: { limit: 2, window: 1h, by: global }
routes:
  - { name: own, match: { path: /own }, service: svc, rateLimit: { limit: 2, window: 1h, by: ip } }
  - { name: shared-a, match: { path: /a }, service: svc, rateLimit: shared-budget }
  - { name: shared-b, match: { path: /b }, service: svc, rateLimit: shared-budget }
  - { name: tenant, match: { path: /t }, service: svc, rateLimit: { limit: 1, window: 1h, by: "header:x-tenant" } }
  - { name: both, match: { path: /both }, service: svc, rateLimit: [{ limit: 5, window: 1h, by: ip }, { limit: 1, window: 1h, by: global }] }
  - { name: authed, match: { path: /authed }, service: svc, auth: [apiKey] }
  - { name: free, match: { path: /free }, service: svc }
`);

/** Each test compiles its own stages with fresh counters. */
function stages(...routes: string[]): Stage[] {
  const state = new NodeState().prepare();
  return routes.map((route) => {
    const stage = stageOf(rateLimitStage, config, route, state);
    assert.ok(stage, route);
    return stage;
  });
}

async function call(stage: Stage, request: Parameters<typeof contextOf>[0] = {}) {
  const { ctx, res } = contextOf(request);
  return { outcome: await runStage(stage, ctx), headers: res.headers, ctx };
}

test('a route without limits gets no rate-limit stage', () => {
  assert.equal(stageOf(rateLimitStage, config, 'free'), undefined);
});

test('within the limit: next, with RateLimit-Policy and the remaining quota; past it: 429 with Retry-After', async () => {
  const [own] = stages('own') as [Stage];
  const first = await call(own);
  assert.equal(first.outcome, 'next');
  assert.equal(first.headers['ratelimit-policy'], '"own";q=2;w=3600');
  assert.match(first.headers.ratelimit ?? '', /^"own";r=1;t=\d+$/);
  assert.equal((await call(own)).outcome, 'next');
  const refused = await call(own);
  assert.ok(refused.outcome instanceof PorticoError);
  assert.equal(refused.outcome.code, 'rate_limited');
  assert.ok(Number(refused.outcome.headers?.['retry-after']) >= 1);
  assert.match(refused.headers.ratelimit ?? '', /^"own";r=0;t=\d+$/);
});

test('`by: ip` gives each client address its own budget', async () => {
  const [own] = stages('own') as [Stage];
  for (let i = 0; i < 2; i++) assert.equal((await call(own, { clientIp: '10.0.0.1' })).outcome, 'next');
  assert.ok((await call(own, { clientIp: '10.0.0.1' })).outcome instanceof PorticoError);
  assert.equal((await call(own, { clientIp: '10.0.0.2' })).outcome, 'next');
});

test('a named limit is one budget across the routes that name it', async () => {
  const [a, b] = stages('shared-a', 'shared-b') as [Stage, Stage];
  assert.equal((await call(a)).outcome, 'next');
  assert.equal((await call(b)).outcome, 'next');
  assert.ok((await call(a)).outcome instanceof PorticoError);
});

test('`by: header:NAME` keys the budget by that header', async () => {
  const [tenant] = stages('tenant') as [Stage];
  assert.equal((await call(tenant, { headers: { 'x-tenant': 'red' } })).outcome, 'next');
  assert.ok((await call(tenant, { headers: { 'x-tenant': 'red' } })).outcome instanceof PorticoError);
  assert.equal((await call(tenant, { headers: { 'x-tenant': 'blue' } })).outcome, 'next');
});

test('several limits: all are announced, the tightest is reported, and it refuses', async () => {
  const [both] = stages('both') as [Stage];
  const first = await call(both);
  assert.equal(first.outcome, 'next');
  assert.equal(first.headers['ratelimit-policy'], '"both.0";q=5;w=3600, "both.1";q=1;w=3600');
  assert.match(first.headers.ratelimit ?? '', /^"both\.1";r=0;/);
  const refused = await call(both);
  assert.ok(refused.outcome instanceof PorticoError);
  assert.match(refused.headers.ratelimit ?? '', /^"both\.1";r=0;/);
});

test("a consumer's own limit applies on routes that authenticate it, anonymous callers are not limited by it", async () => {
  const [authed] = stages('authed') as [Stage];
  const alice = { method: 'GET' };
  const first = contextOf(alice);
  first.ctx.consumer = 'alice';
  assert.equal(await runStage(authed, first.ctx), 'next');
  const second = contextOf(alice);
  second.ctx.consumer = 'alice';
  const refused = await runStage(authed, second.ctx);
  assert.ok(refused instanceof PorticoError && refused.code === 'rate_limited');
  assert.equal((await call(authed)).outcome, 'next', 'no consumer: no consumer limit');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PorticoError } from '../../errors/portico-error.ts';
import { audience, hsToken, issuer, jwtSecret, keyHash } from '../../../test/security/helpers.ts';
import { configOf, contextOf, runStage, stageOf } from '../../../test/helpers/stage-kit.ts';
import { authStage } from './auth-stage.ts';

const appKey = 'app-key-0123456789';

const config = configOf(`
services:
  users: { instances: [{ url: "http://127.0.0.1:9" }] }
auth:
  jwt: { issuer: ${issuer}, audience: ${audience}, secret: ${jwtSecret}, algorithms: [HS256] }
  apiKeys: { header: x-api-key, query: api_key }
consumers:
  - { id: app, apiKeys: ["${keyHash(appKey)}"], scopes: [users:read] }
routes:
  - { name: both, match: { path: /both }, service: users, auth: [jwt, apiKey] }
  - { name: keys, match: { path: /keys }, service: users, auth: [apiKey] }
  - { name: open, match: { path: /open }, service: users }
`);
const both = stageOf(authStage, config, 'both');
const keys = stageOf(authStage, config, 'keys');

function refusal(outcome: 'next' | Error): PorticoError {
  assert.ok(outcome instanceof PorticoError, `expected a refusal, got ${String(outcome)}`);
  return outcome;
}

test('a route without auth gets no authentication stage', () => {
  assert.equal(stageOf(authStage, config, 'open'), undefined);
  assert.ok(both && keys);
});

test('no credential at all: 401 with one challenge per method, in the route order', async () => {
  const { ctx } = contextOf();
  const error = refusal(await runStage(both!, ctx));
  assert.equal(error.code, 'unauthorized');
  assert.equal(error.detail, 'credentials are missing');
  assert.equal(
    error.headers?.['www-authenticate'],
    'Bearer realm="portico", ApiKey realm="portico", header="x-api-key"',
  );
});

test('a valid API key sets the consumer, its scopes and the identity headers, then calls next', async () => {
  const { ctx } = contextOf({ headers: { 'x-api-key': appKey } });
  assert.equal(await runStage(keys!, ctx), 'next');
  assert.equal(ctx.consumer, 'app');
  assert.deepEqual([...(ctx.scopes ?? [])], ['users:read']);
  assert.ok(ctx.upstreamHeaders !== undefined && ctx.upstreamHeaders.length > 0);
});

test('an API key in the query authenticates and leaves the query, whatever else it holds', async () => {
  const { ctx } = contextOf({ query: `a=1&api_key=${appKey}&b=2` });
  assert.equal(await runStage(keys!, ctx), 'next');
  assert.equal(ctx.consumer, 'app');
  assert.equal(ctx.query, 'a=1&b=2');
});

test('an unknown API key: 401 saying why, with error="invalid_token" on the bearer challenge', async () => {
  const { ctx } = contextOf({ headers: { 'x-api-key': 'not-a-key' } });
  const error = refusal(await runStage(both!, ctx));
  assert.equal(error.code, 'unauthorized');
  assert.equal(error.detail, 'the API key is not valid');
  assert.match(error.headers?.['www-authenticate'] ?? '', /Bearer realm="portico", error="invalid_token"/);
});

test('a valid bearer token authenticates; a forged one is refused', async () => {
  const good = contextOf({ headers: { authorization: `Bearer ${await hsToken()}` } });
  assert.equal(await runStage(both!, good.ctx), 'next');
  assert.equal(good.ctx.consumer, 'user-1');

  const forged = await hsToken({}, { secret: 'another-secret-with-enough-entropy-000000' });
  const bad = contextOf({ headers: { authorization: `Bearer ${forged}` } });
  assert.equal(refusal(await runStage(both!, bad.ctx)).code, 'unauthorized');
});

test('the first method that proves an identity wins: a valid key rescues a failed token', async () => {
  const forged = await hsToken({}, { secret: 'another-secret-with-enough-entropy-000000' });
  const { ctx } = contextOf({ headers: { authorization: `Bearer ${forged}`, 'x-api-key': appKey } });
  assert.equal(await runStage(both!, ctx), 'next');
  assert.equal(ctx.consumer, 'app');
});

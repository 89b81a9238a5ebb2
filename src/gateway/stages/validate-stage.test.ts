import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { loadConfigContracts } from '../../contracts/config-contracts.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import {
  configOf,
  contextOf,
  runStage,
  stageOf,
  type StandInRequest,
} from '../../../test/helpers/stage-kit.ts';
import type { RequestRoute } from '../pipeline/request-context.ts';
import type { Stage } from '../pipeline/stage.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';
import { validateStage } from './validate-stage.ts';

// Contract paths are relative to the config file; the fixture sits in test/contracts/fixtures/.
const configFile = resolve(import.meta.dirname, '../../../test/contracts/fixtures/portico.yaml');
const config = configOf(`
limits: { bodySize: 1kb }
services:
  users:
    instances: [{ url: "http://127.0.0.1:9", version: 1.0.0 }]
    versions:
      "1": { contract: users-1.0.yaml }
routes:
  - { name: users, match: { path: /users/** }, service: users, validate: request }
  - { name: plain, match: { path: /plain/** }, service: users }
`);
await loadConfigContracts(config, configFile);
const stage = stageOf(validateStage, config, 'users') as Stage;

/** The route's instances: one of version 1.0.0, whose contract the config names. */
const instances = { all: [{ version: '1.0.0' }] } as unknown as InstanceSet;
const route: Partial<RequestRoute> = {
  name: 'users',
  service: { name: 'users', instances } as unknown as RequestRoute['service'],
};

function request(method: string, path: string, extra: StandInRequest = {}) {
  return contextOf({ method, path, route, ...extra }).ctx;
}

function json(body: string): StandInRequest {
  return {
    body,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  };
}

test('a route without validate gets no validation stage', () => {
  assert.equal(stageOf(validateStage, config, 'plain'), undefined);
  assert.ok(stage);
});

test('a request that follows the contract calls next, and its body is kept for the proxy to send', async () => {
  const body = '{"name":"Ada","age":36}';
  const ctx = request('POST', '/users', json(body));
  assert.equal(await runStage(stage, ctx), 'next');
  assert.equal(ctx.body?.toString(), body);
});

test('a body that breaks the contract: 400 validation_failed listing every violation', async () => {
  const ctx = request('POST', '/users', json('{"age":-1}'));
  const outcome = await runStage(stage, ctx);
  assert.ok(outcome instanceof PorticoError);
  assert.equal(outcome.code, 'validation_failed');
  const errors = (outcome.extra as { errors: { in: string }[] }).errors;
  assert.ok(errors.length >= 2, JSON.stringify(errors));
  assert.ok(errors.every((e) => e.in === 'body'));
});

test('a path the contract does not have is refused', async () => {
  const outcome = await runStage(stage, request('GET', '/nowhere'));
  assert.ok(outcome instanceof PorticoError && outcome.code === 'validation_failed');
});

test('a body declared larger than limits.bodySize: 413 before reading it, and the rest is drained', async () => {
  const ctx = request('POST', '/users', {
    body: 'x'.repeat(4096),
    headers: { 'content-type': 'application/json', 'content-length': '4096' },
  });
  const outcome = await runStage(stage, ctx);
  assert.ok(outcome instanceof PorticoError && outcome.code === 'payload_too_large', String(outcome));
  assert.equal(ctx.body, undefined);
  // Not read as the next request on the connection: drained (net/lingering-close.ts).
  assert.equal(ctx.req.readableFlowing, true);
});

test('a chunked body growing past limits.bodySize: 413 while reading it', async () => {
  const ctx = request('POST', '/users', {
    body: `{"name":"${'x'.repeat(2048)}"}`,
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
  });
  const outcome = await runStage(stage, ctx);
  assert.ok(outcome instanceof PorticoError && outcome.code === 'payload_too_large', String(outcome));
});

test('instances without a contract: requests pass unchecked', async () => {
  const unversioned = { all: [{ version: '3.0.0' }] } as unknown as InstanceSet;
  const ctx = request('POST', '/anything', json('not json'));
  ctx.instances = unversioned;
  assert.equal(await runStage(stage, ctx), 'next');
  assert.equal(ctx.body, undefined, 'nothing read when nothing is checked');
});

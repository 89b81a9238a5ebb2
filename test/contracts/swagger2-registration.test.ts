import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let stock: TestUpstream;
let users: TestUpstream;

const fixtures = join(import.meta.dirname, 'fixtures');

/** A Swagger 2.0 contract as a service would publish it; `required` lists the answer's always-sent fields. */
const stockContract = (version: string, required: string[], maxQty = 100) => ({
  swagger: '2.0',
  info: { title: 'stock', version },
  consumes: ['application/json'],
  produces: ['application/json'],
  paths: {
    '/stock/{sku}': {
      get: {
        parameters: [
          { name: 'sku', in: 'path', required: true, type: 'string' },
          { name: 'qty', in: 'query', type: 'integer', maximum: maxQty },
        ],
        responses: { '200': { description: 'level', schema: { $ref: '#/definitions/Level' } } },
      },
    },
  },
  definitions: {
    Level: {
      type: 'object',
      required,
      properties: { sku: { type: 'string' }, level: { type: 'integer' } },
    },
  },
});

async function register(id: string, version: string, contract: object): Promise<Response> {
  return fetch(`${portico.adminUrl}/v1/services/stock/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: stock.url, version, ttl: '60s', contract }),
  });
}

before(async () => {
  [stock, users] = await Promise.all([startUpstream('stock'), startUpstream('users')]);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  stock: {}
  users:
    instances: [{ url: "${users.url}", version: 1.0.0 }]
    versions:
      "1": { contract: "${join(fixtures, 'users-1.0-swagger.yaml')}" }
routes:
  - name: stock
    match: { path: /stock/** }
    service: stock
    validate: request
  - name: users
    match: { path: /users/** }
    service: users
    validate: request
`,
  );
  const res = await register('s1', '1.0.0', stockContract('1.0.0', ['sku', 'level']));
  assert.equal(res.status, 201, await res.text());
});

after(async () => {
  await portico?.stop();
  await Promise.all([stock?.close(), users?.close()]);
});

test('a registered Swagger 2.0 contract validates requests', async () => {
  assert.equal((await fetch(`${portico.url}/stock/a1?qty=5`)).status, 200);
  const refused = await fetch(`${portico.url}/stock/a1?qty=500`);
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { code: string }).code, 'validation_failed');
});

test('the registry refuses a Swagger 2.0 minor that breaks the previous one and takes a compatible one', async () => {
  const refused = await register('s2', '1.1.0', stockContract('1.1.0', ['sku'], 10));
  assert.equal(refused.status, 409);
  const problem = (await refused.json()) as { code: string; breaks: { rule: string; location: string }[] };
  assert.equal(problem.code, 'breaking_change');
  assert.deepEqual(problem.breaks.map((b) => b.rule).sort(), [
    'request-constraint-tightened',
    'response-property-made-optional',
  ]);
  const accepted = await register('s2', '1.1.0', stockContract('1.1.0', ['sku', 'level'], 1000));
  assert.equal(accepted.status, 201, await accepted.text());
});

test('a Swagger 2.0 contract file in the config validates requests', async () => {
  const post = (body: unknown) =>
    fetch(`${portico.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  assert.equal((await post({ name: 'ada' })).status, 200);
  const refused = await post({ age: 3 });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { code: string }).code, 'validation_failed');
});

test('the catalogue lists the operations of Swagger 2.0 contracts as OpenAPI', async () => {
  const catalog = (await (await fetch(`${portico.adminUrl}/v1/catalog`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  assert.ok(catalog.paths['/stock/{sku}']?.get, Object.keys(catalog.paths).join(', '));
  assert.ok(catalog.paths['/users']?.post, Object.keys(catalog.paths).join(', '));
});

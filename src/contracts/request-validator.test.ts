import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from './contract.ts';
import { contractValidator, type RequestParts } from './request-validator.ts';

const orders = (openapi: string) => ({
  openapi,
  info: { title: 'orders', version: '1.0.0' },
  components: {
    parameters: {
      Tenant: { name: 'X-Tenant', in: 'header', required: true, schema: { type: 'string', minLength: 3 } },
    },
    schemas: {
      Line: {
        type: 'object',
        required: ['sku', 'qty'],
        additionalProperties: false,
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
      },
    },
  },
  paths: {
    '/orders/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        parameters: [
          { name: 'expand', in: 'query', schema: { type: 'array', items: { enum: ['lines', 'customer'] } } },
          { name: 'limit', in: 'query', required: true, schema: { type: 'integer', maximum: 50 } },
          { $ref: '#/components/parameters/Tenant' },
        ],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/orders/latest': { get: { responses: { '200': { description: 'ok' } } } },
    '/orders': {
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: {
                  items: { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/Line' } },
                  note: { type: 'string', nullable: true },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
    },
  },
});

function request(parts: Partial<RequestParts>): RequestParts {
  return { method: 'GET', path: '/', query: '', headers: {}, body: undefined, ...parts };
}

for (const openapi of ['3.0.3', '3.1.0']) {
  test(`accepts a conforming request and coerces parameters (OpenAPI ${openapi})`, async () => {
    const validator = contractValidator(await parseContract(orders(openapi)));
    const violations = validator.validate(
      request({
        path: '/orders/42',
        query: 'limit=10&expand=lines&expand=customer',
        headers: { 'x-tenant': 'acme' },
      }),
    );
    assert.deepEqual(violations, []);
  });

  test(`lists every violation of path, query and header with its location (OpenAPI ${openapi})`, async () => {
    const validator = contractValidator(await parseContract(orders(openapi)));
    const violations = validator.validate(
      request({ path: '/orders/abc', query: 'limit=99&expand=nope', headers: { 'x-tenant': 'a' } }),
    );
    assert.deepEqual(
      violations.map((v) => `${v.in} ${v.path}`),
      ['path /id', 'query /expand/0', 'query /limit', 'header /x-tenant'],
    );
    assert.match(violations[0]?.message ?? '', /integer/);
  });

  test(`reports missing required parameters (OpenAPI ${openapi})`, async () => {
    const validator = contractValidator(await parseContract(orders(openapi)));
    assert.deepEqual(validator.validate(request({ path: '/orders/1' })), [
      { in: 'query', path: '/limit', message: 'is required' },
      { in: 'header', path: '/x-tenant', message: 'is required' },
    ]);
  });

  test(`checks a JSON body through $ref with pointers to each failing field (OpenAPI ${openapi})`, async () => {
    const validator = contractValidator(await parseContract(orders(openapi)));
    const body = Buffer.from(
      JSON.stringify({
        items: [
          { sku: 'a', qty: 0 },
          { qty: 'x', extra: 1 },
        ],
      }),
    );
    const violations = validator.validate(
      request({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body }),
    );
    assert.deepEqual(
      violations.map((v) => `${v.path} ${v.message}`),
      [
        '/items/0/qty must be >= 1',
        '/items/1/sku is required',
        '/items/1/extra is not allowed',
        '/items/1/qty must be integer',
      ],
    );
    assert.ok(violations.every((v) => v.in === 'body'));
  });
}

test('a missing required body, a wrong media type and broken JSON are body violations', async () => {
  const validator = contractValidator(await parseContract(orders('3.1.0')));
  const post = (headers: Record<string, string>, body: string | undefined) =>
    validator.validate(
      request({
        method: 'POST',
        path: '/orders',
        headers,
        body: body === undefined ? undefined : Buffer.from(body),
      }),
    );
  assert.deepEqual(post({}, undefined), [{ in: 'body', path: '', message: 'a request body is required' }]);
  assert.match(
    post({ 'content-type': 'text/plain' }, 'hi')[0]?.message ?? '',
    /"text\/plain" is not accepted/,
  );
  assert.deepEqual(post({ 'content-type': 'application/json; charset=utf-8' }, '{"items":'), [
    { in: 'body', path: '', message: 'is not valid JSON' },
  ]);
});

test('a concrete path wins over a template, and unknown operations are violations', async () => {
  const validator = contractValidator(await parseContract(orders('3.1.0')));
  assert.deepEqual(validator.validate(request({ path: '/orders/latest' })), []);
  assert.deepEqual(validator.validate(request({ method: 'HEAD', path: '/orders/latest' })), []);
  assert.deepEqual(validator.validate(request({ path: '/nope' })), [
    { in: 'path', path: '', message: '/nope is not a path of the contract' },
  ]);
  assert.deepEqual(validator.validate(request({ method: 'DELETE', path: '/orders' })), [
    { in: 'path', path: '', message: 'the contract has no DELETE operation on /orders' },
  ]);
});

test('OpenAPI 3.0 boolean exclusive bounds and nullable work', async () => {
  const doc = {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/t': {
        get: {
          parameters: [
            { name: 'n', in: 'query', schema: { type: 'number', minimum: 0, exclusiveMinimum: true } },
          ],
          responses: {},
        },
      },
    },
  };
  const validator = contractValidator(await parseContract(doc));
  assert.equal(validator.validate(request({ path: '/t', query: 'n=0' })).length, 1);
  assert.deepEqual(validator.validate(request({ path: '/t', query: 'n=0.5' })), []);
});

test('compiled validators are shared per contract hash', async () => {
  const a = contractValidator(await parseContract(orders('3.1.0')));
  const b = contractValidator(await parseContract(orders('3.1.0')));
  assert.equal(a, b);
});

test('an answer is checked against the status it carries, its media type and its JSON schema', async () => {
  const doc = {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/t': {
        get: {
          responses: {
            '200': {
              description: 'ok',
              content: { 'application/json': { schema: { type: 'object', required: ['id'] } } },
            },
            '4XX': { description: 'client error' },
          },
        },
      },
    },
  };
  const validator = contractValidator(await parseContract(doc));
  const check = (status: number, body: string) =>
    validator.validateResponse({ method: 'GET', path: '/t' }, status, 'application/json', Buffer.from(body));
  assert.deepEqual(check(200, '{"id":1}'), []);
  assert.deepEqual(check(200, '{}'), [{ in: 'response', path: '/id', message: 'is required' }]);
  assert.deepEqual(check(404, 'anything'), []);
  assert.deepEqual(check(500, ''), [
    { in: 'response', path: '', message: 'status 500 is not described by the contract' },
  ]);
});

test('a parameter given by JSON content is decoded and checked against its schema', async () => {
  const validator = contractValidator(
    await parseContract({
      openapi: '3.1.0',
      info: { title: 'search', version: '1.0.0' },
      paths: {
        '/search': {
          get: {
            parameters: [
              {
                name: 'filter',
                in: 'query',
                required: true,
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      required: ['color'],
                      properties: { color: { enum: ['red', 'blue'] }, size: { type: 'integer' } },
                    },
                  },
                },
              },
            ],
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    }),
  );
  const query = (filter: string) => `filter=${encodeURIComponent(filter)}`;
  assert.deepEqual(
    validator.validate(request({ path: '/search', query: query('{"color":"red","size":3}') })),
    [],
  );
  const wrong = validator.validate(request({ path: '/search', query: query('{"color":"green"}') }));
  assert.deepEqual(
    wrong.map((v) => [v.in, v.path]),
    [['query', '/filter/color']],
  );
  const notJson = validator.validate(request({ path: '/search', query: query('{color') }));
  assert.deepEqual(notJson, [{ in: 'query', path: '/filter', message: 'must be a JSON text' }]);
  const missing = validator.validate(request({ path: '/search' }));
  assert.equal(missing.length, 1);
  assert.equal(missing[0]?.in, 'query');
});

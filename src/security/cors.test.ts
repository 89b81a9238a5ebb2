import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { createCorsPolicy } from './cors.ts';

function fakeRes() {
  const headers = new Map<string, string>();
  return {
    headers,
    res: {
      statusCode: 200,
      setHeader: (name: string, value: string) => headers.set(name, value),
      end: () => {},
    } as unknown as ServerResponse,
  };
}

const req = (headers: Record<string, string>, method = 'GET') =>
  ({ method, headers }) as unknown as IncomingMessage;

const policy = createCorsPolicy({
  origins: ['https://A.example.test'],
  methods: ['GET', 'POST'],
  headers: ['X-Api-Key'],
  exposeHeaders: [],
  credentials: false,
});

test('origins compare case-insensitively and the request origin is echoed', () => {
  const { res, headers } = fakeRes();
  policy.decorate(req({ origin: 'https://a.example.test' }), res);
  assert.equal(headers.get('access-control-allow-origin'), 'https://a.example.test');
});

test('a preflight asking for an unlisted header gets no CORS headers', () => {
  const { res, headers } = fakeRes();
  const preflight = req(
    {
      origin: 'https://a.example.test',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'x-api-key, x-other',
    },
    'OPTIONS',
  );
  assert.ok(policy.isPreflight(preflight));
  policy.answerPreflight(preflight, res);
  assert.equal(headers.get('access-control-allow-origin'), undefined);
});

test('"*" allows any origin but still echoes it', () => {
  const any = createCorsPolicy({
    origins: ['*'],
    methods: ['GET'],
    headers: [],
    exposeHeaders: [],
    credentials: false,
  });
  const { res, headers } = fakeRes();
  any.decorate(req({ origin: 'https://b.test' }), res);
  assert.equal(headers.get('access-control-allow-origin'), 'https://b.test');
});

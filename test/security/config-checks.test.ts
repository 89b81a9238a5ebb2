import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf } from '../config/helpers.ts';

const service = 'services: { s: {} }\n';
const route = (extra: string) => `routes:\n  - { name: r, match: { path: /r }, service: s, ${extra} }\n`;
const messages = (text: string) => issuesOf(text).map((i) => `${i.path}: ${i.message}`);

test('the security parts of a config are accepted with their defaults filled in', () => {
  const config = parseConfig(
    `${service}auth:\n  jwt: { secret: s3cret, algorithms: [HS256] }\n  apiKeys: {}\n` +
      `consumers:\n  - { id: app, apiKeys: ["sha256:${'a'.repeat(64)}"] }\n` +
      `cors: { origins: ["https://a.test"] }\n${route('auth: [jwt, apiKey], scopes: [x], rateLimit: { limit: 1, window: 1s, by: ip }')}`,
    'p.yaml',
    {},
  );
  assert.equal(config.auth?.jwt?.clockSkew, '30s');
  assert.equal(config.auth?.jwt?.consumerClaim, 'sub');
  assert.equal(config.auth?.apiKeys?.header, 'x-api-key');
  assert.deepEqual(config.cors?.methods, ['GET', 'HEAD', 'POST']);
});

test('alg none cannot be configured', () => {
  assert.match(
    messages(`auth:\n  jwt: { secret: s, algorithms: [none] }\n`).join('\n'),
    /auth\.jwt\.algorithms\[0\]/,
  );
});

test('HS algorithms need a secret and the others need keys or a JWKS URL', () => {
  assert.deepEqual(messages(`auth:\n  jwt: { algorithms: [HS256, RS256] }\n`), [
    'auth.jwt.secret: a secret is required for HS256',
    'auth.jwt.algorithms: jwks or keys is required for RS256',
  ]);
});

test('a route naming an unknown limit, or scopes without auth, is refused', () => {
  assert.deepEqual(
    messages(
      `${service}rateLimits: { a: { limit: 1, window: 1s, by: global } }\n${route('scopes: [x], rateLimit: [a, b]')}`,
    ),
    [
      'routes[0].scopes: scopes need authentication: add auth to the route',
      'routes[0].rateLimit[1]: unknown rate limit "b" (declared: a)',
    ],
  );
});

test('a route accepting a method that is not configured is refused', () => {
  assert.deepEqual(messages(`${service}${route('auth: [jwt, apiKey]')}`), [
    'routes[0].auth: route accepts jwt but auth.jwt is not configured',
    'routes[0].auth: route accepts apiKey but no consumer has an API key',
  ]);
});

test('duplicate consumer ids and key hashes are refused', () => {
  const key = `"sha256:${'c'.repeat(64)}"`;
  assert.deepEqual(
    messages(`consumers:\n  - { id: a, apiKeys: [${key}] }\n  - { id: a, apiKeys: [${key}] }\n`),
    [
      'consumers[1].id: duplicate consumer id "a"',
      'consumers[1].apiKeys[0]: this key hash is already used by a consumer',
    ],
  );
});

test('CORS refuses credentials for every origin', () => {
  assert.deepEqual(messages(`cors: { origins: ["*"], credentials: true }\n`), [
    'cors.credentials: credentials cannot be allowed for every origin ("*")',
  ]);
});

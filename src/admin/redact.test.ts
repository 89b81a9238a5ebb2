import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../config/schema.ts';
import { redactConfig } from './redact.ts';

test('GET /v1/config hides the admin token, JWT secret, API key hashes, Redis password, collector headers and the ACME encryption key', () => {
  const config = {
    admin: { listen: '127.0.0.1:8081', token: 'admin-token-1234567890' },
    store: { kind: 'redis', url: 'redis://user:hunter2@127.0.0.1:6379/0', prefix: 'p:' },
    auth: { jwt: { secret: 'jwt-secret', algorithms: ['HS256'] } },
    consumers: [{ id: 'app', apiKeys: [`sha256:${'a'.repeat(64)}`] }],
    tracing: {
      otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces', headers: { 'x-api-key': 'collector-key' } },
    },
    listen: [
      {
        address: '127.0.0.1:8443',
        tls: {
          acme: {
            directory: 'https://ca.test/dir',
            domains: ['a.test'],
            encryptionKey: 'acme-sealing-secret-0123456789abcdef',
          },
        },
      },
    ],
    routes: [{ name: 'r', match: { path: '/x', headers: { 'x-tenant': 'acme' } }, service: 's' }],
  } as unknown as Config;
  const text = JSON.stringify(redactConfig(config));
  for (const secret of [
    'admin-token-1234567890',
    'hunter2',
    'jwt-secret',
    'a'.repeat(64),
    'collector-key',
    'acme-sealing-secret-0123456789abcdef',
  ]) {
    assert.ok(!text.includes(secret), `${secret} leaked`);
  }
  assert.ok(text.includes('redis://user:[redacted]@127.0.0.1:6379/0'));
  assert.ok(text.includes('"x-tenant":"acme"'), 'route match headers are not secrets');
});

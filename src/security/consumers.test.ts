import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createConsumerTable } from './consumers.ts';

const hash = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

test('finds the consumer of a clear-text key through its stored hash', () => {
  const table = createConsumerTable([
    { id: 'app', apiKeys: [hash('k1'), hash('k2').toUpperCase().replace('SHA256', 'sha256')], scopes: ['a'] },
    { id: 'other', apiKeys: [hash('k3')] },
  ]);
  assert.equal(table.byApiKey('k1')?.id, 'app');
  assert.equal(table.byApiKey('k2')?.id, 'app', 'stored hashes are case-insensitive hex');
  assert.equal(table.byApiKey('k3')?.id, 'other');
  assert.equal(table.byApiKey('K1'), undefined);
  assert.equal(table.byApiKey(hash('k1')), undefined, 'the hash itself is not a key');
  assert.equal(table.byApiKey(''), undefined);
});

test("builds each consumer's identity headers once", () => {
  const table = createConsumerTable([
    { id: 'app', apiKeys: [hash('k')], scopes: ['users:read', 'orders:read'] },
  ]);
  const consumer = table.byApiKey('k');
  assert.deepEqual(consumer?.identity.upstreamHeaders, [
    'x-consumer-id',
    'app',
    'x-consumer-scopes',
    'users:read orders:read',
  ]);
  assert.equal(table.byApiKey('k')?.identity, consumer?.identity);
});

test('finds the consumer of a client certificate by fingerprint, subject or SAN', () => {
  const pem = execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-days',
      '1',
      '-subj',
      '/CN=app/O=Shop',
      '-addext',
      'subjectAltName=DNS:app.test,email:ops@shop.test,IP:10.0.0.7',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const cert = new X509Certificate(pem);
  const colons = cert.fingerprint256;
  const find = (entry: string) =>
    createConsumerTable([{ id: 'app', certificates: [entry] }]).byCertificate(cert)?.id;
  assert.equal(find(`sha256:${colons}`), 'app');
  assert.equal(find(`sha256:${colons.replaceAll(':', '').toLowerCase()}`), 'app');
  assert.equal(find('subject:CN=app, O=Shop'), 'app');
  assert.equal(find('san:DNS:app.test'), 'app');
  assert.equal(find('san:email:ops@shop.test'), 'app');
  assert.equal(find('san:IP:10.0.0.7'), 'app');
  assert.equal(find('san:DNS:other.test'), undefined);
  assert.equal(find('subject:CN=app'), undefined, 'the whole subject must match');
});

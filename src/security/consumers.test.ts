import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

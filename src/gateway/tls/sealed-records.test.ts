import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRecordSealer } from './sealed-records.ts';

const secret = 'a-test-secret-of-at-least-32-characters!';

test('a sealed record opens with the same secret and name, and holds no plaintext', () => {
  const sealer = createRecordSealer(secret);
  const pem = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
  const sealed = sealer.seal('cert:x', pem);
  assert.ok(!sealed.includes('PRIVATE KEY'));
  assert.notEqual(sealer.seal('cert:x', pem), sealed, 'a fresh IV each time');
  assert.equal(createRecordSealer(secret).open('cert:x', sealed), pem);
});

test('a record does not open with another secret, under another name, or altered', () => {
  const sealed = createRecordSealer(secret).seal('cert:x', 'key material');
  assert.throws(() => createRecordSealer(`${secret}?`).open('cert:x', sealed), /does not open/);
  assert.throws(() => createRecordSealer(secret).open('account:x', sealed), /does not open/);
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
  assert.throws(
    () => createRecordSealer(secret).open('cert:x', `v1.${raw.toString('base64url')}`),
    /does not open/,
  );
  assert.throws(() => createRecordSealer(secret).open('cert:x', 'plain text'), /not sealed/);
});

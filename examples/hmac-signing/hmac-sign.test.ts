import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { join } from 'node:path';
import { startPortico } from '../../test/helpers/portico-process.ts';
import { startUpstream } from '../../test/helpers/upstream.ts';
import { signedText, verifySignature } from './hmac-sign.ts';

const secret = 'an-example-secret-of-at-least-32-chars';

test('requests reach the service signed; a forged header is replaced and a changed path fails', async (t) => {
  const upstream = await startUpstream('signed');
  t.after(() => upstream.close());
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
plugins: [{ module: ${join(import.meta.dirname, 'hmac-sign.ts')} }]
services:
  orders: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: orders
    match: { path: /api/orders/** }
    service: orders
    stripPrefix: /api
    plugins:
      hmac-sign: { secret: "\${HMAC_SECRET}", keyId: k1 }
`,
    { env: { HMAC_SECRET: secret } },
  );
  t.after(() => portico.stop('SIGKILL'));

  const res = await fetch(`${portico.url}/api/orders/7?full=1`, {
    headers: { 'x-portico-signature': 'keyId=k1,ts=1,sig=forged' },
  });
  assert.equal(res.status, 200);
  const seen = upstream.requests.at(-1);
  assert.ok(seen);
  // One signature header: the client's forged copy never reaches the service.
  const copies = seen.rawHeaders.filter(
    (_, i) => i % 2 === 0 && seen.rawHeaders[i]?.toLowerCase() === 'x-portico-signature',
  );
  assert.equal(copies.length, 1);
  const header = seen.headers['x-portico-signature'] as string;
  assert.match(header, /^keyId=k1,ts=\d+,sig=/);
  const requestId = seen.headers['x-request-id'] as string;
  // The service verifies what it received: the stripped path and the query.
  assert.equal(seen.url, '/orders/7?full=1');
  assert.ok(verifySignature({ secret, header, method: 'GET', target: seen.url, requestId }));
  assert.equal(
    verifySignature({ secret, header, method: 'GET', target: '/orders/8?full=1', requestId }),
    false,
  );
  assert.equal(verifySignature({ secret, header, method: 'DELETE', target: seen.url, requestId }), false);
  assert.equal(
    verifySignature({ secret: `${secret}x`, header, method: 'GET', target: seen.url, requestId }),
    false,
  );
});

test('a signature older than maxAgeSeconds is refused by the verifier', () => {
  const sig = createHmac('sha256', secret)
    .update(signedText('GET', '/', 'r', 1000))
    .digest('base64url');
  const header = `keyId=k1,ts=1000,sig=${sig}`;
  const input = { secret, header, method: 'GET', target: '/', requestId: 'r' };
  assert.equal(verifySignature({ ...input, now: 1100 }), true);
  assert.equal(verifySignature({ ...input, now: 1400 }), false);
  assert.equal(verifySignature({ ...input, now: 1400, maxAgeSeconds: 600 }), true);
});

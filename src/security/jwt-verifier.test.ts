import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { JwtConfig } from '../config/schema.ts';
import { createJwtVerifier, JwtRejection } from './jwt-verifier.ts';

const secret = 'unit-test-secret-0123456789abcdef';
const t0 = 1_800_000_000_000;
const base: JwtConfig = {
  issuer: 'https://id.test',
  audience: 'api',
  secret,
  algorithms: ['HS256'],
  clockSkew: '30s',
  consumerClaim: 'sub',
  jwksCacheTtl: '10m',
  jwksCooldown: '30s',
  cacheSize: 100,
};

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function hs(
  claims: Record<string, unknown>,
  key = secret,
  header: Record<string, unknown> = { alg: 'HS256' },
): string {
  const body = `${b64(header)}.${b64({ sub: 'u1', iss: 'https://id.test', aud: 'api', exp: t0 / 1000 + 60, ...claims })}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof JwtRejection, String(err));
    return err.message;
  }
  return 'accepted';
}

test('accepts a valid token and derives the identity', async () => {
  const verifier = createJwtVerifier({ config: base, now: () => t0 });
  const identity = await verifier.verify(hs({ scope: 'a b' }));
  assert.equal(identity.consumer, 'u1');
  assert.deepEqual([...identity.scopes], ['a', 'b']);
});

test('exp and nbf are checked against the injected clock with the configured skew', async () => {
  let now = t0;
  const verifier = createJwtVerifier({ config: { ...base, cacheSize: 0 }, now: () => now });
  const token = hs({ exp: t0 / 1000 + 60, nbf: t0 / 1000 - 10 });
  now = t0 + 60_000 + 29_000;
  assert.equal(await reason(verifier.verify(token)), 'accepted');
  now = t0 + 60_000 + 31_000;
  assert.equal(await reason(verifier.verify(token)), 'the token has expired');
  now = t0;
  assert.equal(await reason(verifier.verify(hs({ nbf: t0 / 1000 + 120 }))), 'the token is not valid yet');
});

test('a cached token still expires on time', async () => {
  let now = t0;
  const verifier = createJwtVerifier({ config: base, now: () => now });
  const token = hs({});
  assert.equal(await reason(verifier.verify(token)), 'accepted');
  now = t0 + 91_000;
  assert.equal(await reason(verifier.verify(token)), 'the token has expired');
});

test('refuses hostile tokens', async () => {
  const verifier = createJwtVerifier({ config: base, now: () => t0 });
  const cases: [string, string, string][] = [
    [
      'alg none',
      `${b64({ alg: 'none' })}.${b64({ sub: 'u1', exp: t0 / 1000 + 60 })}.`,
      'the token algorithm is not accepted',
    ],
    ['HS512 not allowed', hs({}, secret, { alg: 'HS512' }), 'the token algorithm is not accepted'],
    ['wrong secret', hs({}, 'another-secret-0123456789abcdef'), 'the token signature is invalid'],
    ['wrong audience', hs({ aud: 'other' }), 'the token\'s "aud" claim is missing or not accepted'],
    ['wrong issuer', hs({ iss: 'https://evil.test' }), 'the token\'s "iss" claim is missing or not accepted'],
    ['no exp', hs({ exp: undefined }), 'the token\'s "exp" claim is missing or not accepted'],
    ['no subject', hs({ sub: undefined }), 'the token has no valid "sub" claim'],
    ['CRLF in subject', hs({ sub: 'a\r\nx-consumer-id: admin' }), 'the token has no valid "sub" claim'],
    ['garbage', 'not-a-token', 'the token is malformed'],
  ];
  for (const [name, token, expected] of cases)
    assert.equal(await reason(verifier.verify(token)), expected, name);
  const tampered = hs({ scope: 'a' }).split('.');
  tampered[1] = b64({
    sub: 'admin',
    iss: 'https://id.test',
    aud: 'api',
    exp: t0 / 1000 + 60,
    scope: 'admin',
  });
  assert.equal(await reason(verifier.verify(tampered.join('.'))), 'the token signature is invalid');
});

test('an RSA public key can never be used as an HMAC secret (key confusion)', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const pem = await exportSPKI(publicKey);
  const config: JwtConfig = {
    ...base,
    secret,
    algorithms: ['HS256', 'RS256'],
    keys: [{ ...(await exportJWK(publicKey)), kid: 'r1', alg: 'RS256' }],
  };
  const verifier = createJwtVerifier({ config, now: () => t0 });
  assert.equal(await reason(verifier.verify(hs({}, pem))), 'the token signature is invalid');
  const onlyRs = createJwtVerifier({
    config: { ...config, secret: undefined, algorithms: ['RS256'] },
    now: () => t0,
  });
  assert.equal(await reason(onlyRs.verify(hs({}, pem))), 'the token algorithm is not accepted');
  const rs = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'r1' })
    .setSubject('r')
    .setIssuer('https://id.test')
    .setAudience('api')
    .setExpirationTime(t0 / 1000 + 60)
    .sign(privateKey);
  assert.equal(await reason(verifier.verify(rs)), 'accepted');
  const unknownKid = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'nope' })
    .setSubject('r')
    .setIssuer('https://id.test')
    .setAudience('api')
    .setExpirationTime(t0 / 1000 + 60)
    .sign(privateKey);
  assert.equal(await reason(verifier.verify(unknownKid)), 'no key matches the token');
});

test('the consumer may come from another claim', async () => {
  const verifier = createJwtVerifier({ config: { ...base, consumerClaim: 'client_id' }, now: () => t0 });
  const identity = await verifier.verify(hs({ client_id: 'mobile-app', scp: ['x'] }));
  assert.equal(identity.consumer, 'mobile-app');
  assert.equal(identity.subject, 'u1');
  assert.deepEqual([...identity.scopes], ['x']);
});

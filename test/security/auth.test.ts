import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { send } from '../gateway/client.ts';
import {
  audience,
  hsToken,
  issuer,
  jwtSecret,
  keyHash,
  startJwksServer,
  type JwksServer,
} from './helpers.ts';

const mobileKey = 'mobile-key-0123456789';
const officeKey = 'office-key-0123456789';

interface Echo {
  url: string;
  headers: Record<string, string>;
}

describe('authentication and access control', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;
  let jwks: JwksServer;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let ec: Awaited<ReturnType<typeof generateKeyPair>>;
  let ed: Awaited<ReturnType<typeof generateKeyPair>>;

  before(async () => {
    upstream = await startUpstream('users');
    rsa = await generateKeyPair('RS256');
    ec = await generateKeyPair('ES256');
    ed = await generateKeyPair('EdDSA');
    jwks = await startJwksServer([
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ]);
    const inlineKey = JSON.stringify({ ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA' });
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  users: { instances: [{ url: "${upstream.url}" }] }
auth:
  jwt:
    issuer: ${issuer}
    audience: ${audience}
    secret: ${jwtSecret}
    jwks: ${jwks.url}
    keys: [${inlineKey}]
    algorithms: [HS256, RS256, ES256, EdDSA]
    clockSkew: 5s
    jwksCooldown: 100ms
  apiKeys: { header: x-api-key, query: api_key }
consumers:
  - { id: mobile-app, apiKeys: ["${keyHash(mobileKey)}"], scopes: [users:read] }
  - { id: back-office, apiKeys: ["${keyHash(officeKey)}"], scopes: [users:read, users:write] }
routes:
  - name: users
    match: { path: /users/** }
    service: users
    auth: [jwt, apiKey]
    scopes: { GET: [users:read], "*": [users:write] }
  - name: keys-only
    match: { path: /keys/** }
    service: users
    auth: [apiKey]
  - name: open
    match: { path: /open/** }
    service: users
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await upstream?.close();
    await jwks?.close();
  });

  /** Sends and asserts the upstream saw the request (or did not). */
  async function call(path: string, headers: Record<string, string>, method = 'GET') {
    const before = upstream.requests.length;
    const res = await send(`${portico.url}${path}`, { method, headers });
    return { res, reached: upstream.requests.length > before };
  }

  test('a valid API key reaches the upstream with the verified identity headers', async () => {
    const { res, reached } = await call('/users/1', { 'x-api-key': mobileKey });
    assert.equal(res.status, 200);
    assert.ok(reached);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-consumer-id'], 'mobile-app');
    assert.equal(echo.headers['x-consumer-scopes'], 'users:read');
    assert.equal(echo.headers['x-consumer-subject'], undefined);
  });

  test('client copies of the identity headers are removed, even with a valid key', async () => {
    const { res } = await call('/users/1', {
      'x-api-key': mobileKey,
      'x-consumer-id': 'back-office',
      'x-consumer-scopes': 'admin',
      'x-consumer-subject': 'root',
    });
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-consumer-id'], 'mobile-app');
    assert.equal(echo.headers['x-consumer-scopes'], 'users:read');
    assert.equal(echo.headers['x-consumer-subject'], undefined);
  });

  test('identity headers sent to an open route never reach the upstream', async () => {
    const { res } = await call('/open/x', { 'x-consumer-id': 'back-office', 'x-consumer-scopes': 'admin' });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-consumer-id'], undefined);
    assert.equal(echo.headers['x-consumer-scopes'], undefined);
  });

  test('Connection naming an identity header cannot strip the verified one', async () => {
    const { res } = await call('/users/1', {
      'x-api-key': mobileKey,
      connection: 'close, x-consumer-id, x-forwarded-for',
    });
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-consumer-id'], 'mobile-app');
    assert.ok(echo.headers['x-forwarded-for']);
  });

  test('no credentials get 401 with a challenge per accepted method, and nothing reaches the upstream', async () => {
    const { res, reached } = await call('/users/1', {});
    assert.equal(res.status, 401);
    assert.equal(res.json().code, 'unauthorized');
    assert.equal(
      res.headers['www-authenticate'],
      'Bearer realm="portico", ApiKey realm="portico", header="x-api-key"',
    );
    assert.ok(!reached);
  });

  test('an unknown API key gets 401', async () => {
    const { res, reached } = await call('/users/1', { 'x-api-key': 'nope' });
    assert.equal(res.status, 401);
    assert.equal(res.json().detail, 'the API key is not valid');
    assert.ok(!reached);
  });

  test('an API key in the query authenticates and is removed before proxying', async () => {
    const { res } = await call(`/keys/a?x=1&api_key=${officeKey}&y=2`, {});
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.url, '/keys/a?x=1&y=2');
    assert.equal(echo.headers['x-consumer-id'], 'back-office');
  });

  test('a route that only accepts API keys refuses a valid JWT', async () => {
    const { res, reached } = await call('/keys/a', { authorization: `Bearer ${await hsToken()}` });
    assert.equal(res.status, 401);
    assert.ok(!reached);
  });

  test('an HS256 token authenticates with its subject and scopes', async () => {
    const token = await hsToken({ sub: 'user-42', scope: 'users:read extra' });
    const { res } = await call('/users/1', { authorization: `Bearer ${token}` });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-consumer-id'], 'user-42');
    assert.equal(echo.headers['x-consumer-subject'], 'user-42');
    assert.equal(echo.headers['x-consumer-scopes'], 'users:read extra');
  });

  test('scopes from an scp list are honoured', async () => {
    const token = await hsToken({ scope: undefined, scp: ['users:read', 'users:write'] });
    const { res } = await call('/users/1', { authorization: `Bearer ${token}` }, 'DELETE');
    assert.equal(res.status, 200);
  });

  test('a method without its scope gets 403 with insufficient_scope and nothing reaches the upstream', async () => {
    const { res, reached } = await call('/users/1', { 'x-api-key': mobileKey }, 'POST');
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'forbidden');
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", scope="users:write"/);
    assert.ok(!reached);
  });

  test('the "*" scopes apply to methods not listed', async () => {
    const { res } = await call('/users/1', { 'x-api-key': officeKey }, 'PUT');
    assert.equal(res.status, 200);
  });

  test('an invalid JWT does not block a valid API key (either method suffices)', async () => {
    const { res } = await call('/users/1', { authorization: 'Bearer a.b.c', 'x-api-key': mobileKey });
    assert.equal(res.status, 200);
  });

  test('an invalid token gets 401 with error="invalid_token"', async () => {
    const { res } = await call('/users/1', {
      authorization: `Bearer ${await hsToken({}, { expiresIn: -60 })}`,
    });
    assert.equal(res.status, 401);
    assert.equal(res.json().detail, 'the token has expired');
    assert.match(String(res.headers['www-authenticate']), /Bearer realm="portico", error="invalid_token"/);
  });

  test('an RS256 token verifies against the JWKS URL', async () => {
    const token = await new SignJWT({ scope: 'users:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setSubject('rsa-user')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const { res } = await call('/users/1', { authorization: `Bearer ${token}` });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-consumer-id'], 'rsa-user');
  });

  test('an ES256 token verifies against the JWKS URL and EdDSA against an inline key', async () => {
    for (const [alg, kid, key] of [
      ['ES256', 'ec-1', ec.privateKey],
      ['EdDSA', 'ed-1', ed.privateKey],
    ] as const) {
      const token = await new SignJWT({ scope: 'users:read' })
        .setProtectedHeader({ alg, kid })
        .setSubject(`${alg}-user`)
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime('5m')
        .sign(key);
      const { res } = await call('/users/1', { authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, alg);
    }
  });

  test('a rotated key with a new kid is fetched from the JWKS; stale keys survive an outage', async () => {
    const next = await generateKeyPair('RS256');
    jwks.keys = [...jwks.keys, { ...(await exportJWK(next.publicKey)), kid: 'rsa-2', alg: 'RS256' }];
    const token = await new SignJWT({ scope: 'users:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-2' })
      .setSubject('rotated')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(next.privateKey);
    // Refused until the 100 ms refetch cooldown since the last JWKS fetch has passed, then fetched and accepted.
    await eventually(
      async () => {
        const { res } = await call('/users/1', { authorization: `Bearer ${token}` });
        assert.equal(res.status, 200);
      },
      5000,
      50,
    );
    jwks.down = true;
    try {
      const again = await new SignJWT({ scope: 'users:read' })
        .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
        .setSubject('still-works')
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime('5m')
        .sign(rsa.privateKey);
      const { res: stale } = await call('/users/1', { authorization: `Bearer ${again}` });
      assert.equal(stale.status, 200);
    } finally {
      jwks.down = false;
    }
  });

  test('tokens with unknown kids do not trigger a fetch each (refetch is rate limited)', async () => {
    const stranger = await generateKeyPair('RS256');
    const tokens: string[] = [];
    for (let i = 0; i < 50; i++) {
      tokens.push(
        await new SignJWT({})
          .setProtectedHeader({ alg: 'RS256', kid: `made-up-${i}` })
          .setSubject('x')
          .setIssuer(issuer)
          .setAudience(audience)
          .setExpirationTime('5m')
          .sign(stranger.privateKey),
      );
    }
    const before = jwks.fetches;
    const started = Date.now();
    const answers = await Promise.all(
      tokens.map((token) => call('/users/1', { authorization: `Bearer ${token}` })),
    );
    const allowed = Math.ceil((Date.now() - started) / 100) + 1;
    for (const { res, reached } of answers) {
      assert.equal(res.status, 401);
      assert.ok(!reached);
    }
    assert.ok(jwks.fetches - before <= allowed, `fetched ${jwks.fetches - before} times for 50 unknown kids`);
  });
});

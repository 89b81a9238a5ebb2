import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { audience, b64, hsToken, issuer, jwtSecret, keyHash, sendRaw } from './helpers.ts';

/** One hostile input: the raw bytes sent, the exact status expected, and whether the connection must close. */
interface HostileCase {
  readonly name: string;
  readonly raw: string;
  readonly status: number;
  readonly closes?: boolean;
}

const crlf = (lines: readonly string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;
/** A request on the open route: only the check under test can stop it, so a miss would show as a 200. */
const open = (headers: readonly string[], body = '', line = 'POST /open/x HTTP/1.1') =>
  crlf([line, 'Host: gw', ...headers], body);
/** An HTTP/1.1 request for `target` with Host and extra headers: the shape most cases share. */
const request = (target: string, headers: readonly string[] = [], method = 'GET') =>
  crlf([`${method} ${target} HTTP/1.1`, 'Host: gw', ...headers]);
/** A GET on the protected route with extra headers. */
const api = (headers: readonly string[], path = '/api/x', method = 'GET') => request(path, headers, method);
const bearer = (token: string) => api([`Authorization: Bearer ${token}`]);

function hmacToken(header: object, claims: object, key: string | Buffer = jwtSecret): string {
  const body = `${b64(header)}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

describe('hostile and malformed inputs', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;
  let cases: HostileCase[];

  before(async () => {
    upstream = await startUpstream('svc');
    const rsa = await generateKeyPair('RS256');
    const rsaJwk = JSON.stringify({ ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'RS256' });
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: error, accessLog: false }
limits: { headerCount: 50, headerSize: 8kb, headersTimeout: 1s }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
auth:
  jwt: { issuer: "${issuer}", audience: ${audience}, secret: ${jwtSecret}, keys: [${rsaJwk}], algorithms: [HS256, RS256] }
  apiKeys: { header: x-api-key }
consumers:
  - { id: app, apiKeys: ["${keyHash('good-key')}"], scopes: [users:read] }
routes:
  - name: api
    match: { path: /api/** }
    service: svc
    auth: [jwt, apiKey]
    scopes: { GET: [users:read], "*": [users:write] }
  - { name: admin, match: { path: /admin-only/** }, service: svc, auth: [jwt, apiKey], scopes: [admin] }
  - { name: limited, match: { path: /limited/** }, service: svc, rateLimit: { limit: 1, window: 1h, by: ip } }
  - { name: open, match: { path: /open/** }, service: svc }
`,
    );
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u1', iss: issuer, aud: audience, exp: now + 300, scope: 'users:read' };
    const pem = await exportSPKI(rsa.publicKey);
    const valid = await hsToken();
    const [h, , s] = valid.split('.');
    const rsSigned = await new SignJWT({ scope: 'users:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'r1' })
      .setSubject('u1')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const stranger = await generateKeyPair('RS256');
    const unknownKid = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'r9' })
      .setSubject('u1')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(stranger.privateKey);
    const manyLines = Array.from({ length: 999 }, (_, i) => `X-H${i}: ${i}`);

    cases = [
      // Request smuggling: framing two parsers could read differently.
      {
        name: 'Content-Length with Transfer-Encoding',
        raw: open(['Content-Length: 4', 'Transfer-Encoding: chunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding before Content-Length',
        raw: open(['Transfer-Encoding: chunked', 'Content-Length: 4'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'duplicate equal Content-Length',
        raw: open(['Content-Length: 1', 'Content-Length: 1'], 'x'),
        status: 400,
        closes: true,
      },
      {
        name: 'duplicate different Content-Length',
        raw: open(['Content-Length: 1', 'Content-Length: 2'], 'xx'),
        status: 400,
        closes: true,
      },
      { name: 'Content-Length list', raw: open(['Content-Length: 1, 1'], 'x'), status: 400, closes: true },
      {
        name: 'Content-Length with leading zeros',
        raw: open(['Content-Length: 005'], 'xxxxx'),
        status: 400,
        closes: true,
      },
      {
        name: 'Content-Length with a sign',
        raw: open(['Content-Length: +5'], 'xxxxx'),
        status: 400,
        closes: true,
      },
      { name: 'negative Content-Length', raw: open(['Content-Length: -1']), status: 400, closes: true },
      {
        name: 'Content-Length with inner space',
        raw: open(['Content-Length: 1 1'], 'x'),
        status: 400,
        closes: true,
      },
      {
        name: 'hexadecimal Content-Length',
        raw: open(['Content-Length: 0x5'], 'xxxxx'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding ",chunked"',
        raw: open(['Transfer-Encoding: ,chunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding "identity, chunked"',
        raw: open(['Transfer-Encoding: identity, chunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding "chunked, identity"',
        raw: open(['Transfer-Encoding: chunked, identity'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'duplicate Transfer-Encoding',
        raw: open(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding gzip',
        raw: open(['Transfer-Encoding: gzip'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding xchunked',
        raw: open(['Transfer-Encoding: xchunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'space before the colon of Transfer-Encoding',
        raw: open(['Transfer-Encoding : chunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'vertical tab in Transfer-Encoding',
        raw: open(['Transfer-Encoding:\x0bchunked'], '0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'Transfer-Encoding on HTTP/1.0',
        raw: open(['Transfer-Encoding: chunked'], '0\r\n\r\n', 'POST /open/x HTTP/1.0'),
        status: 400,
        closes: true,
      },
      {
        name: 'invalid chunk size',
        raw: open(['Transfer-Encoding: chunked'], 'zz\r\nx\r\n0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'bare LF after a chunk size',
        raw: open(['Transfer-Encoding: chunked'], '1\nx\r\n0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      {
        name: 'NUL in a chunk extension',
        raw: open(['Transfer-Encoding: chunked'], '1;a\x00\r\nx\r\n0\r\n\r\n'),
        status: 400,
        closes: true,
      },
      { name: 'bare LF line endings', raw: 'GET /open/x HTTP/1.1\nHost: gw\n\n', status: 400, closes: true },
      {
        name: 'bare LF inside the headers',
        raw: 'GET /open/x HTTP/1.1\r\nHost: gw\nX-A: 1\r\n\r\n',
        status: 400,
        closes: true,
      },
      {
        name: 'bare CR inside the headers',
        raw: 'GET /open/x HTTP/1.1\r\nHost: gw\rX-A: 1\r\n\r\n',
        status: 400,
        closes: true,
      },
      { name: 'obsolete line folding', raw: open(['X-A: 1', '  folded']), status: 400, closes: true },
      { name: 'NUL in a header value', raw: open(['X-A: a\x00b']), status: 400, closes: true },
      { name: 'CR in a header value', raw: open(['X-A: a\rX-Consumer-Id: app']), status: 400, closes: true },
      // Request line and target.
      { name: 'HTTP/0.9-style request line', raw: 'GET /open/x\r\n\r\n', status: 400, closes: true },
      {
        name: 'HTTP/2.0 over an HTTP/1 connection',
        raw: crlf(['GET /open/x HTTP/2.0', 'Host: gw']),
        status: 400,
        closes: true,
      },
      { name: 'HTTP/1.2', raw: crlf(['GET /open/x HTTP/1.2', 'Host: gw']), status: 400, closes: true },
      {
        name: 'invalid method token',
        raw: crlf(['G@T /open/x HTTP/1.1', 'Host: gw']),
        status: 400,
        closes: true,
      },
      {
        name: 'space inside the target',
        raw: crlf(['GET /open/x y HTTP/1.1', 'Host: gw']),
        status: 400,
        closes: true,
      },
      {
        name: 'duplicate Host',
        raw: crlf(['GET /open/x HTTP/1.1', 'Host: gw', 'Host: other']),
        status: 400,
        closes: true,
      },
      { name: 'missing Host on HTTP/1.1', raw: crlf(['GET /open/x HTTP/1.1']), status: 400, closes: true },
      {
        name: 'absolute-form target naming another host',
        raw: request('http://internal.test/open/x'),
        status: 400,
        closes: true,
      },
      {
        name: 'duplicate Authorization',
        raw: api(['Authorization: Bearer a', 'Authorization: Bearer b']),
        status: 400,
        closes: true,
      },
      {
        name: 'Tomcat-style /..;/ dot segment',
        raw: request('/open/..;/api/x'),
        status: 400,
        closes: true,
      },
      {
        name: 'encoded /%2e%2e;/ dot segment',
        raw: request('/open/%2e%2e;/api/x'),
        status: 400,
        closes: true,
      },
      { name: 'encoded slash', raw: request('/open/..%2fapi/x'), status: 400 },
      { name: 'backslash in the path', raw: request('/open/..\\api/x'), status: 400 },
      { name: 'encoded NUL in the path', raw: request('/open/a%00'), status: 400 },
      // Sizes.
      {
        name: 'a header larger than the head limit',
        raw: open([`X-Big: ${'a'.repeat(9000)}`]),
        status: 431,
        closes: true,
      },
      {
        name: 'a target larger than the head limit',
        raw: crlf([`GET /open/${'a'.repeat(9000)} HTTP/1.1`, 'Host: gw']),
        status: 431,
        closes: true,
      },
      {
        name: 'more header lines than the limit',
        raw: open(Array.from({ length: 60 }, (_, i) => `X-N${i}: 1`)),
        status: 431,
        closes: true,
      },
      {
        name: 'a Content-Length hidden after ~1000 header lines',
        raw: open([...manyLines.slice(0, 200), 'Content-Length: 4'], 'abcd'),
        status: 431,
        closes: true,
      },
      // Path normalisation cannot walk around the protected route.
      {
        name: '%2e%2e out of the open route into the protected one',
        raw: request('/open/%2e%2e/api/x'),
        status: 401,
      },
      {
        name: '.. out of the open route into the protected one',
        raw: request('/open/../api/x'),
        status: 401,
      },
      { name: 'mixed-case %2E%2e', raw: request('/open/%2E%2e/api/x'), status: 401 },
      { name: 'doubled slashes', raw: request('//api//x'), status: 401 },
      { name: '/./ segments', raw: request('/./api/./x'), status: 401 },
      {
        name: 'double-encoded dots stay encoded inside the protected route',
        raw: request('/api/%252e%252e/open/x'),
        status: 401,
      },
      {
        name: 'absolute-form target with the right host is still protected',
        raw: request('http://gw/api/x'),
        status: 401,
      },
      {
        name: 'upper-case path does not match another route',
        raw: request('/API/x'),
        status: 404,
      },
      {
        name: 'parameters on a segment do not match another route',
        raw: request('/api;x=1/x'),
        status: 404,
      },
      // Forged identity and client address.
      {
        name: 'forged X-Consumer-Id',
        raw: api(['X-Consumer-Id: app', 'X-Consumer-Scopes: users:read']),
        status: 401,
      },
      { name: 'forged X_Consumer_Id', raw: api(['X_Consumer_Id: app']), status: 401 },
      { name: 'forged X.Consumer.Id', raw: api(['X.Consumer.Id: app']), status: 401 },
      { name: 'forged X-Consumer-Subject', raw: api(['X-Consumer-Subject: u1']), status: 401 },
      {
        name: 'forged X-Forwarded-For on an exhausted ip limit',
        raw: request('/limited/x', ['X-Forwarded-For: 203.0.113.7']),
        status: 429,
      },
      {
        name: 'forged Forwarded on an exhausted ip limit',
        raw: request('/limited/x', ['Forwarded: for=203.0.113.8']),
        status: 429,
      },
      {
        name: 'forged X-Real-IP on an exhausted ip limit',
        raw: request('/limited/x', ['X-Real-IP: 203.0.113.9']),
        status: 429,
      },
      {
        name: 'forged X-Forwarded-For chain on an exhausted ip limit',
        raw: request('/limited/x', ['X-Forwarded-For: 10.0.0.1, 203.0.113.10']),
        status: 429,
      },
      {
        name: 'WebSocket upgrade on a protected route',
        raw: api([
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        ]),
        status: 401,
        closes: true,
      },
      {
        name: 'Expect: 100-continue without credentials',
        raw: request('/api/x', ['Expect: 100-continue', 'Content-Length: 5'], 'POST'),
        status: 401,
      },
      // JWT attacks.
      { name: 'alg none', raw: bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`), status: 401 },
      { name: 'alg None', raw: bearer(`${b64({ alg: 'None' })}.${b64(claims)}.`), status: 401 },
      {
        name: 'alg none with a signature',
        raw: bearer(`${b64({ alg: 'none' })}.${b64(claims)}.${s}`),
        status: 401,
      },
      {
        name: 'HS256 signed with the RSA public key (key confusion)',
        raw: bearer(hmacToken({ alg: 'HS256', kid: 'r1' }, claims, pem)),
        status: 401,
      },
      {
        name: 'RS256 header on an HMAC signature',
        raw: bearer(hmacToken({ alg: 'RS256', kid: 'r1' }, claims)),
        status: 401,
      },
      {
        name: 'algorithm not in the allow-list',
        raw: bearer(hmacToken({ alg: 'HS512' }, claims)),
        status: 401,
      },
      {
        name: 'expired token',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, exp: now - 3600 })),
        status: 401,
      },
      {
        name: 'token not valid yet',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, nbf: now + 3600 })),
        status: 401,
      },
      {
        name: 'token without exp',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, exp: undefined })),
        status: 401,
      },
      {
        name: 'wrong audience',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, aud: 'other-api' })),
        status: 401,
      },
      {
        name: 'wrong issuer',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, iss: 'https://evil.test' })),
        status: 401,
      },
      { name: 'unknown kid', raw: bearer(unknownKid), status: 401 },
      {
        name: 'tampered payload',
        raw: bearer(`${h}.${b64({ ...claims, sub: 'admin', scope: 'admin' })}.${s}`),
        status: 401,
      },
      { name: 'signature stripped', raw: bearer(`${h}.${b64(claims)}.`), status: 401 },
      {
        name: 'RS256 token with a tampered payload',
        raw: bearer(
          `${rsSigned.split('.')[0]}.${b64({ ...claims, scope: 'admin' })}.${rsSigned.split('.')[2]}`,
        ),
        status: 401,
      },
      {
        name: 'CRLF in the subject of a validly signed token',
        raw: bearer(hmacToken({ alg: 'HS256' }, { ...claims, sub: 'u1\r\nX-Consumer-Id: app' })),
        status: 401,
      },
      { name: 'empty bearer token', raw: api(['Authorization: Bearer ']), status: 401 },
      { name: 'garbage bearer token', raw: bearer('abc'), status: 401 },
      {
        name: 'Basic credentials',
        raw: api([`Authorization: Basic ${Buffer.from('app:good-key').toString('base64')}`]),
        status: 401,
      },
      {
        name: 'valid token without the required scope',
        raw: request('/admin-only/x', [`Authorization: Bearer ${valid}`]),
        status: 403,
      },
      {
        name: 'valid token on a method needing another scope',
        raw: request('/api/x', [`Authorization: Bearer ${valid}`], 'DELETE'),
        status: 403,
      },
      // API key attacks.
      { name: 'unknown API key', raw: api(['X-Api-Key: bad-key']), status: 401 },
      { name: 'API key in another case', raw: api(['X-Api-Key: GOOD-KEY']), status: 401 },
      { name: 'API key with a trailing character', raw: api(['X-Api-Key: good-key2']), status: 401 },
      { name: 'API key hash sent as the key', raw: api([`X-Api-Key: ${keyHash('good-key')}`]), status: 401 },
      { name: 'two API key headers', raw: api(['X-Api-Key: good-key', 'X-Api-Key: good-key']), status: 401 },
    ];
    // Spend the only request of the ip-limited route, so forged addresses must not buy a new one.
    const spent = await sendRaw(portico.port, request('/limited/x', ['Connection: close']));
    assert.equal(spent.status, 200);
  });

  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  test('the table holds at least 50 hostile inputs', () => {
    assert.ok(cases.length >= 50, `${cases.length} cases`);
  });

  test('every hostile input gets its exact status and never reaches the upstream', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const before = upstream.requests.length;
      const answer = await sendRaw(portico.port, c.raw, 1500, c.closes === true);
      const reached = upstream.requests.length - before;
      if (answer.status !== c.status)
        failures.push(`${c.name}: status ${answer.status}, expected ${c.status}`);
      if (reached > 0) failures.push(`${c.name}: reached the upstream`);
      if (c.closes === true && !answer.closed) failures.push(`${c.name}: the connection stayed open`);
    }
    assert.deepEqual(failures, []);
  });

  test('a client that sends its headers too slowly gets 408 and is disconnected', async () => {
    const before = upstream.requests.length;
    const started = Date.now();
    // Half a head, then nothing: the head never completes within headersTimeout (1 s).
    const answer = await sendRaw(portico.port, 'GET /open/x HTTP/1.1\r\nHost: gw\r\nX-Slow: ', 5000, true);
    assert.equal(answer.status, 408);
    assert.ok(answer.closed);
    assert.ok(Date.now() - started < 3500, `took ${Date.now() - started} ms`);
    assert.equal(upstream.requests.length, before);
  });

  test('a valid request still passes (the table is not refusing everything)', async () => {
    const answer = await sendRaw(portico.port, api(['X-Api-Key: good-key']));
    assert.equal(answer.status, 200);
    assert.match(answer.text, /"x-consumer-id":"app"/);
  });

  test('header names with underscores or dots never reach the upstream', async () => {
    const answer = await sendRaw(
      portico.port,
      open(['X_Consumer_Id: app', 'X.Consumer.Id: app', 'X-Ok: yes', 'Content-Length: 0']),
    );
    assert.equal(answer.status, 200);
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.headers['x-ok'], 'yes');
    assert.ok(!seen?.rawHeaders.some((h) => /consumer/i.test(h)), String(seen?.rawHeaders));
  });
});

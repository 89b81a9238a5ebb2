import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send } from '../gateway/client.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { keyHash } from '../security/helpers.ts';

interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

const apiKey = 'transform-key-0123456789';

describe('transforms', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    upstream = await startUpstream('people');
    upstream.handler = (req, res) => {
      const body = JSON.stringify({ url: req.url, headers: req.headers });
      res.writeHead(200, {
        'content-type': 'application/json',
        'server-timing': 'db;dur=12',
        'x-powered-by': 'framework 1.2',
        'x-internal-host': 'node-7',
      });
      res.end(body);
    };
    const closedPort = await freePort();
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
auth:
  apiKeys: { header: x-api-key }
consumers:
  - { id: partner-7, apiKeys: ["${keyHash(apiKey)}"] }
services:
  people: { instances: [{ url: "${upstream.url}" }] }
  gone: { instances: [{ url: "http://127.0.0.1:${closedPort}" }] }
routes:
  - name: people
    match: { path: "/people/{id}" }
    service: people
    auth: [apiKey]
    transform:
      request:
        headers:
          set: { X-User-Id: "{param.id}", X-Caller: "{consumer}", X-Copy-Of-Id: "{requestId}", X-Env: "\${TRANSFORM_TEST_VALUE}", X-Tenant: acme }
          add: { X-Extra: one }
          remove: [X-Secret]
          rename: { X-Old-Name: X-New-Name }
        path: { pattern: "^/people/([^/]+)$", replacement: "/v2/persons/$1/profile" }
        query: { set: { source: gateway }, remove: [debug] }
      response:
        headers:
          set: { X-Frame-Options: DENY }
          add: { X-Served-By: portico }
          remove: [Server-Timing, X-Powered-By]
          rename: { X-Internal-Host: X-Node }
  - name: gone
    match: { path: /gone/** }
    service: gone
    transform:
      response:
        headers: { set: { X-Frame-Options: DENY } }
  - name: plain
    match: { path: /plain/** }
    service: people
`,
      { env: { TRANSFORM_TEST_VALUE: 'from-env' } },
    );
  });

  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  test('request headers are set, added, removed and renamed, with placeholders and ${ENV} filled', async () => {
    const res = await send(`${portico.url}/people/42`, {
      headers: {
        'x-api-key': apiKey,
        'x-tenant': 'evil',
        'x-secret': 's3cr3t',
        'x-old-name': 'kept-value',
        'x-request-id': 'req-abc-1',
      },
    });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-user-id'], '42');
    assert.equal(echo.headers['x-caller'], 'partner-7');
    assert.equal(echo.headers['x-copy-of-id'], 'req-abc-1');
    assert.equal(echo.headers['x-env'], 'from-env');
    assert.equal(echo.headers['x-tenant'], 'acme', 'set replaces the client copy');
    assert.equal(echo.headers['x-extra'], 'one');
    assert.equal(echo.headers['x-secret'], undefined);
    assert.equal(echo.headers['x-old-name'], undefined);
    assert.equal(echo.headers['x-new-name'], 'kept-value');
    assert.equal(echo.headers['x-consumer-id'], 'partner-7', 'identity headers are still the gateway’s');
  });

  test('the path is rewritten with captures and the query edited, other parameters untouched', async () => {
    const res = await send(`${portico.url}/people/ada?debug=1&q=a+b%2Fc&debug=2&x`, {
      headers: { 'x-api-key': apiKey },
    });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().url, '/v2/persons/ada/profile?q=a+b%2Fc&x&source=gateway');
  });

  test('response headers are set, added, removed and renamed', async () => {
    const res = await send(`${portico.url}/people/1`, { headers: { 'x-api-key': apiKey } });
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-served-by'], 'portico');
    assert.equal(res.headers['server-timing'], undefined);
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers['x-internal-host'], undefined);
    assert.equal(res.headers['x-node'], 'node-7');
    assert.ok(res.headers['x-request-id'], 'the request id stays');
  });

  test("response headers also apply to the gateway's own errors on the route", async () => {
    const res = await send(`${portico.url}/gone/x`);
    assert.equal(res.status, 502);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(res.headers['x-frame-options'], 'DENY');
  });

  test('a route without transforms passes headers and path unchanged', async () => {
    const res = await send(`${portico.url}/plain/a?debug=1`, { headers: { 'x-secret': 's' } });
    const echo = res.json<Echo>();
    assert.equal(echo.url, '/plain/a?debug=1');
    assert.equal(echo.headers['x-secret'], 's');
    assert.equal(res.headers['server-timing'], 'db;dur=12');
  });
});

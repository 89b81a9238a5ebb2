import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

test('a major version carries its own transform, applied after the route one on requests served by it', async (t) => {
  const [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  t.after(() => Promise.all([v1.close(), v2.close()]));
  for (const upstream of [v1, v2]) {
    upstream.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    };
  }
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  users:
    instances:
      - { url: "${v1.url}", version: 1.3.0 }
      - { url: "${v2.url}", version: 2.0.0 }
    versions:
      "1":
        transform:
          request:
            headers: { set: { X-Shape: legacy }, rename: { X-Name: X-Full-Name } }
            path: { pattern: "^/api/", replacement: "/legacy-api/" }
            query: { set: { format: v1 } }
          response:
            headers: { set: { X-Served-By: v1-adapter } }
routes:
  - name: users
    match: { path: /users/** }
    service: users
    version: { from: [header], default: "2" }
    transform:
      request:
        headers: { set: { X-Shape: modern, X-Route: users } }
        path: { pattern: "^/users/", replacement: "/api/users/" }
`,
  );
  t.after(() => portico.stop('SIGKILL'));

  const ask = async (version: string) => {
    const res = await fetch(`${portico.url}/users/7?a=1`, {
      headers: { 'accept-version': version, 'x-name': 'Ada' },
    });
    return { res, echo: (await res.json()) as Echo };
  };

  const modern = await ask('2');
  assert.equal(modern.echo.url, '/api/users/7?a=1');
  assert.equal(modern.echo.headers['x-shape'], 'modern');
  assert.equal(modern.echo.headers['x-name'], 'Ada');
  assert.equal(modern.res.headers.get('x-served-by'), null);

  const legacy = await ask('1');
  // The route's rewrite runs first, the version's on its result; the version's header wins by name.
  assert.equal(legacy.echo.url, '/legacy-api/users/7?a=1&format=v1');
  assert.equal(legacy.echo.headers['x-shape'], 'legacy');
  assert.equal(legacy.echo.headers['x-route'], 'users');
  assert.equal(legacy.echo.headers['x-full-name'], 'Ada');
  assert.equal(legacy.echo.headers['x-name'], undefined);
  assert.equal(legacy.res.headers.get('x-served-by'), 'v1-adapter');
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { assertProblem, send, type SendOptions } from './client.ts';

interface EchoBody {
  upstream: string;
  method: string;
  url: string;
}

const names = ['a', 'b', 'c', 'public', 'admin'] as const;
type Name = (typeof names)[number];

describe('routing through a real gateway', () => {
  let portico: PorticoProcess;
  const upstreams = new Map<Name, TestUpstream>();

  before(async () => {
    for (const name of names) upstreams.set(name, await startUpstream(name));
    const url = (name: Name) => (upstreams.get(name) as TestUpstream).url;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
${names.map((name) => `  ${name}: { instances: [{ url: "${url(name)}" }] }`).join('\n')}
routes:
  - { name: host-none, match: { path: /h/** }, service: c }
  - { name: host-wild, match: { path: /h/**, host: "*.example.test" }, service: b }
  - { name: host-exact, match: { path: /h/**, host: api.example.test }, service: a }
  - { name: method-any, match: { path: /m/** }, service: b }
  - { name: method-post, match: { path: /m/**, methods: [POST] }, service: a }
  - { name: params, match: { path: "/users/{id}/orders/{orderId}" }, service: a, rewrite: "/u/{id}/o/{orderId}" }
  - { name: star, match: { path: /star/*/x }, service: a }
  - { name: files, match: { path: /files/** }, service: b, stripPrefix: /files }
  - { name: header-any, match: { path: /hd/** }, service: b }
  - { name: header-blue, match: { path: /hd/**, headers: { X-Tenant: blue } }, service: a }
  - { name: p-rest, match: { path: /p/** }, service: c }
  - { name: p-param, match: { path: "/p/{id}" }, service: b }
  - { name: p-me, match: { path: /p/me }, service: a }
  - { name: first, match: { path: /o/** }, service: a }
  - { name: second, match: { path: /o/** }, service: b }
  - { name: public, match: { path: /public/** }, service: public }
  - { name: admin, match: { path: /admin/** }, service: admin }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await Promise.all([...upstreams.values()].map((u) => u.close()));
  });

  /** Sends a request and answers which upstream served it and the path it saw. */
  async function via(path: string, options: SendOptions = {}): Promise<{ upstream: string; url: string }> {
    const res = await send(`${portico.url}/`, { ...options, rawPath: path });
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    const body = res.json<EchoBody>();
    return { upstream: body.upstream, url: body.url };
  }

  test('an exact host beats a wildcard host, which beats no host', async () => {
    assert.equal((await via('/h/1', { headers: { host: 'api.example.test' } })).upstream, 'a');
    assert.equal((await via('/h/1', { headers: { host: 'API.Example.Test:8080' } })).upstream, 'a');
    assert.equal((await via('/h/1', { headers: { host: 'x.y.example.test' } })).upstream, 'b');
    assert.equal((await via('/h/1', { headers: { host: 'example.test' } })).upstream, 'c');
    assert.equal((await via('/h/1', { headers: { host: 'other.test' } })).upstream, 'c');
  });

  test('a route restricted to a method beats one for all methods, only for that method', async () => {
    assert.equal((await via('/m/x', { method: 'POST', body: '{}' })).upstream, 'a');
    assert.equal((await via('/m/x')).upstream, 'b');
    assert.equal((await via('/m/x', { method: 'DELETE' })).upstream, 'b');
  });

  test('path parameters fill a rewrite, and the query is kept', async () => {
    assert.deepEqual(await via('/users/42/orders/o-7?full=1'), { upstream: 'a', url: '/u/42/o/o-7?full=1' });
  });

  test('* matches exactly one segment', async () => {
    assert.equal((await via('/star/anything/x')).url, '/star/anything/x');
    assertProblem(await send(`${portico.url}/`, { rawPath: '/star/a/b/x' }), 404, 'route_not_found');
    assertProblem(await send(`${portico.url}/`, { rawPath: '/star//x' }), 404, 'route_not_found');
  });

  test('** matches the rest, and stripPrefix removes the prefix at a segment boundary', async () => {
    assert.deepEqual(await via('/files/a/b.txt?v=2'), { upstream: 'b', url: '/a/b.txt?v=2' });
    assert.deepEqual(await via('/files'), { upstream: 'b', url: '/' });
    assert.deepEqual(await via('/files/'), { upstream: 'b', url: '/' });
    assertProblem(await send(`${portico.url}/`, { rawPath: '/filesystem' }), 404, 'route_not_found');
  });

  test('a route with a header condition wins when the header has exactly that value', async () => {
    assert.equal((await via('/hd/1', { headers: { 'x-tenant': 'blue' } })).upstream, 'a');
    assert.equal((await via('/hd/1', { headers: { 'x-tenant': 'Blue' } })).upstream, 'b');
    assert.equal((await via('/hd/1')).upstream, 'b');
  });

  test('the most specific path wins regardless of declaration order', async () => {
    assert.equal((await via('/p/me')).upstream, 'a');
    assert.equal((await via('/p/17')).upstream, 'b');
    assert.equal((await via('/p/17/more')).upstream, 'c');
    assert.equal((await via('/p')).upstream, 'c');
  });

  test('between equal routes the earlier declared wins', async () => {
    assert.equal((await via('/o/1')).upstream, 'a');
  });

  test('dot segments and slashes cannot smuggle a request past a route to another upstream', async () => {
    const admin = upstreams.get('admin') as TestUpstream;
    const pub = upstreams.get('public') as TestUpstream;
    const before = pub.requests.length;
    assert.deepEqual(await via('/public/../admin/x'), { upstream: 'admin', url: '/admin/x' });
    assert.deepEqual(await via('/public/%2e%2e/admin'), { upstream: 'admin', url: '/admin' });
    assert.deepEqual(await via('/public/%2E%2e/%2e/admin/y'), { upstream: 'admin', url: '/admin/y' });
    assert.deepEqual(await via('//admin'), { upstream: 'admin', url: '/admin' });
    assert.deepEqual(await via('/public//../admin/z'), { upstream: 'admin', url: '/admin/z' });
    assert.deepEqual(await via('/%61dmin/q'), { upstream: 'admin', url: '/admin/q' });
    assert.equal(pub.requests.length, before, 'a disguised admin path reached the public upstream');
    assert.ok(admin.requests.length >= 6);
    assert.deepEqual(await via('/public/%252e%252e/admin'), {
      upstream: 'public',
      url: '/public/%252e%252e/admin',
    });
  });

  test('an encoded slash or backslash, or an invalid escape, is refused with 400', async () => {
    const adminBefore = (upstreams.get('admin') as TestUpstream).requests.length;
    for (const path of [
      '/public/..%2Fadmin/x',
      '/admin%2fx',
      '/public/%5C..%5Cadmin',
      '/public/%zz',
      '/public/%00',
    ]) {
      assertProblem(await send(`${portico.url}/`, { rawPath: path }), 400, 'bad_request');
    }
    assert.equal((upstreams.get('admin') as TestUpstream).requests.length, adminBefore);
  });

  test('GET /v1/routes/match explains the winner and why every other route lost', async () => {
    const res = await fetch(
      `${portico.adminUrl}/v1/routes/match?method=GET&path=${encodeURIComponent('/p/17')}`,
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      matched?: { name: string; params: Record<string, string> };
      routes: { name: string; result: string; reason: string }[];
    };
    assert.equal(body.matched?.name, 'p-param');
    assert.deepEqual(body.matched?.params, { id: '17' });
    const verdict = (name: string) => body.routes.find((r) => r.name === name);
    assert.equal(verdict('p-param')?.result, 'matched');
    assert.equal(verdict('p-rest')?.result, 'shadowed');
    assert.equal(verdict('p-me')?.result, 'no-match');
    assert.equal(verdict('admin')?.result, 'no-match');
    assert.equal(body.routes.length, 17);

    const normalised = await fetch(
      `${portico.adminUrl}/v1/routes/match?method=GET&path=${encodeURIComponent('/public/../admin/x')}`,
    );
    assert.equal(((await normalised.json()) as { matched?: { name: string } }).matched?.name, 'admin');
  });
});

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** Every request the upstream saw for one path. */
function seen(upstream: TestUpstream, path: string): IncomingMessage['headers'][] {
  return upstream.requests.filter((r) => r.url.split('?')[0] === path).map((r) => r.headers);
}

describe('response cache', () => {
  let origin: TestUpstream;
  let fragile: TestUpstream;
  let portico: PorticoProcess;
  const served = new Map<string, number>();

  /** Answers by path; the body names how many times the origin answered that path. */
  function answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const count = (served.get(path) ?? 0) + 1;
    served.set(path, count);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    let delayMs = 0;
    switch (path) {
      case '/c/fresh':
      case '/c/head':
        headers['cache-control'] = 'max-age=60';
        break;
      case '/c/vary':
        headers['cache-control'] = 'max-age=60';
        headers.vary = 'Accept-Language';
        break;
      case '/c/private':
        headers['cache-control'] = 'private, max-age=60';
        break;
      case '/c/no-store':
        headers['cache-control'] = 'no-store';
        break;
      case '/c/auth':
        headers['cache-control'] = 'max-age=60';
        break;
      case '/c/auth-public':
        headers['cache-control'] = 'public, max-age=60';
        break;
      case '/c/etag':
        headers['cache-control'] = 'no-cache';
        headers.etag = '"v1"';
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache' });
          res.end();
          return;
        }
        break;
      case '/c/etag-fresh':
        headers['cache-control'] = 'max-age=60';
        headers.etag = '"f1"';
        break;
      case '/c/swr':
        headers['cache-control'] = 'max-age=1, stale-while-revalidate=60';
        break;
      case '/c/sie':
        headers['cache-control'] = 'max-age=1, stale-if-error=60';
        break;
      case '/c/slow':
        headers['cache-control'] = 'max-age=60';
        delayMs = 300;
        break;
      case '/c/cookie':
        headers['cache-control'] = 'max-age=60';
        headers['set-cookie'] = 'session=abc';
        break;
      default:
        break;
    }
    const body = JSON.stringify({ path, count, lang: req.headers['accept-language'] ?? null });
    setTimeout(() => {
      res.writeHead(200, headers);
      res.end(body);
    }, delayMs);
  }

  before(async () => {
    origin = await startUpstream('origin');
    origin.handler = answer;
    fragile = await startUpstream('fragile');
    fragile.handler = answer;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
responseCache: { maxSize: 8mb }
services:
  origin: { instances: [{ url: "${origin.url}" }] }
  fragile: { instances: [{ url: "${fragile.url}" }], timeouts: { connect: 500ms } }
routes:
  - name: cached
    match: { path: /c/** }
    service: origin
    cache: { ttl: 60s, maxBodySize: 64kb }
  - name: fragile
    match: { path: /f/** }
    service: fragile
    rewrite: /c/sie
    cache: {}
  - name: uncached
    match: { path: /u/** }
    service: origin
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await origin?.close();
    await fragile?.close();
  });

  test('a fresh stored answer is served without contacting the upstream, with Age', async () => {
    const first = await send(`${portico.url}/c/fresh`);
    assert.equal(first.headers['portico-cache'], 'miss');
    const second = await send(`${portico.url}/c/fresh`);
    assert.equal(second.status, 200);
    assert.equal(second.headers['portico-cache'], 'hit');
    assert.equal(second.text, first.text);
    assert.ok(second.headers.age !== undefined, 'a stored answer carries Age');
    assert.notEqual(second.headers['x-request-id'], first.headers['x-request-id']);
    assert.equal(seen(origin, '/c/fresh').length, 1);
  });

  test('an answer without freshness of its own is fresh for the route ttl', async () => {
    await send(`${portico.url}/c/plain`);
    assert.equal((await send(`${portico.url}/c/plain`)).headers['portico-cache'], 'hit');
    assert.equal(seen(origin, '/c/plain').length, 1);
  });

  test('Vary keeps one variant per value of the named header', async () => {
    const fr = await send(`${portico.url}/c/vary`, { headers: { 'accept-language': 'fr' } });
    const de = await send(`${portico.url}/c/vary`, { headers: { 'accept-language': 'de' } });
    assert.equal(fr.json().lang, 'fr');
    assert.equal(de.json().lang, 'de');
    const frAgain = await send(`${portico.url}/c/vary`, { headers: { 'accept-language': 'fr' } });
    const deAgain = await send(`${portico.url}/c/vary`, { headers: { 'accept-language': 'de' } });
    assert.equal(frAgain.headers['portico-cache'], 'hit');
    assert.equal(frAgain.json().lang, 'fr');
    assert.equal(deAgain.headers['portico-cache'], 'hit');
    assert.equal(deAgain.json().lang, 'de');
    assert.equal(seen(origin, '/c/vary').length, 2);
  });

  test('private, no-store and Set-Cookie answers are never shared', async () => {
    for (const path of ['/c/private', '/c/no-store', '/c/cookie']) {
      await send(`${portico.url}${path}`);
      assert.equal((await send(`${portico.url}${path}`)).headers['portico-cache'], 'miss', path);
      assert.equal(seen(origin, path).length, 2, path);
    }
  });

  test('an answer to a request with Authorization is stored only when marked public', async () => {
    const auth = { authorization: 'Bearer secret-of-alice' };
    await send(`${portico.url}/c/auth`, { headers: auth });
    const again = await send(`${portico.url}/c/auth`, { headers: { authorization: 'Bearer of-bob' } });
    assert.equal(again.headers['portico-cache'], 'miss');
    assert.equal(seen(origin, '/c/auth').length, 2);
    await send(`${portico.url}/c/auth-public`, { headers: auth });
    const shared = await send(`${portico.url}/c/auth-public`, {
      headers: { authorization: 'Bearer of-bob' },
    });
    assert.equal(shared.headers['portico-cache'], 'hit');
  });

  test('a stored answer that needs revalidation is confirmed by a conditional request and a 304', async () => {
    const first = await send(`${portico.url}/c/etag`);
    assert.equal(first.status, 200);
    const second = await send(`${portico.url}/c/etag`);
    assert.equal(second.status, 200);
    assert.equal(second.headers['portico-cache'], 'hit');
    assert.equal(second.text, first.text);
    const requests = seen(origin, '/c/etag');
    assert.equal(requests.length, 2);
    assert.equal(requests[1]?.['if-none-match'], '"v1"');
  });

  test("a client's If-None-Match matching a stored answer gets a 304 from the cache", async () => {
    await send(`${portico.url}/c/etag-fresh`);
    const fresh = await send(`${portico.url}/c/etag-fresh`, { headers: { 'if-none-match': 'W/"f1"' } });
    assert.equal(fresh.status, 304);
    assert.equal(fresh.headers.etag, '"f1"');
    assert.equal(seen(origin, '/c/etag-fresh').length, 1);
    // after a revalidation too: the service confirms the stored answer, the client still gets its 304
    await send(`${portico.url}/c/etag`);
    const revalidated = await send(`${portico.url}/c/etag`, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers['portico-cache'], 'hit');
  });

  test('HEAD is answered from the stored GET answer; POST bypasses the cache', async () => {
    await send(`${portico.url}/c/head`);
    const head = await send(`${portico.url}/c/head`, { method: 'HEAD' });
    assert.equal(head.headers['portico-cache'], 'hit');
    assert.equal(head.text, '');
    const post = await send(`${portico.url}/c/head`, { method: 'POST', body: '{}' });
    assert.equal(post.headers['portico-cache'], 'bypass');
  });

  test('50 concurrent misses of one key make one upstream call', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(`${portico.url}/c/slow`)));
    assert.equal(seen(origin, '/c/slow').length, 1);
    for (const res of answers) {
      assert.equal(res.status, 200);
      assert.equal(res.json().count, 1);
    }
  });

  test('stale-while-revalidate serves the stale answer at once and refreshes it in the background', async () => {
    const first = await send(`${portico.url}/c/swr`);
    assert.equal(first.json().count, 1);
    const stale = await eventually(
      async () => {
        const res = await send(`${portico.url}/c/swr`);
        assert.equal(res.headers['portico-cache'], 'stale');
        return res;
      },
      5000,
      100,
    );
    assert.equal(stale.json().count, 1);
    await eventually(async () => {
      const res = await send(`${portico.url}/c/swr`);
      assert.equal(res.headers['portico-cache'], 'hit');
      assert.ok((res.json().count as number) >= 2);
    });
  });

  test('stale-if-error serves the stored answer while the upstream is down', async () => {
    const first = await send(`${portico.url}/f/x`);
    assert.equal(first.status, 200);
    await fragile.close();
    const res = await eventually(
      async () => {
        const answer = await send(`${portico.url}/f/x`);
        assert.equal(answer.headers['portico-cache'], 'stale');
        return answer;
      },
      5000,
      100,
    );
    assert.equal(res.status, 200);
    assert.equal(res.text, first.text);
  });

  test('purge by key and by prefix through the admin API', async () => {
    await send(`${portico.url}/c/fresh`);
    const byKey = await fetch(
      `${portico.adminUrl}/v1/cache?key=${encodeURIComponent('cached GET /c/fresh')}`,
      {
        method: 'DELETE',
      },
    );
    assert.deepEqual(await byKey.json(), { purged: 1 });
    assert.equal((await send(`${portico.url}/c/fresh`)).headers['portico-cache'], 'miss');
    await send(`${portico.url}/c/plain`);
    const byPrefix = await fetch(
      `${portico.adminUrl}/v1/cache?prefix=${encodeURIComponent('cached GET /c/')}`,
      {
        method: 'DELETE',
      },
    );
    assert.ok(((await byPrefix.json()) as { purged: number }).purged >= 2);
    assert.equal((await send(`${portico.url}/c/plain`)).headers['portico-cache'], 'miss');
  });

  test('hits and misses are counted per route in the admin API and the metrics', async () => {
    const status = (await (await fetch(`${portico.adminUrl}/v1/cache`)).json()) as {
      bytes: number;
      routes: Record<string, { hit: number; miss: number; hitRatio: number }>;
    };
    assert.ok(status.bytes > 0);
    assert.ok((status.routes.cached?.hit ?? 0) > 0);
    assert.ok((status.routes.cached?.miss ?? 0) > 0);
    const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
    assert.match(metrics, /portico_cache_requests_total\{route="cached",result="hit"\} [1-9]/);
    assert.match(metrics, /portico_cache_size_bytes [1-9]/);
  });

  test('a route without cache has no Portico-Cache header', async () => {
    const res = await send(`${portico.url}/u/fresh`);
    assert.equal(res.headers['portico-cache'], undefined);
  });
});

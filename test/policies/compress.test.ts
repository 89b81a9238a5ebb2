import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from 'node:zlib';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http never decompresses: the test sees the bytes Portico sent. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

const big = JSON.stringify({
  items: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item number ${i}` })),
});

describe('compression', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    upstream = await startUpstream('docs');
    upstream.handler = (req, res) => {
      const path = req.url ?? '';
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        etag: '"doc-1"',
      };
      let body: string | Buffer = big;
      if (path.startsWith('/z/small')) body = '{"ok":true}';
      if (path.startsWith('/z/png')) headers['content-type'] = 'image/png';
      if (path.startsWith('/z/encoded')) headers['content-encoding'] = 'gzip';
      if (path.startsWith('/z/no-transform')) headers['cache-control'] = 'no-transform';
      if (path.startsWith('/z/chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(big.slice(0, 5000));
        setTimeout(() => res.end(big.slice(5000)), 20);
        return;
      }
      headers['content-length'] = String(Buffer.byteLength(body));
      res.writeHead(200, headers);
      res.end(body);
    };
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  docs: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: zipped
    match: { path: /z/** }
    service: docs
    compress: { encodings: [zstd, br, gzip], minSize: 1kb }
  - name: zipped-cached
    match: { path: /zc/** }
    service: docs
    compress: {}
    cache: { ttl: 60s }
  - name: plain
    match: { path: /p/** }
    service: docs
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  test('gzip, br and zstd are negotiated by Accept-Encoding, with Vary and a weak ETag naming the coding', async () => {
    const gz = await get(`${portico.url}/z/doc`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-length'], undefined);
    assert.match(String(gz.headers.vary), /accept-encoding/i);
    assert.equal(gz.headers.etag, 'W/"doc-1-gzip"');
    assert.equal(gunzipSync(gz.body).toString(), big);
    assert.ok(gz.body.length < big.length / 3, `${gz.body.length} compressed bytes`);

    const br = await get(`${portico.url}/z/doc`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(br.body).toString(), big);

    const zstd = await get(`${portico.url}/z/doc`, { 'accept-encoding': 'gzip;q=0.5, zstd' });
    assert.equal(zstd.headers['content-encoding'], 'zstd');
    assert.equal(zstdDecompressSync(zstd.body).toString(), big);
  });

  test('a streamed answer without Content-Length is compressed as it streams', async () => {
    const res = await get(`${portico.url}/z/chunked`, { 'accept-encoding': 'gzip' });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.body).toString(), big);
  });

  test('skipped where it must be: no Accept-Encoding, identity only, small, not compressible, already encoded, no-transform, HEAD', async () => {
    const cases: [string, Record<string, string>, string?][] = [
      ['/z/doc', {}],
      ['/z/doc', { 'accept-encoding': 'identity' }],
      ['/z/doc', { 'accept-encoding': 'gzip;q=0' }],
      ['/z/small', { 'accept-encoding': 'gzip' }],
      ['/z/png', { 'accept-encoding': 'gzip' }],
      ['/z/no-transform', { 'accept-encoding': 'gzip' }],
      ['/z/doc', { 'accept-encoding': 'gzip' }, 'HEAD'],
      ['/p/doc', { 'accept-encoding': 'gzip' }],
    ];
    for (const [path, headers, method] of cases) {
      const res = await get(`${portico.url}${path}`, headers, method);
      assert.equal(
        res.headers['content-encoding'],
        undefined,
        `${method ?? 'GET'} ${path} ${JSON.stringify(headers)}`,
      );
    }
    const encoded = await get(`${portico.url}/z/encoded`, { 'accept-encoding': 'br' });
    assert.equal(encoded.headers['content-encoding'], 'gzip', 'an encoded answer is passed as it is');
    assert.equal(encoded.body.toString(), big);
  });

  test('with the cache, each coding is compressed once, stored, and sent as stored', async () => {
    const before = upstream.requests.filter((r) => r.url === '/zc/doc').length;
    const first = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip' });
    assert.equal(first.headers['portico-cache'], 'miss');
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(first.body).toString(), big);

    const gzipHits: RawAnswer[] = [];
    for (let i = 0; i < 3; i++)
      gzipHits.push(await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip' }));
    for (const hit of gzipHits) {
      assert.equal(hit.headers['portico-cache'], 'hit');
      assert.equal(hit.headers['content-encoding'], 'gzip');
      assert.match(String(hit.headers.vary), /accept-encoding/i);
      assert.equal(hit.headers.etag, 'W/"doc-1-gzip"');
      assert.equal(Number(hit.headers['content-length']), hit.body.length);
      assert.deepEqual(hit.body, first.body, 'the stored bytes the miss compressed');
      assert.equal(gunzipSync(hit.body).toString(), big);
    }

    const br = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'br, gzip' });
    assert.equal(br.headers['portico-cache'], 'hit');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.etag, 'W/"doc-1-br"');
    assert.equal(brotliDecompressSync(br.body).toString(), big);
    const brAgain = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.deepEqual(brAgain.body, br.body);
    // Another spelling of the same preference shares the stored variant.
    const gzipOtherSpelling = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip, deflate' });
    assert.deepEqual(gzipOtherSpelling.body, first.body);

    const plain = await get(`${portico.url}/zc/doc`);
    assert.equal(plain.headers['portico-cache'], 'hit');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.etag, '"doc-1"');
    assert.equal(plain.body.toString(), big);

    const head = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['portico-cache'], 'hit');
    assert.equal(head.body.length, 0);

    assert.equal(upstream.requests.filter((r) => r.url === '/zc/doc').length - before, 1);
    const status = (await (await fetch(`${portico.adminUrl}/v1/cache`)).json()) as {
      routes: Record<string, { compressed: number; stored: number }>;
    };
    // gzip once (the miss, for its client and the store), br once (from the stored answer); hits compress nothing.
    assert.equal(status.routes['zipped-cached']?.compressed, 2);
    assert.equal(status.routes['zipped-cached']?.stored, 1);
    const metrics = await (await fetch(`${portico.adminUrl}/metrics`)).text();
    assert.match(metrics, /portico_cache_compressions_total\{route="zipped-cached"\} 2/);
  });

  test("a cached coding's ETag gets a 304 for that coding only", async () => {
    await get(`${portico.url}/zc/etag`, { 'accept-encoding': 'gzip' });
    const gzipHit = await get(`${portico.url}/zc/etag`, { 'accept-encoding': 'gzip' });
    const plainHit = await get(`${portico.url}/zc/etag`);
    assert.notEqual(gzipHit.headers.etag, plainHit.headers.etag);

    const notModified = await get(`${portico.url}/zc/etag`, {
      'accept-encoding': 'gzip',
      'if-none-match': String(gzipHit.headers.etag),
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, 'W/"doc-1-gzip"');
    assert.equal(notModified.headers['portico-cache'], 'hit');
    assert.equal(notModified.body.length, 0);

    const plainNotModified = await get(`${portico.url}/zc/etag`, { 'if-none-match': '"doc-1"' });
    assert.equal(plainNotModified.status, 304);

    // The identity ETag names other bytes than the gzip ones, and the other way round.
    const other = await get(`${portico.url}/zc/etag`, {
      'accept-encoding': 'gzip',
      'if-none-match': '"doc-1"',
    });
    assert.equal(other.status, 200);
    assert.equal(gunzipSync(other.body).toString(), big);
    const plainOther = await get(`${portico.url}/zc/etag`, { 'if-none-match': 'W/"doc-1-gzip"' });
    assert.equal(plainOther.status, 200);
    assert.equal(plainOther.body.toString(), big);
    assert.equal(upstream.requests.filter((r) => r.url === '/zc/etag').length, 1);
  });

  test('concurrent hits for a coding not stored yet share one compression', async () => {
    await get(`${portico.url}/zc/burst`);
    const read = async (): Promise<number> => {
      const status = (await (await fetch(`${portico.adminUrl}/v1/cache`)).json()) as {
        routes: Record<string, { compressed: number }>;
      };
      return status.routes['zipped-cached']?.compressed ?? 0;
    };
    const before = await read();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => get(`${portico.url}/zc/burst`, { 'accept-encoding': 'gzip' })),
    );
    for (const answer of answers) {
      assert.equal(answer.headers['content-encoding'], 'gzip');
      assert.equal(gunzipSync(answer.body).toString(), big);
    }
    assert.equal((await read()) - before, 1);
  });
});

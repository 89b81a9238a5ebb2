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

  test('gzip, br and zstd are negotiated by Accept-Encoding, with Vary and a weak ETag', async () => {
    const gz = await get(`${portico.url}/z/doc`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-length'], undefined);
    assert.match(String(gz.headers.vary), /accept-encoding/i);
    assert.equal(gz.headers.etag, 'W/"doc-1"');
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

  test('a cached answer is stored once and compressed per client', async () => {
    const first = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip' });
    assert.equal(first.headers['content-encoding'], 'gzip');
    const hitGzip = await get(`${portico.url}/zc/doc`, { 'accept-encoding': 'gzip' });
    assert.equal(hitGzip.headers['portico-cache'], 'hit');
    assert.equal(gunzipSync(hitGzip.body).toString(), big);
    const hitPlain = await get(`${portico.url}/zc/doc`);
    assert.equal(hitPlain.headers['portico-cache'], 'hit');
    assert.equal(hitPlain.headers['content-encoding'], undefined);
    assert.equal(hitPlain.body.toString(), big);
    assert.equal(upstream.requests.filter((r) => r.url === '/zc/doc').length, 1);
  });
});

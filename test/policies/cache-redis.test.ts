import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

interface RawAnswer {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http never decompresses: the test sees the bytes Portico sent. */
function getRaw(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('response cache shared through Redis', () => {
  const prefix = `portico-test:${randomUUID()}:`;
  let upstream: TestUpstream;
  const nodes: PorticoProcess[] = [];

  before(async () => {
    upstream = await startUpstream('shared');
    let served = 0;
    upstream.handler = (req, res) => {
      served++;
      res.writeHead(200, {
        'content-type': 'application/json',
        'cache-control': 'max-age=60',
        vary: 'accept-language',
      });
      const padding = req.url?.startsWith('/sz/') === true ? 'x'.repeat(4000) : '';
      res.end(
        JSON.stringify({ served, url: req.url, lang: req.headers['accept-language'] ?? null, padding }),
      );
    };
    const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}" }
services:
  shared: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: shared
    match: { path: /s/** }
    service: shared
    cache: { store: redis }
  - name: shared-zipped
    match: { path: /sz/** }
    service: shared
    compress: { encodings: [gzip] }
    cache: { store: redis }
`;
    // One after the other, so a node that started is stopped in `after` even if the next one fails.
    nodes.push(await startPortico(config));
    nodes.push(await startPortico(config));
  });

  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await upstream?.close();
    await deleteRedisKeys(sharedRedisUrl, prefix);
  });

  test('an answer stored by one node is a hit on the other, Vary variants included', async () => {
    const [a, b] = nodes as [PorticoProcess, PorticoProcess];
    const first = await send(`${a.url}/s/item`, { headers: { 'accept-language': 'fr' } });
    assert.equal(first.headers['portico-cache'], 'miss');
    // The write to Redis is not awaited by the answer: wait until it landed before asking the other node.
    const redis = new Redis(sharedRedisUrl);
    try {
      await eventually(async () => assert.equal(await redis.exists(`${prefix}cache:shared GET /s/item`), 1));
    } finally {
      redis.disconnect();
    }
    const onB = await send(`${b.url}/s/item`, { headers: { 'accept-language': 'fr' } });
    assert.equal(onB.headers['portico-cache'], 'hit');
    assert.equal(onB.text, first.text);
    const other = await send(`${b.url}/s/item`, { headers: { 'accept-language': 'de' } });
    assert.equal(other.json().lang, 'de');
    assert.equal(upstream.requests.filter((r) => r.url === '/s/item').length, 2);
  });

  test('a purge on one node empties the shared store for both', async () => {
    const [a, b] = nodes as [PorticoProcess, PorticoProcess];
    await send(`${a.url}/s/purged`);
    // A's write to the shared store lands after its answer: purge only once B sees the entry.
    await eventually(async () =>
      assert.equal((await send(`${b.url}/s/purged`)).headers['portico-cache'], 'hit'),
    );
    const purge = await fetch(`${b.adminUrl}/v1/cache?prefix=${encodeURIComponent('shared GET /s/')}`, {
      method: 'DELETE',
    });
    assert.equal(purge.status, 200);
    assert.ok(((await purge.json()) as { purged: number }).purged >= 1);
    assert.equal((await send(`${a.url}/s/purged`)).headers['portico-cache'], 'miss');
  });

  test('a coding compressed by one node is served as stored by the other', async () => {
    const [a, b] = nodes as [PorticoProcess, PorticoProcess];
    const gzip = { 'accept-encoding': 'gzip', 'accept-language': 'fr' };
    const first = await getRaw(`${a.url}/sz/item`, gzip);
    assert.equal(first.headers['content-encoding'], 'gzip');
    let onB: RawAnswer | undefined;
    await eventually(async () => {
      onB = await getRaw(`${b.url}/sz/item`, gzip);
      assert.equal(onB.headers['portico-cache'], 'hit');
    });
    assert.equal(onB?.headers['content-encoding'], 'gzip');
    assert.deepEqual(onB?.body, first.body);
    assert.equal(JSON.parse(gunzipSync(first.body).toString()).lang, 'fr');
    const status = (await (await fetch(`${b.adminUrl}/v1/cache`)).json()) as {
      routes: Record<string, { compressed: number }>;
    };
    assert.equal(status.routes['shared-zipped']?.compressed ?? 0, 0, 'B compressed nothing');
    assert.equal(upstream.requests.filter((r) => r.url === '/sz/item').length, 1);
  });
});

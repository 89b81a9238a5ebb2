import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send } from '../gateway/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('with the shared cache store down every lookup is a miss the service answers, and hits return with Redis', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstream = await startUpstream('cached');
  t.after(() => upstream.close());
  let served = 0;
  upstream.handler = (_req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(JSON.stringify({ served }));
  };
  const node = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redis.url}", prefix: "outage:" }
services:
  cached: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: cached, match: { path: /c/** }, service: cached, cache: { store: redis } }
`,
  );
  t.after(() => node.stop());

  assert.equal((await send(`${node.url}/c/a`)).headers['portico-cache'], 'miss');
  await eventually(async () => assert.equal((await send(`${node.url}/c/a`)).headers['portico-cache'], 'hit'));

  await redis.stop();
  const before = served;
  for (let i = 0; i < 5; i++) {
    const res = await send(`${node.url}/c/a`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['portico-cache'], 'miss');
  }
  assert.equal(served, before + 5, 'every request during the outage reached the service');

  // Redis came back empty: the next answer is stored again and then served from it.
  await redis.start();
  await eventually(
    async () => assert.equal((await send(`${node.url}/c/a`)).headers['portico-cache'], 'hit'),
    10_000,
  );
});

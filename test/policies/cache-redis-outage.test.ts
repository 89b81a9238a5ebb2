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

test('a hung shared cache store delays one lookup per second, not every lookup by the command timeout', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstream = await startUpstream('cached');
  t.after(() => upstream.close());
  upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end('{}');
  };
  const node = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redis.url}", prefix: "hung:" }
services:
  cached: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: cached, match: { path: /c/** }, service: cached, cache: { store: redis } }
`,
  );
  t.after(() => node.stop());
  await eventually(async () => assert.equal((await send(`${node.url}/c/a`)).headers['portico-cache'], 'hit'));

  // Frozen: connections stay open, nothing answers, so each lookup would wait for the 500 ms command timeout.
  redis.pause();
  const started = performance.now();
  let slow = 0;
  let fast = 0;
  while (performance.now() - started < 4000) {
    const sent = performance.now();
    const res = await send(`${node.url}/c/a`);
    assert.equal(res.status, 200);
    if (performance.now() - sent >= 400) slow++;
    else fast++;
  }
  const seconds = (performance.now() - started) / 1000;
  // Without the pause after a failed read every request is slow (about 8 in 4 s, none fast).
  assert.ok(fast >= 20, `${fast} fast and ${slow} slow answers in ${seconds.toFixed(1)} s`);
  assert.ok(slow <= Math.ceil(seconds) + 2, `${slow} slow answers in ${seconds.toFixed(1)} s`);
  t.diagnostic(`hung Redis: ${fast} fast and ${slow} slow answers in ${seconds.toFixed(1)} s`);
});

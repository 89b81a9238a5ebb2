import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl, startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { eventually } from '../helpers/eventually.ts';

const limit = 400;

function sharedConfig(upstream: TestUpstream, redisUrl: string, prefix: string) {
  return ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, url: "${redisUrl}", prefix: "${prefix}" }
logging: { level: warn, accessLog: false }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
rateLimits:
  global: { limit: ${limit}, window: 1h, by: global }
routes:
  - { name: limited, match: { path: /limited/** }, service: svc, rateLimit: global }
  - name: open-on-failure
    match: { path: /open/** }
    service: svc
    rateLimit: { limit: 2, window: 1h, by: global, onStoreFailure: open }
  - name: closed-on-failure
    match: { path: /closed/** }
    service: svc
    rateLimit: { limit: 2, window: 1h, by: global, onStoreFailure: closed }
`;
}

async function status(url: string): Promise<number> {
  const res = await request(url, { headersTimeout: 3000, bodyTimeout: 3000 });
  await res.body.dump();
  return res.statusCode;
}

/** Waits until the limiter's Redis connection is up (the first requests may fail open while it connects). */
async function waitForLimiter(portico: PorticoProcess): Promise<void> {
  await eventually(
    async () => assert.ok((await request(`${portico.url}/closed/warmup`)).statusCode !== 503),
    10_000,
  );
}

describe('rate limits shared through Redis', () => {
  let upstream: TestUpstream;
  const prefix = `portico-test:${randomUUID()}:`;
  let a: PorticoProcess;
  let b: PorticoProcess;

  before(async () => {
    upstream = await startUpstream('svc');
    // allSettled: when one start fails, the other is still kept to be stopped (a leaked child process
    // would keep this file running until it is killed).
    const started = await Promise.allSettled([
      startPortico(sharedConfig(upstream, sharedRedisUrl, prefix)),
      startPortico(sharedConfig(upstream, sharedRedisUrl, prefix)),
    ]);
    [a, b] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [
      PorticoProcess,
      PorticoProcess,
    ];
    for (const s of started) if (s.status === 'rejected') throw s.reason;
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await upstream?.close();
    await deleteRedisKeys(sharedRedisUrl, prefix);
  });

  test('two gateways on one Redis enforce one global limit within 2% under concurrent load', async () => {
    await Promise.all([waitForLimiter(a), waitForLimiter(b)]);
    const before = upstream.requests.length;
    const total = limit * 2.5;
    let next = 0;
    let ok = 0;
    let limited = 0;
    const worker = async (gateway: PorticoProcess) => {
      while (next < total) {
        next++;
        const code = await status(`${gateway.url}/limited/x`);
        if (code === 200) ok++;
        else if (code === 429) limited++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, i) => worker(i % 2 === 0 ? a : b)));
    assert.equal(ok + limited, total);
    assert.ok(Math.abs(ok - limit) <= limit * 0.02, `${ok} requests passed a limit of ${limit}`);
    assert.equal(upstream.requests.length - before, ok);
  });
});

describe('rate limits when Redis is unreachable', () => {
  test('fail open or closed per limit, and counters resume once Redis is back', async (t) => {
    const redis = await startRedisServer();
    t.after(() => redis.stop());
    const upstream = await startUpstream('svc');
    t.after(() => upstream.close());
    const portico = await startPortico(sharedConfig(upstream, redis.url, 'portico:'));
    t.after(() => portico.stop());
    await waitForLimiter(portico);

    assert.equal(await status(`${portico.url}/open/x`), 200);
    assert.equal(await status(`${portico.url}/open/x`), 200);
    assert.equal(await status(`${portico.url}/open/x`), 429);

    await redis.stop({ keepData: true });
    assert.equal(await status(`${portico.url}/open/x`), 200, 'open: let through while Redis is down');
    const closed = await request(`${portico.url}/closed/x`);
    assert.equal(closed.statusCode, 503, 'closed: refused while Redis is down');
    assert.equal(((await closed.body.json()) as { code: string }).code, 'store_unavailable');

    await redis.start();
    await eventually(async () => assert.equal(await status(`${portico.url}/open/x`), 429), 10_000);
  });
});

describe('rate limits when Redis hangs', () => {
  test('after the first timeout requests stop waiting on Redis, and the shared budget resumes once it answers', async (t) => {
    const redis = await startRedisServer();
    const upstream = await startUpstream('svc');
    const portico = await startPortico(sharedConfig(upstream, redis.url, 'portico:'));
    t.after(async () => {
      redis.resume();
      await portico.stop();
      await upstream.close();
      await redis.stop();
    });
    await waitForLimiter(portico);
    assert.equal(await status(`${portico.url}/open/x`), 200);
    assert.equal(await status(`${portico.url}/open/x`), 200);
    assert.equal(await status(`${portico.url}/open/x`), 429);

    redis.pause();
    // The first request finds out that Redis is silent (it waits for the 500 ms command timeout).
    assert.equal(await status(`${portico.url}/open/x`), 200, 'open: let through while Redis hangs');
    const durations: number[] = [];
    for (let i = 0; i < 20; i++) {
      const path = i % 2 === 0 ? '/open/x' : '/closed/x';
      const started = performance.now();
      const code = await status(`${portico.url}${path}`);
      durations.push(performance.now() - started);
      assert.equal(code, path === '/open/x' ? 200 : 503, `${path} while Redis hangs`);
    }
    durations.sort((x, y) => x - y);
    const median = durations[durations.length / 2] as number;
    t.diagnostic(`median ${median.toFixed(1)} ms, slowest ${(durations.at(-1) as number).toFixed(1)} ms`);
    assert.ok(median < 250, `median ${median.toFixed(0)} ms: requests still wait on the hung Redis`);

    redis.resume();
    await eventually(async () => assert.equal(await status(`${portico.url}/open/x`), 429), 10_000);
  });
});

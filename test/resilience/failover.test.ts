import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { startLoad } from './load.ts';

const upstreams: TestUpstream[] = [];
after(async () => {
  await Promise.all(upstreams.map((upstream) => upstream.close()));
});

async function upstream(name: string, port?: number): Promise<TestUpstream> {
  const started = await startUpstream(name, port === undefined ? {} : { port });
  upstreams.push(started);
  return started;
}

test('three instances killed one at a time (leaving one) and brought back: no client request fails', async (t) => {
  const [a, b, c] = [await upstream('a'), await upstream('b'), await upstream('c')];
  const portico = await startPortico(
    ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  s:
    instances: [{ url: "${a.url}" }, { url: "${b.url}" }, { url: "${c.url}" }]
    healthCheck: { path: /healthz, interval: 100ms, timeout: 1s, unhealthyThreshold: 2, healthyThreshold: 1 }
    timeouts: { connect: 200ms, request: 2s }
    retries: { attempts: 2, on: [connect-failure, 502, 503, 504] }
    circuitBreaker: { failureRate: 0.5, minRequests: 3, window: 2s, openFor: 300ms }
routes:
  - { name: r, match: { path: /** }, service: s }
`,
  );
  t.after(() => portico.stop());
  const load = startLoad(`${portico.url}/items`, 8);
  const served = (u: TestUpstream, from: number) =>
    eventually(() => assert.ok(u.requests.length > from + 20), 5_000);

  await served(a, 0);
  await a.close();
  await served(b, b.requests.length);
  await b.close();
  await served(c, c.requests.length);
  const a2 = await upstream('a', a.port);
  await served(a2, 0);
  await c.close();
  await served(a2, a2.requests.length);
  const [b2, c2] = [await upstream('b', b.port), await upstream('c', c.port)];
  await served(b2, 0);
  await served(c2, 0);
  const result = await load.stop();

  assert.equal(
    result.failed.length,
    0,
    `${result.failed.length} of ${result.ok + result.failed.length} failed: ${JSON.stringify(result.failed.slice(0, 3))}`,
  );
  assert.ok(result.ok > 200, `only ${result.ok} requests ran`);
});

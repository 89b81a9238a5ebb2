import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPacedLoad, type PacedLoad } from '../helpers/paced-load.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Requests per second allowed across both nodes. */
const rate = 20;
/** Each node is sent 1.5× the whole rate (3× its share), so the limit binds even when the sender lags. */
const perNodeRate = rate * 1.5;
/** The outage: long enough for many windows of the limit, so a count says more than any one window. */
const outageMs = 30_000;
/** After Redis is back: long enough that a fresh bucket (one more second's worth, +20%) stands out of 10%. */
const afterMs = 5_000;

test('onStoreFailure local: two nodes hold the configured rate within 10% through a 30 s Redis outage, with no burst when it returns, and say so at each switch', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstream = await startUpstream('svc');
  t.after(() => upstream.close());
  const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, url: "${redis.url}", prefix: "fallback:", expectedNodes: 2 }
logging: { level: warn, accessLog: false }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: limited
    match: { path: /limited/** }
    service: svc
    rateLimit: { limit: ${rate}, window: 1s, by: global, onStoreFailure: local }
`;
  const nodes = await Promise.all([startPortico(config), startPortico(config)]);
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  const metrics = async (adminUrl: string) => (await request(`${adminUrl}/metrics`)).body.text();

  // Open-loop paced clients, one per node; each answer is placed on one clock by the time it was sent.
  const origin = performance.now();
  const loads: { load: PacedLoad; startedAt: number }[] = nodes.map((node) => ({
    startedAt: performance.now() - origin,
    load: startPacedLoad(`${node.url}/limited/x`, perNodeRate, 5000),
  }));
  const now = () => performance.now() - origin;
  const allowed = (from: number, to: number, node?: number) => {
    let count = 0;
    loads.forEach(({ load, startedAt }, i) => {
      if (node !== undefined && node !== i) return;
      for (const o of load.outcomes) {
        const at = startedAt + o.sentAtMs;
        if (at >= from && at < to && o.status === 200) count++;
      }
    });
    return count;
  };
  let stopped = false;
  const stopLoads = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(loads.map(({ load }) => load.stop(5000)));
  };
  t.after(stopLoads);

  await sleep(2000);
  await redis.stop();
  const down = now();
  // The switch is visible while it lasts: on the gauge, once per node, and in the log.
  await eventually(async () => {
    for (const node of nodes) {
      assert.match(await metrics(node.adminUrl), /portico_rate_limit_local_fallback 1/);
      assert.match(node.output(), /rate limits switched to the local fallback/);
    }
  }, 10_000);
  await sleep(Math.max(0, outageMs - (now() - down)));
  await redis.start();
  const up = now();
  await eventually(() => {
    for (const node of nodes) assert.match(node.output(), /back on the shared budget/);
  }, 10_000);
  const back = now();
  await sleep(Math.max(0, afterMs - (now() - up)));
  const end = now();
  await stopLoads();

  const outcomes = loads.flatMap(({ load }) => load.outcomes);
  const statuses = [...new Set(outcomes.map((o) => o.status))].sort();
  assert.deepEqual(statuses, [200, 429], 'only 200 and 429 answers (no error, no timeout)');

  const duringOutage = allowed(down, up);
  const expected = (rate * (up - down)) / 1000;
  assert.ok(
    Math.abs(duringOutage - expected) <= expected * 0.1,
    `${duringOutage} requests allowed during ${(up - down).toFixed(0)} ms of outage; the rate allows ${expected.toFixed(0)}`,
  );
  // Each node held its own share (limit / expectedNodes), not one node the whole budget.
  const perNode = [0, 1].map((i) => allowed(down, up, i));
  for (const count of perNode)
    assert.ok(
      Math.abs(count - expected / 2) <= (expected / 2) * 0.1,
      `per node during the outage: ${perNode.join(', ')}; each share allows ${(expected / 2).toFixed(0)}`,
    );
  // Redis came back empty: without the hand-back of what the nodes let through locally, the shared bucket
  // would hand out a full second's worth on top of the rate.
  const afterReturn = allowed(up, end);
  const expectedAfter = (rate * (end - up)) / 1000;
  assert.ok(
    afterReturn <= expectedAfter * 1.1 + 1,
    `${afterReturn} requests allowed in the ${(end - up).toFixed(0)} ms after the return; the rate allows ${expectedAfter.toFixed(0)}`,
  );
  // One switch each way per node: no flapping over 30 s of outage, and the gauge is back to shared.
  for (const node of nodes) {
    const text = await metrics(node.adminUrl);
    assert.match(text, /portico_rate_limit_store_switches_total\{to="local"\} 1\n/);
    assert.match(text, /portico_rate_limit_store_switches_total\{to="shared"\} 1\n/);
    assert.match(text, /portico_rate_limit_local_fallback 0/);
    assert.equal(node.output().match(/rate limits switched to the local fallback/g)?.length, 1);
    assert.equal(node.output().match(/back on the shared budget/g)?.length, 1);
  }
  t.diagnostic(
    `outage ${(up - down).toFixed(0)} ms: ${duringOutage} allowed (per node ${perNode.join(', ')}), the rate allows ` +
      `${expected.toFixed(0)}; both nodes back on the shared budget ${(back - up).toFixed(0)} ms after Redis restarted; ` +
      `${(end - up).toFixed(0)} ms after the return: ${afterReturn} allowed, the rate allows ${expectedAfter.toFixed(0)}; ` +
      `${outcomes.length} requests sent`,
  );
});

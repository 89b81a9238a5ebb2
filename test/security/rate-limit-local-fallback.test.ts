import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Requests per second allowed across both nodes; each node gets 3× its share, so the limit always binds. */
const rate = 20;
const perNodeIntervalMs = 1000 / (rate * 1.5);
/** Bounded outage, shorter than the 30 s to keep the suite fast; the mechanism does not depend on it. */
const outageMs = 6000;

interface Answer {
  readonly at: number;
  readonly status: number;
}

test('onStoreFailure local: two nodes hold the configured rate within 10% through a Redis outage, with no burst when it returns', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstream = await startUpstream('svc');
  t.after(() => upstream.close());
  const agent = new Agent({ connections: 8 });
  t.after(() => agent.close());
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

  const answers: Answer[] = [];
  let running = true;
  // Paced load: one request per interval per node, each answer recorded with the time it was sent.
  const drive = async (node: PorticoProcess) => {
    let next = Date.now();
    while (running) {
      const at = Date.now();
      const res = await request(`${node.url}/limited/x`, { dispatcher: agent, headersTimeout: 5000 });
      await res.body.dump();
      answers.push({ at, status: res.statusCode });
      next += perNodeIntervalMs;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
  };
  const load = Promise.all(nodes.map(drive));
  const allowedBetween = (from: number, to: number) =>
    answers.filter((a) => a.at >= from && a.at < to && a.status === 200).length;
  const statuses = () => new Set(answers.map((a) => a.status));
  try {
    await sleep(2000);
    await redis.stop();
    const down = Date.now();
    await sleep(outageMs);
    await redis.start();
    const up = Date.now();
    await eventually(() => {
      for (const node of nodes) assert.match(node.output(), /back on the shared budget/);
    }, 10_000);
    const back = Date.now();
    await sleep(3000);
    running = false;
    await load;
    const end = Date.now();

    assert.deepEqual([...statuses()].sort(), [200, 429], 'only 200 and 429 answers');
    const duringOutage = allowedBetween(down, up);
    const expected = (rate * (up - down)) / 1000;
    assert.ok(
      Math.abs(duringOutage - expected) <= expected * 0.1,
      `${duringOutage} requests allowed during ${up - down} ms of outage; the rate allows ${expected}`,
    );
    // Once back on the shared budget: a store restarted empty would hand out a full burst (another second's
    // worth) if what the nodes let through locally were not added to it.
    const afterReturn = allowedBetween(up, end);
    const expectedAfter = (rate * (end - up)) / 1000;
    assert.ok(
      afterReturn <= expectedAfter * 1.1 + 1,
      `${afterReturn} requests allowed in the ${end - up} ms after the return; the rate allows ${expectedAfter}`,
    );
    for (const node of nodes) {
      assert.match(node.output(), /switched to the local fallback/);
      const metrics = await (await request(`${node.adminUrl}/metrics`)).body.text();
      assert.match(metrics, /portico_rate_limit_store_switches_total\{to="local"\} 1/);
      assert.match(metrics, /portico_rate_limit_store_switches_total\{to="shared"\} 1/);
      assert.match(metrics, /portico_rate_limit_local_fallback 0/);
    }
    t.diagnostic(
      `outage ${up - down} ms: ${duringOutage} allowed (back on the shared budget ${back - up} ms after Redis restarted) (rate allows ${expected}); ` +
        `after return ${end - up} ms: ${afterReturn} allowed (rate allows ${expectedAfter})`,
    );
  } finally {
    running = false;
    await load;
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPacedLoad } from '../helpers/paced-load.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startSentinelTopology } from '../helpers/redis-topology.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('Sentinel: after the primary is killed under load, proxied requests never fail, a binding rate limit holds, and registrations, heartbeats and the watch feed resume on the promoted replica with every later acknowledgement kept', async (t) => {
  /** A limit that binds: both nodes together are sent 3× this rate on /limited. */
  const limitRate = 20;
  const redis = await startSentinelTopology();
  t.after(() => redis.stop());
  const upstream = await startUpstream('orders');
  t.after(() => upstream.close());
  const agent = new Agent({ connections: 8 });
  t.after(() => agent.close());
  const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, sentinels: ${JSON.stringify(redis.sentinels)}, name: ${redis.name}, prefix: "ha:", expectedNodes: 2 }
logging: { level: warn, accessLog: false }
services:
  orders: {}
routes:
  - name: orders
    match: { path: /orders/** }
    service: orders
    rateLimit: { limit: 100000, window: 1s, by: global, onStoreFailure: local }
  - name: limited
    match: { path: /limited/** }
    service: orders
    rateLimit: { limit: ${limitRate}, window: 1s, by: global, onStoreFailure: local }
`;
  const [a, b] = await Promise.all([startPortico(config), startPortico(config)]);
  t.after(() => Promise.all([a.stop(), b.stop()]));

  const call = async (url: string, method: 'GET' | 'PUT' = 'GET', body?: unknown) => {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headersTimeout: 5000,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.body.dump();
    return res.statusCode;
  };
  const instance = { url: upstream.url, version: '1.0.0', ttl: '30s' };
  assert.equal(await call(`${a.adminUrl}/v1/services/orders/instances/o1`, 'PUT', instance), 201);
  await eventually(async () => assert.equal(await call(`${b.url}/orders/x`), 200), 2000);

  // Open-loop load on both nodes for the whole test, a heartbeat every 200 ms, and a new registration every
  // 100 ms through node a, each with the time it was answered.
  const loads = [a, b].map((node) => startPacedLoad(`${node.url}/orders/t`, 40, 5000));
  const limited = [a, b].map((node) => startPacedLoad(`${node.url}/limited/t`, limitRate * 1.5, 5000));
  let running = true;
  const heartbeats: number[] = [];
  const registrations: { id: string; status: number; at: number }[] = [];
  const heartbeat = (async () => {
    while (running) {
      heartbeats.push(await call(`${b.adminUrl}/v1/services/orders/instances/o1/heartbeat`, 'PUT'));
      await sleep(200);
    }
  })();
  const registering = (async () => {
    for (let n = 0; running; n++) {
      const id = `r${n}`;
      const status = await call(`${a.adminUrl}/v1/services/orders/instances/${id}`, 'PUT', instance);
      registrations.push({ id, status, at: Date.now() });
      await sleep(100);
    }
  })();
  let stopping: Promise<unknown> | undefined;
  const stopLoad = () => {
    running = false;
    stopping ??= Promise.all([
      heartbeat,
      registering,
      ...[...loads, ...limited].map((load) => load.stop(5000)),
    ]);
    return stopping;
  };
  try {
    await sleep(1000);
    const oldPrimary = redis.primary.port;
    await redis.primary.kill();
    const killed = Date.now();
    await eventually(async () => assert.notEqual(await redis.primaryPort(), oldPrimary), 20_000, 100);
    const promoted = Date.now();
    // Registrations through node a resume on the promoted replica (3.5–5.2 s after promotion on a quiet machine;
    // more than 15 s was seen once at a load average of 14, so the bound is the start-up bound)...
    await eventually(
      () => assert.ok(registrations.some((r) => r.at > promoted && r.status === 201)),
      30_000,
      100,
    );
    const resumed = registrations.find((r) => r.at > promoted && r.status === 201) as { at: number };
    // ...and one through node b reaches node a's registry through the watch feed.
    await eventually(
      async () =>
        assert.equal(await call(`${b.adminUrl}/v1/services/orders/instances/o2`, 'PUT', instance), 201),
      15_000,
      100,
    );
    const registered = Date.now();
    const listed = async (node: PorticoProcess) => {
      const res = await request(`${node.adminUrl}/v1/services/orders/instances`, { dispatcher: agent });
      return new Set(((await res.body.json()) as { instances: { id: string }[] }).instances.map((i) => i.id));
    };
    // The other node's watch follower reconnects to the promoted replica with backoff; on a loaded machine
    // that has taken more than 5 s.
    await eventually(async () => assert.ok((await listed(a)).has('o2')), 15_000);
    const seen = Date.now();
    const beatsBefore = heartbeats.length;
    await eventually(() => assert.ok(heartbeats.slice(beatsBefore).includes(200)), 15_000);
    await sleep(500);
    await stopLoad();

    const proxied = loads.flatMap((load) => load.outcomes);
    const failed = proxied.filter((o) => o.status !== 200);
    assert.deepEqual(
      failed.map((o) => `${o.status} ${o.error ?? ''}`),
      [],
      `${failed.length} of ${proxied.length} proxied requests failed`,
    );
    // The binding limit held through the failover (shared, then each node's share, then shared again):
    // only 200 and 429, and about the configured rate over the whole run (one bucket's worth at the start).
    const limitedOutcomes = limited.flatMap((load) => load.outcomes);
    assert.deepEqual([...new Set(limitedOutcomes.map((o) => o.status))].sort(), [200, 429]);
    const limitedSeconds = Math.min(...limited.map((load) => load.elapsedMs())) / 1000;
    const limitedAllowed = limitedOutcomes.filter((o) => o.status === 200).length;
    assert.ok(
      limitedAllowed <= limitRate * limitedSeconds * 1.1 + limitRate &&
        limitedAllowed >= limitRate * limitedSeconds * 0.8,
      `${limitedAllowed} allowed on /limited in ${limitedSeconds.toFixed(1)} s at ${limitRate}/s`,
    );
    // The lease of o1 outlived the failover: no heartbeat was told to register again.
    assert.ok(!heartbeats.includes(404), 'a heartbeat answered 404 (the lease was lost)');
    // A registration either took effect or was refused as retryable; nothing else.
    assert.deepEqual(
      [...new Set(registrations.map((r) => r.status))].filter((s) => s !== 201 && s !== 503),
      [],
    );
    // Every registration acknowledged on the promoted primary is on both nodes; one acknowledged by the old
    // primary just before its death may be missing (async replication, docs/distributed.md) and is counted.
    const acked = registrations.filter((r) => r.status === 201);
    const ackedAfter = acked.filter((r) => r.at >= resumed.at);
    // The last ones may still be on their way to the other node through the feed.
    const onA = await eventually(async () => {
      const lists = [await listed(a), await listed(b)];
      for (const r of ackedAfter)
        for (const list of lists) assert.ok(list.has(r.id), `${r.id} acknowledged but missing`);
      return lists[0] as Set<string>;
    }, 15_000);
    const lost = acked.filter((r) => r.at < killed && !onA.has(r.id)).map((r) => r.id);
    // Both nodes exit on SIGTERM while the sentinels still run: nothing (the failover detector's subscriptions)
    // keeps the process alive after "portico stopped".
    for (const node of [a, b]) node.child.kill('SIGTERM');
    await eventually(() => assert.deepEqual([a.child.exitCode, b.child.exitCode], [0, 0]), 10_000);
    t.diagnostic(
      `primary killed; sentinel promoted the replica after ${promoted - killed} ms; registrations accepted again ` +
        `${resumed.at - killed} ms after the kill; one through the other node seen by node a ${seen - registered} ms ` +
        `after its acknowledgement; ${proxied.length} proxied requests, none failed; ${acked.length} registrations ` +
        `acknowledged (${ackedAfter.length} after the failover, all present), ${registrations.filter((r) => r.status === 503).length} ` +
        `refused with 503 during it, ${lost.length} acknowledged before the kill and lost (${lost.join(' ') || 'none'}); ` +
        `heartbeats: ${heartbeats.filter((s) => s === 503).length} answered 503 during the failover; ` +
        `rate limit ${limitRate}/s: ${limitedAllowed} allowed in ${limitedSeconds.toFixed(1)} s`,
    );
  } finally {
    await stopLoad();
  }
});

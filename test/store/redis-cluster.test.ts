import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { cli, startClusterTopology } from '../helpers/redis-topology.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('Redis Cluster: registrations, the watch feed and rate limits on keys spread over several primaries', async (t) => {
  const cluster = await startClusterTopology();
  t.after(() => cluster.stop());
  const upstream = await startUpstream('orders');
  t.after(() => upstream.close());
  const agent = new Agent({ connections: 4 });
  t.after(() => agent.close());
  const perClient = 5;
  const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, nodes: ${JSON.stringify(cluster.nodes)}, prefix: "c:" }
logging: { level: warn, accessLog: false }
services:
  orders: {}
rateLimits:
  everyone: { limit: 1000, window: 1h, by: global }
routes:
  - name: orders
    match: { path: /orders/** }
    service: orders
    rateLimit: [everyone, { limit: ${perClient}, window: 1h, by: header:x-client }]
`;
  const [a, b] = await Promise.all([startPortico(config), startPortico(config)]);
  t.after(() => Promise.all([a.stop(), b.stop()]));

  const send = async (url: string, method: 'GET' | 'PUT' = 'GET', body?: unknown, client = '') => {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-client': client },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.body.dump();
    return res.statusCode;
  };
  // A watch client on node b, open before the registration.
  const watch = new AbortController();
  t.after(() => watch.abort());
  const stream = await fetch(`${b.adminUrl}/v1/watch?service=orders`, { signal: watch.signal });
  let events = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream.body as AsyncIterable<Uint8Array>)
      events += decoder.decode(chunk, { stream: true });
  })().catch(() => undefined);
  t.after(() => reading);

  // Registered through node a, routable through node b and announced to b's watchers: the change feed runs on
  // the cluster.
  const instance = { url: upstream.url, version: '1.0.0', ttl: '30s' };
  assert.equal(await send(`${a.adminUrl}/v1/services/orders/instances/o1`, 'PUT', instance), 201);
  await eventually(() => assert.match(events, /event: upsert\ndata: \{[^\n]*"o1"/));
  await eventually(async () =>
    assert.equal(await send(`${b.url}/orders/x`, 'GET', undefined, 'warmup'), 200),
  );
  assert.equal(await send(`${b.adminUrl}/v1/services/orders/instances/o1/heartbeat`, 'PUT'), 200);

  // Each client's budget is shared by both nodes; its key and the global one live on different slots.
  const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
  for (const client of clients) {
    const statuses: number[] = [];
    for (let i = 0; i < perClient + 2; i++)
      statuses.push(await send(`${(i % 2 === 0 ? a : b).url}/orders/x`, 'GET', undefined, client));
    assert.deepEqual(statuses, [...Array(perClient).fill(200), 429, 429], client);
  }

  const keysPerNode = await Promise.all(
    cluster.nodes.map(async (address) => Number((await cli(Number(address.split(':')[1]), 'DBSIZE')).trim())),
  );
  assert.ok(
    keysPerNode.filter((n) => n > 0).length >= 2,
    `keys on each primary: ${keysPerNode.join(', ')} (expected spread over several)`,
  );
  // Every registry key shares the prefix's hash tag, so the scripts that touch several of them run.
  const tagged = await Promise.all(
    cluster.nodes.map(async (address) => cli(Number(address.split(':')[1]), '--scan', '--pattern', '{c:}*')),
  );
  assert.match(tagged.join('\n'), /\{c:\}instances/);

  // Membership and shared configuration live under the same hash tag: both nodes list each other.
  await eventually(async () => {
    const res = await request(`${a.adminUrl}/v1/nodes`);
    const { nodes } = (await res.body.json()) as { nodes: { admin: string; state: string }[] };
    assert.deepEqual(nodes.map((n) => n.state).sort(), ['up', 'up']);
    assert.deepEqual(nodes.map((n) => n.admin).sort(), [a.adminUrl, b.adminUrl].sort());
  });
  const stored = await request(`${a.adminUrl}/v1/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: 'listen: 127.0.0.1:8080\n',
  });
  assert.equal(stored.statusCode, 201, await stored.body.text());
  const history = await request(`${b.adminUrl}/v1/config/revisions`);
  assert.deepEqual(
    ((await history.body.json()) as { revisions: { revision: number }[] }).revisions.map((r) => r.revision),
    [1],
  );
  t.diagnostic(`keys per primary: ${keysPerNode.join(', ')}`);
});

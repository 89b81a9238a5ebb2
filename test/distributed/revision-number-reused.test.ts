import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisFleetStore } from '../../src/store/redis-fleet-store.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPorticoFromStore } from '../helpers/portico-process.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

test('a revision that reuses the number of one a failover lost is still applied by the nodes that ran the lost one', async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const upstreams = await Promise.all(['blue', 'green', 'red'].map((name) => startUpstream(name)));
  t.after(() => Promise.all(upstreams.map((u) => u.close())));
  const [blue, green, red] = upstreams as [TestUpstream, TestUpstream, TestUpstream];
  const prefix = 'reuse:';
  const document = (upstream: TestUpstream) => `
listen: 127.0.0.1:\${GW_PORT}
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redis.url}", prefix: "${prefix}" }
services:
  colour: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: colour, match: { path: /colour }, service: colour }
`;
  const fleet = await createRedisFleetStore({ url: redis.url, prefix });
  t.after(() => fleet.close());
  assert.equal((await fleet.addRevision(document(blue), 'test', 'apply')).revision.revision, 1);
  const node = await startPorticoFromStore({ store: redis.url, prefix, nodeId: 'n1' });
  t.after(() => node.stop());
  const colour = async () =>
    ((await (await fetch(`${node.url}/colour`)).json()) as { upstream: string }).upstream;

  assert.equal((await fleet.addRevision(document(green), 'test', 'apply')).revision.revision, 2);
  await eventually(async () => assert.equal(await colour(), 'green'));

  // What a replica promoted before it received revision 2 holds: revision 1 is the latest, the counter at 1.
  const raw = new Redis(redis.url);
  await raw.hdel(`${prefix}config:meta`, '2');
  await raw.hdel(`${prefix}config:documents`, '2');
  await raw.set(`${prefix}config:revision`, '1');
  await raw.quit();

  // The next revision gets number 2 again, with another document: the node running the lost 2 applies it.
  assert.equal((await fleet.addRevision(document(red), 'test', 'apply')).revision.revision, 2);
  await eventually(async () => assert.equal(await colour(), 'red'), 10_000);
});

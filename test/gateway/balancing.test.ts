import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { send } from './client.ts';

interface RouteView {
  name: string;
  instances: { id: string; url: string; available: boolean }[];
}

/** Tallies which upstream served each answer. */
function tally(upstreamNames: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of upstreamNames) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

describe('load balancing through a real gateway', () => {
  let portico: PorticoProcess;
  let u1: TestUpstream;
  let u2: TestUpstream;
  let u3: TestUpstream;
  let slow: TestUpstream;
  let fast: TestUpstream;
  const held: ServerResponse[] = [];

  const config =
    (hashInstances: () => TestUpstream[]) =>
    ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  rr:
    instances: [{ url: "${u1.url}" }, { url: "${u2.url}" }, { url: "${u3.url}" }]
  weighted:
    loadBalancer: weighted
    instances: [{ url: "${u1.url}", weight: 3 }, { url: "${u2.url}", weight: 1 }]
  least:
    loadBalancer: least-request
    instances: [{ url: "${slow.url}" }, { url: "${fast.url}" }]
  sticky:
    loadBalancer: consistent-hash
    hashOn: header:x-user-id
    instances: [${hashInstances()
      .map((u) => `{ url: "${u.url}" }`)
      .join(', ')}]
routes:
  - { name: rr, match: { path: /rr/** }, service: rr }
  - { name: weighted, match: { path: /w/** }, service: weighted }
  - { name: least, match: { path: /lr/** }, service: least }
  - { name: sticky, match: { path: /ch/** }, service: sticky }
`;

  before(async () => {
    [u1, u2, u3, slow, fast] = await Promise.all([
      startUpstream('u1'),
      startUpstream('u2'),
      startUpstream('u3'),
      startUpstream('slow'),
      startUpstream('fast'),
    ]);
    slow.handler = (_req, res) => {
      held.push(res);
    };
    portico = await startPortico(config(() => [u1, u2, u3]));
  });

  after(async () => {
    for (const res of held) res.destroy();
    await portico?.stop();
    await Promise.all([u1, u2, u3, slow, fast].map((u) => u?.close()));
  });

  async function servedBy(path: string, headers?: Record<string, string>): Promise<string> {
    const res = await send(`${portico.url}${path}`, headers === undefined ? {} : { headers });
    assert.equal(res.status, 200, res.text);
    return res.json<{ upstream: string }>().upstream;
  }

  test('round-robin spreads sequential requests evenly over three instances', async () => {
    const served: string[] = [];
    for (let i = 0; i < 30; i++) served.push(await servedBy(`/rr/${i}`));
    assert.deepEqual(
      tally(served),
      new Map([
        ['u1', 10],
        ['u2', 10],
        ['u3', 10],
      ]),
    );
    // Consecutive requests never hit the same instance twice in a row.
    for (let i = 1; i < served.length; i++) assert.notEqual(served[i], served[i - 1]);
  });

  test('weighted sends traffic in proportion to the weights (3:1)', async () => {
    const served: string[] = [];
    for (let i = 0; i < 40; i++) served.push(await servedBy(`/w/${i}`));
    const counts = tally(served);
    assert.equal(counts.get('u1'), 30);
    assert.equal(counts.get('u2'), 10);
  });

  test('least-request sends new requests to the idle instance while the other is busy', async () => {
    // Keep firing until one request is parked on the slow instance; the others come straight back.
    const parked: Promise<unknown>[] = [];
    for (let i = 0; held.length === 0; i++) {
      assert.ok(i < 20, 'no request ever reached the slow instance');
      const pending = send(`${portico.url}/lr/probe-${i}`);
      let settled = false;
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      await eventually(() => assert.ok(settled || held.length > 0), 3000, 5);
      if (!settled) parked.push(pending);
    }
    const before = fast.requests.length;
    const served: string[] = [];
    for (let i = 0; i < 12; i++) served.push(await servedBy(`/lr/${i}`));
    assert.deepEqual(
      served,
      Array.from({ length: 12 }, () => 'fast'),
    );
    assert.equal(fast.requests.length - before, 12);
    assert.equal(held.length, 1);
    for (const res of held.splice(0)) res.end('{"upstream":"slow"}');
    await Promise.all(parked);
  });

  test('consistent-hash keeps each user on one instance and moves only ~1/N users when one leaves', async () => {
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const first = new Map<string, string>();
    for (const user of users) first.set(user, await servedBy('/ch/cart', { 'x-user-id': user }));
    const spread = tally([...first.values()]);
    for (const name of ['u1', 'u2', 'u3']) {
      assert.ok((spread.get(name) ?? 0) > 50, `u1..u3 share the users: ${JSON.stringify([...spread])}`);
    }
    for (const user of users.slice(0, 60)) {
      assert.equal(await servedBy('/ch/cart', { 'x-user-id': user }), first.get(user), `${user} moved`);
    }

    await portico.writeConfig(config(() => [u1, u2])({ port: portico.port, adminPort: portico.adminPort }));
    await eventually(async () => {
      const routes = (await (await fetch(`${portico.adminUrl}/v1/routes`)).json()) as RouteView[];
      assert.equal(routes.find((r) => r.name === 'sticky')?.instances.length, 2);
    }, 10_000);

    let moved = 0;
    for (const user of users) {
      const now = await servedBy('/ch/cart', { 'x-user-id': user });
      assert.notEqual(now, 'u3');
      if (now !== first.get(user)) {
        moved++;
        assert.equal(
          first.get(user),
          'u3',
          `${user} moved from ${first.get(user)} though its instance stayed`,
        );
      }
    }
    const share = moved / users.length;
    assert.ok(share > 0.15 && share < 0.5, `moved share ${share}`);
  });
});

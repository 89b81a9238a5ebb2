import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteStatsTable } from './route-stats.ts';
import { quantileFromBuckets, StatsSampler } from './stats-sampler.ts';

test('interpolates the p99 inside the bucket it falls in', () => {
  const bounds = [0.1, 0.2, 0.4];
  // 100 samples: 50 in (0, 0.1], 40 in (0.1, 0.2], 10 in (0.2, 0.4], none above.
  assert.equal(quantileFromBuckets(bounds, [50, 40, 10, 0], 0.5), 0.1);
  assert.ok(Math.abs((quantileFromBuckets(bounds, [50, 40, 10, 0], 0.99) as number) - 0.38) < 1e-9);
  assert.equal(quantileFromBuckets(bounds, [0, 0, 0, 5], 0.99), 0.4);
  assert.equal(quantileFromBuckets(bounds, [0, 0, 0, 0], 0.99), undefined);
});

test('reports requests per second, error rate and p99 per route and per service over the window', () => {
  const clock = { now: 1_000_000 };
  const table = new RouteStatsTable();
  const sampler = new StatsSampler(table, { clock: () => clock.now });
  const orders = table.for('orders');
  const ordersAdmin = table.for('orders-admin');
  for (let i = 0; i < 8; i++) orders.record('GET', 200, 0.004);
  orders.record('GET', 503, 0.004);
  orders.record('POST', 404, 0.004);
  ordersAdmin.record('GET', 500, 0.2);
  clock.now += 2000;
  const serviceOf = new Map([
    ['orders', 'orders'],
    ['orders-admin', 'orders'],
  ]);
  const first = sampler.sample(serviceOf);
  assert.equal(first.windowSeconds, 2);
  const route = first.routes.find((r) => r.name === 'orders');
  assert.deepEqual(route, {
    name: 'orders',
    service: 'orders',
    requestsPerSecond: 5,
    errorRate: 0.1,
    p99Ms: 4.975, // all ten in (2.5 ms, 5 ms]: 2.5 + 2.5 × 9.9 / 10
    requests: 10,
    total: 10,
  });
  const service = first.services[0];
  assert.equal(service?.name, 'orders');
  assert.equal(service?.requests, 11);
  assert.equal(service?.errorRate, 0.182);
  assert.ok((service?.p99Ms as number) > 100, 'the slow admin call sets the service p99');

  // The next window only counts what happened since.
  orders.record('GET', 200, 0.004);
  clock.now += 1000;
  const second = sampler.sample(serviceOf);
  const again = second.routes.find((r) => r.name === 'orders');
  assert.equal(again?.requests, 1);
  assert.equal(again?.requestsPerSecond, 1);
  assert.equal(again?.errorRate, 0);
  assert.equal(again?.total, 11);
  assert.equal(second.routes.find((r) => r.name === 'orders-admin')?.p99Ms, null);
});

test('answers the same report to callers within one interval', () => {
  const clock = { now: 0 };
  const table = new RouteStatsTable();
  const sampler = new StatsSampler(table, { clock: () => clock.now, minIntervalMs: 1000 });
  clock.now = 1000;
  const first = sampler.sample(new Map());
  table.for('orders').record('GET', 200, 0.001);
  clock.now = 1500;
  assert.equal(sampler.sample(new Map()), first);
  clock.now = 2000;
  assert.equal(sampler.sample(new Map()).routes[0]?.requests, 1);
});

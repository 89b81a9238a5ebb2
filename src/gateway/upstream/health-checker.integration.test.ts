import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { eventually } from '../../../test/helpers/eventually.ts';
import { createBalancer } from '../../balancing/index.ts';
import { createHealthChecker } from './health-checker.ts';
import { Instance } from './instance.ts';
import { InstanceSet } from './instance-set.ts';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

it('ejects a real upstream that starts answering 503 and restores it when it recovers', async (t) => {
  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'down');
  });
  const port = await listen(server);
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const instance = new Instance(
    { id: 'u1', service: 'users', url: `http://127.0.0.1:${port}/api`, source: 'static' },
    { connectTimeoutMs: 500, keepAliveTimeoutMs: 1000 },
  );
  const set = new InstanceSet({
    service: 'users',
    balancer: createBalancer('round-robin'),
    instances: [instance],
  });
  const transitions: string[] = [];
  const checker = createHealthChecker({
    instances: set,
    check: {
      path: '/healthz',
      intervalMs: 20,
      timeoutMs: 500,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
      expectStatus: '2xx',
    },
    onTransition: (_instance, healthy, result) =>
      transitions.push(`${healthy ? 'up' : 'down'}:${result.status}`),
  });
  t.after(() => checker.stop());
  checker.start();

  await eventually(() => assert.ok(paths.length >= 2, 'two passing probes'));
  assert.equal(instance.healthy, true);
  assert.equal(paths[0], '/healthz', 'probes the check path on the origin');

  status = 503;
  await eventually(() => assert.ok(!instance.healthy, 'ejection'));
  assert.equal(set.pick(undefined), undefined);

  status = 200;
  await eventually(() => assert.ok(instance.healthy, 'restoration'));
  assert.equal(set.pick(undefined), instance);
  assert.deepEqual(transitions, ['down:503', 'up:200']);
});

it('ejects an instance whose port refuses connections', async (t) => {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));

  const instance = new Instance(
    { id: 'gone', service: 'users', url: `http://127.0.0.1:${port}`, source: 'static' },
    { connectTimeoutMs: 500, keepAliveTimeoutMs: 1000 },
  );
  const set = new InstanceSet({
    service: 'users',
    balancer: createBalancer('round-robin'),
    instances: [instance],
  });
  const reasons: string[] = [];
  const checker = createHealthChecker({
    instances: set,
    check: {
      path: '/',
      intervalMs: 20,
      timeoutMs: 500,
      unhealthyThreshold: 2,
      healthyThreshold: 1,
      expectStatus: '200',
    },
    onTransition: (_instance, _healthy, result) => reasons.push(result.reason ?? ''),
  });
  t.after(() => checker.stop());
  checker.start();

  await eventually(() => assert.ok(!instance.healthy, 'ejection'));
  assert.match(reasons[0] ?? '', /ECONNREFUSED/);
});

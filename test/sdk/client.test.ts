import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import {
  BrokenCircuitError,
  createClient,
  createService,
  ServiceCallError,
  type PorticoService,
} from '../../src/sdk/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { adminToken, porticoConfig, startTestService } from './helpers.ts';

let portico: PorticoProcess;

before(async () => {
  portico = await startPortico(({ port, adminPort }) => porticoConfig(port, adminPort));
});
after(() => portico.stop());

function newClient(t: { after(fn: () => Promise<void>): void }) {
  const client = createClient({ registry: { url: portico.adminUrl, token: adminToken } });
  t.after(() => client.close());
  return client;
}

interface Echo {
  service: string;
  version: string;
  id: string;
  path: string;
}

test('a client follows a service through instance churn without a failed call', async (t) => {
  const client = newClient(t);
  const ledger = client.service('ledger', '^1');
  const live: PorticoService[] = [];
  for (let i = 0; i < 2; i++)
    live.push(await startTestService(t, portico.adminUrl, { name: 'ledger', version: '1.0.0' }));
  await eventually(() => assert.equal(ledger.instances().length, 2));

  const answeredBy = new Set<string>();
  const failures: unknown[] = [];
  let calls = 0;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const echo = await ledger.get<Echo>('/entries');
        answeredBy.add(echo.id);
        calls++;
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const loops = Array.from({ length: 4 }, loop);

  // Each round adds an instance and drains the oldest one, so every original instance is gone by the end.
  for (let round = 0; round < 4; round++) {
    const added = await startTestService(t, portico.adminUrl, { name: 'ledger', version: '1.0.0' });
    live.push(added);
    await eventually(() => assert.ok(ledger.instances().some((i) => i.id === added.id)));
    const callsBefore = calls;
    await eventually(() => assert.ok(calls > callsBefore + 20));
    await (live.shift() as PorticoService).close();
  }
  running = false;
  await Promise.all(loops);

  assert.deepEqual(failures, []);
  assert.ok(calls > 100, `made ${calls} calls`);
  for (const service of live) assert.ok(answeredBy.has(service.id), `${service.id} got traffic`);
  assert.equal(answeredBy.size, 6);
});

test('a client only calls instances whose version is in its range', async (t) => {
  const client = newClient(t);
  await startTestService(t, portico.adminUrl, { name: 'pricing', version: '2.4.0' });
  await startTestService(t, portico.adminUrl, { name: 'pricing', version: '3.1.0' });
  const v3 = client.service('pricing', '^3');
  const any = client.service('pricing');
  await eventually(() => assert.equal(any.instances().length, 2));
  assert.deepEqual(
    v3.instances().map((i) => i.version),
    ['3.1.0'],
  );
  for (let i = 0; i < 10; i++) assert.equal((await v3.get<Echo>('/price')).version, '3.1.0');
});

test('a call made inside a handler carries the incoming trace id with a new span id', async (t) => {
  const client = newClient(t);
  const seen: (string | undefined)[] = [];
  await startTestService(t, portico.adminUrl, {
    name: 'stock',
    version: '1.0.0',
    handler(req, res) {
      seen.push(req.headers.traceparent as string | undefined);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"inStock":3}');
    },
  });
  const stock = client.service('stock');
  const front = await startTestService(t, portico.adminUrl, {
    name: 'shop',
    version: '1.0.0',
    async handler(_req, res) {
      // An await before the call: the context must survive it.
      await new Promise((resolve) => setImmediate(resolve));
      const answer = await stock.get<{ inStock: number }>('/items/1');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    },
  });
  await stock.ready();
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const res = await fetch(`${front.url}/buy`, { headers: { traceparent: incoming } });
  assert.deepEqual(await res.json(), { inStock: 3 });
  const [outgoing] = seen;
  assert.match(outgoing ?? '', /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.notEqual(outgoing, incoming);

  await stock.get('/outside');
  assert.doesNotMatch(seen[1] ?? '', /4bf92f3577b34da6a3ce929d0e0e4736/);
  assert.match(seen[1] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});

const answerWith = (status: number) => (req: IncomingMessage, res: ServerResponse) => {
  const code = req.url === '/missing' ? 404 : status;
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ code, status }));
};

test('a failing instance answer is retried on another instance; a 4xx is thrown with its body', async (t) => {
  const client = newClient(t);
  await startTestService(t, portico.adminUrl, { name: 'flaky', version: '1.0.0', handler: answerWith(503) });
  await startTestService(t, portico.adminUrl, { name: 'flaky', version: '1.0.0', handler: answerWith(200) });
  const flaky = client.service('flaky');
  await eventually(() => assert.equal(flaky.instances().length, 2));
  // Half of these tries reach the failing instance: with one breaker per service they opened it after 20 tries.
  for (let i = 0; i < 40; i++) assert.deepEqual(await flaky.get('/x'), { code: 200, status: 200 });

  const error = await flaky.get('/missing').then(
    () => assert.fail('expected a ServiceCallError'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof ServiceCallError);
  assert.equal(error.status, 404);
  assert.equal((error.body as { code: number }).code, 404);
});

test('breakers are per instance: a failing instance is passed over, and only all open fail fast', async (t) => {
  let failingCalls = 0;
  const failing = (req: IncomingMessage, res: ServerResponse): void => {
    failingCalls++;
    answerWith(500)(req, res);
  };
  const client = createClient({
    registry: { url: portico.adminUrl, token: adminToken },
    retry: false,
    breaker: { minRequests: 4, failureRate: 0.5, openForMs: 60_000 },
  });
  t.after(() => client.close());
  await startTestService(t, portico.adminUrl, { name: 'halfway', version: '1.0.0', handler: failing });
  await startTestService(t, portico.adminUrl, {
    name: 'halfway',
    version: '1.0.0',
    handler: answerWith(200),
  });
  const halfway = client.service('halfway');
  await eventually(() => assert.equal(halfway.instances().length, 2));
  const outcomes = { ok: 0, failed: 0 };
  for (let i = 0; i < 30; i++) {
    await halfway.get('/x').then(
      () => outcomes.ok++,
      (err: unknown) => {
        assert.ok(err instanceof ServiceCallError, `only the failing instance's 500s, not ${String(err)}`);
        outcomes.failed++;
      },
    );
  }
  // The failing instance's breaker opened after its first few answers; the healthy one served the rest.
  assert.ok(failingCalls >= 2 && failingCalls <= 6, `failing instance called ${failingCalls} times`);
  assert.equal(outcomes.failed, failingCalls);
  assert.equal(outcomes.ok, 30 - failingCalls);

  const allFailing = createClient({
    registry: { url: portico.adminUrl, token: adminToken },
    retry: false,
    breaker: { minRequests: 2, failureRate: 0.5, openForMs: 60_000 },
  });
  t.after(() => allFailing.close());
  await startTestService(t, portico.adminUrl, { name: 'down', version: '1.0.0', handler: answerWith(500) });
  await startTestService(t, portico.adminUrl, { name: 'down', version: '1.0.0', handler: answerWith(500) });
  const down = allFailing.service('down');
  await eventually(() => assert.equal(down.instances().length, 2));
  for (let i = 0; i < 4; i++) await assert.rejects(down.get('/x'), ServiceCallError);
  await assert.rejects(down.get('/x'), BrokenCircuitError);
});

test('a client created before any instance exists waits for the snapshot and then finds a new one', async (t) => {
  const client = newClient(t);
  const late = client.service('late');
  await late.ready();
  assert.deepEqual(late.instances(), []);
  await assert.rejects(late.get('/'), { name: 'NoInstanceError' });
  const service = await createService({
    name: 'late',
    version: '1.0.0',
    registry: { url: portico.adminUrl, token: adminToken },
    handleSignals: false,
    drainGraceMs: 0,
    logger: { info: () => {}, warn: () => {} },
    handler: (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('"hello"'),
  });
  t.after(() => service.close());
  await eventually(() => assert.equal(late.instances().length, 1));
  assert.equal(await late.get<string>('/'), 'hello');
});

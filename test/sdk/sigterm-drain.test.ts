import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { createClient } from '../../src/sdk/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { adminToken, listed, porticoConfig, startTestService } from './helpers.ts';

const fixture = resolve(import.meta.dirname, 'fixtures/drain-service.ts');

test('SIGTERM under load drains the instance without losing a request (SDK client and gateway)', async (t) => {
  const portico = await startPortico(({ port, adminPort }) =>
    porticoConfig(
      port,
      adminPort,
      `services:
  inventory: {}
routes:
  - { name: inventory, match: { path: /inventory/** }, service: inventory }
`,
    ),
  );
  t.after(() => portico.stop());
  const steady = await startTestService(t, portico.adminUrl, { name: 'inventory', version: '1.0.0' });

  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, REGISTRY_URL: portico.adminUrl, ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const started = await eventually(() => JSON.parse(/^\{"ready".*$/m.exec(output)?.[0] ?? 'x'), 10_000);
  const draining = started.id as string;

  const client = createClient({ registry: { url: portico.adminUrl, token: adminToken } });
  t.after(() => client.close());
  const inventory = client.service('inventory');
  await eventually(() => assert.equal(inventory.instances().length, 2));
  const agent = new Agent({ connections: 8 });
  t.after(() => agent.close());
  await eventually(async () => {
    const res = await request(`${portico.url}/inventory/items?delay=0`, { dispatcher: agent });
    const body = (await res.body.json()) as { id: string };
    assert.equal(body.id, draining, 'the gateway routes to the child too');
  });

  const answeredBy = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  const count = (id: string): void => void answeredBy.set(id, (answeredBy.get(id) ?? 0) + 1);
  const sdkLoop = async (): Promise<void> => {
    while (running) {
      try {
        count((await inventory.get<{ id: string }>('/items', { query: { delay: 10 } })).id);
      } catch (err) {
        failures.push(`sdk: ${(err as Error).message}`);
      }
    }
  };
  const gatewayLoop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(`${portico.url}/inventory/items?delay=10`, { dispatcher: agent });
        const text = await res.body.text();
        if (res.statusCode !== 200) failures.push(`gateway: ${res.statusCode} ${text}`);
        else count((JSON.parse(text) as { id: string }).id);
      } catch (err) {
        failures.push(`gateway: ${(err as Error).message}`);
      }
    }
  };
  const loops = [...Array.from({ length: 4 }, sdkLoop), ...Array.from({ length: 4 }, gatewayLoop)];
  await eventually(() => assert.ok((answeredBy.get(draining) ?? 0) > 20));

  // A long request already in flight when the signal arrives must still be answered.
  const slow = request(`${started.url}/items?delay=700&mark=slow`).then(async (res) => {
    await res.body.text();
    return res.statusCode;
  });
  await eventually(() => assert.match(output, /\{"received":"slow"\}/));
  const servedBeforeSignal = answeredBy.get(draining) ?? 0;
  child.kill('SIGTERM');
  const [code] = await exited;
  const afterExit = Object.fromEntries(answeredBy);
  // Keep the load going after the exit: nothing may still be sent to the stopped instance.
  await eventually(() => assert.ok((answeredBy.get(steady.id) ?? 0) > (afterExit[steady.id] ?? 0) + 50));
  running = false;
  await Promise.all(loops);

  assert.equal(code, 0, output);
  assert.equal(await slow, 200);
  assert.deepEqual(failures, []);
  assert.ok((answeredBy.get(draining) ?? 0) >= servedBeforeSignal);
  assert.deepEqual(
    (await listed(portico.adminUrl, 'inventory')).map((i) => i.id),
    [steady.id],
  );
});

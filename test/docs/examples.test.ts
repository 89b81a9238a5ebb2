import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

const examples = resolve(import.meta.dirname, '../../examples');

async function startExamplePortico(t: TestContext, example: string): Promise<PorticoProcess> {
  const yaml = await readFile(resolve(examples, example, 'portico.yaml'), 'utf8');
  const portico = await startPortico(({ port, adminPort }) =>
    yaml.replace('127.0.0.1:8080', `127.0.0.1:${port}`).replace('127.0.0.1:8081', `127.0.0.1:${adminPort}`),
  );
  t.after(() => portico.stop());
  return portico;
}

function run(
  t: TestContext,
  command: string,
  args: string[],
  portico: PorticoProcess,
): ChildProcess & { output(): string; exited: Promise<number | null> } {
  const child = spawn(command, args, {
    env: { ...process.env, PORTICO_REGISTRY_URL: portico.adminUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => output, exited });
}

async function instances(
  portico: PorticoProcess,
  service: string,
): Promise<{ id: string; status: string }[]> {
  const res = await fetch(`${portico.adminUrl}/v1/services/${service}/instances`);
  return ((await res.json()) as { instances: { id: string; status: string }[] }).instances;
}

test('the TypeScript example: orders calls users through the SDK, behind the gateway', async (t) => {
  const portico = await startExamplePortico(t, 'typescript-service');
  const users = run(t, process.execPath, [resolve(examples, 'typescript-service/users.ts')], portico);
  const orders = run(t, process.execPath, [resolve(examples, 'typescript-service/orders.ts')], portico);
  const answer = await eventually(async () => {
    const res = await fetch(`${portico.url}/orders/7`, {
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    assert.equal(res.status, 200, `${users.output()}\n${orders.output()}`);
    return (await res.json()) as { id: string; customer: { name: string; traceparent: string } };
  }, 10_000);
  assert.equal(answer.id, '7');
  assert.equal(answer.customer.name, 'user u7');
  assert.match(answer.customer.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-/);

  orders.kill('SIGTERM');
  assert.equal(await orders.exited, 0);
  assert.deepEqual(await instances(portico, 'orders'), []);
});

test('the Python example registers, heartbeats and drains over plain HTTP', async (t) => {
  const portico = await startExamplePortico(t, 'python-service');
  const python = run(t, 'python3', [resolve(examples, 'python-service/service.py')], portico);
  const res = await eventually(async () => {
    const answer = await fetch(`${portico.url}/inventory/items`);
    assert.equal(answer.status, 200, python.output());
    return answer.json();
  }, 10_000);
  assert.deepEqual(res, { service: 'inventory', version: '1.0.0', path: '/inventory/items' });

  // Forgotten by the registry: the heartbeat's 404 makes it register again.
  const [listed] = await instances(portico, 'inventory');
  await fetch(`${portico.adminUrl}/v1/services/inventory/instances/${listed?.id}`, { method: 'DELETE' });
  await eventually(async () => assert.equal((await instances(portico, 'inventory')).length, 1), 8_000);

  python.kill('SIGTERM');
  const draining = await eventually(async () => {
    const [instance] = await instances(portico, 'inventory');
    assert.equal(instance?.status, 'draining');
    return instance;
  }, 3_000);
  assert.equal(draining?.id, listed?.id);
  assert.equal(await python.exited, 0);
  assert.deepEqual(await instances(portico, 'inventory'), []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../config/config-error.ts';
import type { Config } from '../../config/schema.ts';
import { createLogger } from '../../observability/logger.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';
import { createReloadController, type ReloadControllerOptions } from './reload-controller.ts';

/** A table with nothing to start or retire; `name` tells tables apart. */
function fakeTable(name: string): Runtime {
  return { name, healthCheckers: [], services: new Map(), routes: [] } as unknown as Runtime;
}

function controller(overrides: Partial<ReloadControllerOptions> = {}) {
  const results: string[] = [];
  const swapped: string[] = [];
  const committed: string[] = [];
  let compiled = 0;
  const reloads = createReloadController({
    compile: () => fakeTable(`table-${++compiled}`),
    load: async () => ({}) as Config,
    source: 'portico.yaml',
    commit: (table, previous) =>
      committed.push(
        `${(table as unknown as { name: string }).name} after ${(previous as unknown as { name: string } | undefined)?.name ?? 'none'}`,
      ),
    onRetire: () => {},
    onSwap: (table) => swapped.push((table as unknown as { name: string }).name),
    onResult: (result) => results.push(result),
    logger: createLogger('silent'),
    ...overrides,
  });
  return { reloads, results, swapped, committed };
}

test('swaps in the new table and counts the reload as applied', async () => {
  const { reloads, results, swapped } = controller();
  const first = reloads.start({} as Config);
  assert.equal(reloads.table(), first);
  assert.deepEqual(await reloads.reload(), { ok: true });
  assert.notEqual(reloads.table(), first);
  assert.deepEqual(swapped, ['table-2']);
  assert.deepEqual(results, ['applied']);
});

test('reloads run one at a time: a second trigger loads only after the first swapped', async () => {
  const events: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let loads = 0;
  const { reloads } = controller({
    load: async () => {
      const n = ++loads;
      events.push(`load ${n} start`);
      if (n === 1) await gate;
      events.push(`load ${n} end`);
      return {} as Config;
    },
    onSwap: () => events.push('swap'),
  });
  reloads.start({} as Config);
  const a = reloads.reload();
  const b = reloads.reload();
  await Promise.resolve();
  release();
  await Promise.all([a, b]);
  assert.deepEqual(events, ['load 1 start', 'load 1 end', 'swap', 'load 2 start', 'load 2 end', 'swap']);
});

test('a refused config keeps the running table; a compile failure names the source', async () => {
  let fail: Error = new ConfigError([{ file: 'portico.yaml', path: 'routes', message: 'expected an array' }]);
  let compiled = 0;
  const { reloads, results, committed } = controller({
    compile: () => {
      if (++compiled > 1) throw fail;
      return fakeTable('first');
    },
  });
  const first = reloads.start({} as Config);
  const refused = await reloads.reload();
  assert.equal(refused.ok, false);
  assert.equal(refused.ok ? '' : refused.error.issues[0]?.path, 'routes');
  fail = new Error('route pattern "/a/**/b" has ** before the end');
  const failed = await reloads.reload();
  assert.deepEqual(failed.ok ? [] : failed.error.issues, [
    { file: 'portico.yaml', path: '', message: 'route pattern "/a/**/b" has ** before the end' },
  ]);
  assert.equal(reloads.table(), first);
  assert.deepEqual(results, ['rejected', 'rejected']);
  assert.deepEqual(committed, ['first after none'], 'a refused table never takes over the node state');
});

test('the start-up table and each applied reload commit the node state, in swap order', async () => {
  const { reloads, committed } = controller();
  reloads.start({} as Config);
  await reloads.reload();
  await reloads.reload();
  assert.deepEqual(committed, ['table-1 after none', 'table-2 after table-1', 'table-3 after table-2']);
});

test('retires the instances only the old table had and closes their pools', async () => {
  const closed: string[] = [];
  const instance = (id: string) => ({ id, close: async () => void closed.push(id) });
  const kept = instance('kept');
  const gone = instance('gone');
  const table = (instances: unknown[]) =>
    ({
      healthCheckers: [],
      routes: [],
      services: new Map([['orders', { instances: { all: instances } }]]),
    }) as unknown as Runtime;
  const tables = [table([kept, gone]), table([kept])];
  const retired: string[] = [];
  const { reloads } = controller({
    compile: () => tables.shift() as Runtime,
    onRetire: (i) => retired.push(i.id),
  });
  reloads.start({} as Config);
  await reloads.reload();
  assert.deepEqual(retired, ['gone']);
  assert.deepEqual(closed, ['gone']);
});

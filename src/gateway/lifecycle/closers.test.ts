import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloserStack } from './closers.ts';

test('closes the parts newest first, once, even when called twice', async () => {
  const order: string[] = [];
  const closers = new CloserStack(() => assert.fail('no step fails'));
  closers.add('store', () => {
    order.push('store');
  });
  closers.add('registry', async () => {
    await Promise.resolve();
    order.push('registry');
  });
  closers.add('listener', () => {
    order.push('listener');
  });
  await Promise.all([closers.closeAll(), closers.closeAll()]);
  await closers.closeAll();
  assert.deepEqual(order, ['listener', 'registry', 'store']);
});

test('a failing step is reported and the older steps still run', async () => {
  const order: string[] = [];
  const failures: string[] = [];
  const closers = new CloserStack((name, err) => failures.push(`${name}: ${(err as Error).message}`));
  closers.add('store', () => {
    order.push('store');
  });
  closers.add('tracer', () => Promise.reject(new Error('exporter gone')));
  await closers.closeAll();
  assert.deepEqual(order, ['store']);
  assert.deepEqual(failures, ['tracer: exporter gone']);
});

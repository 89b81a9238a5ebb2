import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancer } from '../balancing/index.ts';
import { Instance } from '../gateway/upstream/instance.ts';
import { InstanceSet } from '../gateway/upstream/instance-set.ts';
import { VersionIndex } from './version-index.ts';

const pool = { connectTimeoutMs: 100, keepAliveTimeoutMs: 100 };
const instance = (id: string, version: string): Instance =>
  new Instance(
    { id, service: 's', url: `http://10.0.0.1:${id.length + 8000}`, version, source: 'registry' },
    pool,
  );

test('a view holds the instances whose version satisfies its range and follows adds, removals and health', () => {
  const set = new InstanceSet({ service: 's', balancer: createBalancer<Instance>('round-robin') });
  const a = instance('a', '1.4.0');
  const b = instance('bb', '2.1.0');
  set.add(a);
  set.add(b);
  const index = new VersionIndex(set, 'round-robin');
  const v2 = index.view('^2');
  assert.deepEqual(v2.instances.all, [b]);
  assert.equal(v2.major, 2);
  const c = instance('ccc', '2.2.0');
  set.add(c);
  assert.deepEqual(v2.instances.all, [b, c]);
  set.setHealth(b, false);
  assert.deepEqual(index.view('^2').instances.available, [c]);
  assert.equal(index.view('^2').instances.pick(undefined), c);
  set.setHealth(b, true);
  assert.equal(index.view('^2').instances.available.length, 2);
  set.remove('ccc');
  assert.deepEqual(index.view('^2').instances.all, [b]);
  assert.deepEqual(index.versions(), ['2.1.0', '1.4.0']);
  assert.equal(index.view('>=1').major, undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancer } from '../../balancing/index.ts';
import { Instance } from './instance.ts';
import { InstanceSet } from './instance-set.ts';

const poolOptions = { connectTimeoutMs: 1000, keepAliveTimeoutMs: 4000 };

function instances(count: number): Instance[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new Instance(
        { id: `i${i}`, service: 'users', url: `http://127.0.0.1:${9000 + i}`, source: 'registry' },
        poolOptions,
      ),
  );
}

function picked(set: InstanceSet, times: number): Set<string> {
  const ids = new Set<string>();
  for (let i = 0; i < times; i++) ids.add(set.pick(undefined)?.id ?? 'none');
  return ids;
}

test('below the panic threshold the balancer spreads traffic over every non-draining instance', () => {
  const all = instances(5);
  const [a, b, c, , e] = all as [Instance, Instance, Instance, Instance, Instance];
  const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin'), instances: all });
  const events: boolean[] = [];
  set.onChange((change) => {
    if (change.type === 'panic') events.push(set.panic);
  });
  set.setPanicThreshold(0.5);

  set.setHealth(a, false);
  set.setStatus(b, 'critical');
  assert.equal(set.panic, false, '3 of 5 available is not below 50%');
  assert.deepEqual([...picked(set, 10)].sort(), ['i2', 'i3', 'i4']);

  set.setHealth(c, false);
  assert.equal(set.panic, true, '2 of 5 available is below 50%');
  assert.deepEqual([...picked(set, 10)].sort(), ['i0', 'i1', 'i2', 'i3', 'i4']);
  assert.equal(set.available.length, 2, 'available still tells the truth');

  set.setStatus(e, 'draining');
  assert.deepEqual(
    [...picked(set, 10)].sort(),
    ['i0', 'i1', 'i2', 'i3'],
    'a draining instance gets no panic traffic',
  );

  set.setHealth(a, true);
  set.setStatus(b, 'passing');
  assert.equal(set.panic, false);
  assert.deepEqual([...picked(set, 10)].sort(), ['i0', 'i1', 'i3']);
  assert.deepEqual(events, [true, false]);
});

test('with no instance available at all there is no panic: nothing is picked (503 no_healthy_instance)', () => {
  const all = instances(2);
  const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin'), instances: all });
  set.setPanicThreshold(0.5);
  const [first] = all as [Instance, Instance];
  set.setHealth(first, false);
  assert.equal(set.panic, false, '1 of 2 is not below 50%');
  for (const instance of all) set.setHealth(instance, false);
  assert.equal(set.panic, false);
  assert.equal(set.pick(undefined), undefined);
});

test('a set whose instances all drain is not in panic and picks nothing', () => {
  const all = instances(2);
  const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin'), instances: all });
  set.setPanicThreshold(0.5);
  for (const instance of all) set.setStatus(instance, 'draining');
  assert.equal(set.panic, false);
  assert.equal(set.pick(undefined), undefined);
});

test('an instance ejected by outlier detection takes no panic traffic and does not count towards the share', () => {
  const all = instances(3);
  const [a, b] = all as [Instance, Instance, Instance];
  const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin'), instances: all });
  set.setPanicThreshold(0.5);
  for (const ejected of [a, b]) {
    ejected.ejected = true;
    set.setHealth(ejected, false);
  }
  assert.equal(set.panic, false, 'one available of one candidate');
  assert.deepEqual([...picked(set, 10)], ['i2']);
});

test('an instance on probation takes one try at a time', () => {
  const all = instances(2);
  const [a] = all as [Instance, Instance];
  const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin'), instances: all });
  a.probation = true;
  assert.deepEqual([...picked(set, 4)].sort(), ['i0', 'i1']);
  a.inflight = 1;
  assert.deepEqual([...picked(set, 4)], ['i1']);
});

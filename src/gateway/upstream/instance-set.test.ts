import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Balancer } from '../../balancing/balancer.ts';
import { createBalancer } from '../../balancing/index.ts';
import { Instance } from './instance.ts';
import { InstanceSet, type InstanceChange } from './instance-set.ts';

const poolOptions = { connectTimeoutMs: 1000, keepAliveTimeoutMs: 4000 };

function instance(id: string, port = 9000): Instance {
  return new Instance(
    { id, service: 'users', url: `http://127.0.0.1:${port}`, weight: 1, source: 'static' },
    poolOptions,
  );
}

/** Wraps a real balancer and records every target list it is given. */
function recording(): { balancer: Balancer<Instance>; calls: (readonly Instance[])[] } {
  const inner = createBalancer<Instance>('round-robin');
  const calls: (readonly Instance[])[] = [];
  return {
    calls,
    balancer: {
      name: inner.name,
      setTargets(targets) {
        calls.push(targets);
        inner.setTargets(targets);
      },
      pick: (key, avoid) => inner.pick(key, avoid),
    },
  };
}

describe('InstanceSet', () => {
  it('starts with the instances it is given and picks among them', () => {
    const a = instance('a');
    const b = instance('b');
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('round-robin'),
      instances: [a, b],
    });
    assert.deepEqual(set.all, [a, b]);
    assert.deepEqual([set.pick(undefined), set.pick(undefined), set.pick(undefined)], [a, b, a]);
    assert.equal(set.get('b'), b);
    assert.equal(set.size, 2);
  });

  it('replaces its arrays on change instead of mutating the ones readers hold', () => {
    const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin') });
    const a = instance('a');
    set.add(a);
    const all = set.all;
    const available = set.available;
    set.add(instance('b'));
    set.setHealth(a, false);
    assert.deepEqual(
      all.map((i) => i.id),
      ['a'],
    );
    assert.deepEqual(
      available.map((i) => i.id),
      ['a'],
    );
    assert.ok(Object.isFrozen(set.all) && Object.isFrozen(set.available));
    assert.deepEqual(
      set.available.map((i) => i.id),
      ['b'],
    );
  });

  it('hands the balancer the available instances once per health or status change, pending adds folded in', () => {
    const { balancer, calls } = recording();
    const set = new InstanceSet({ service: 'users', balancer });
    calls.length = 0;
    const a = instance('a');
    const b = instance('b');
    set.add(a);
    set.add(b);
    set.setStatus(b, 'draining');
    set.setHealth(a, false);
    assert.deepEqual(
      calls.map((targets) => targets.map((i) => i.id)),
      [['a'], []],
    );
  });

  it('rebuilds once for a thousand registrations delivered together, before anything reads the set', async () => {
    const { balancer, calls } = recording();
    const set = new InstanceSet({ service: 'users', balancer });
    calls.length = 0;
    for (let i = 0; i < 1000; i++) set.add(instance(`i${i}`));
    assert.equal(calls.length, 0);
    assert.equal(set.pick(undefined)?.id, 'i0', 'a read applies what is pending');
    assert.equal(calls.length, 1);
    set.remove('i0');
    set.remove('i1');
    await Promise.resolve();
    assert.equal(calls.length, 2, 'pending changes are applied at the end of the run without a read');
    assert.equal(calls[1]?.length, 998);
  });

  it('returns undefined from pick when no instance is healthy', () => {
    const a = instance('a');
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('least-request'),
      instances: [a],
    });
    set.setHealth(a, false);
    assert.equal(set.pick(undefined), undefined);
    set.setHealth(a, true);
    assert.equal(set.pick(undefined), a);
  });

  it('takes draining instances out of rotation but keeps them in the set', () => {
    const a = instance('a');
    const b = instance('b');
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('round-robin'),
      instances: [a, b],
    });
    set.setStatus(a, 'draining');
    for (let i = 0; i < 4; i++) assert.equal(set.pick(undefined), b);
    assert.deepEqual(set.all, [a, b]);
  });

  it('returns the removed instance so its pool can be closed', () => {
    const a = instance('a');
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('round-robin'),
      instances: [a],
    });
    assert.equal(set.remove('a'), a);
    assert.equal(set.remove('a'), undefined);
    assert.equal(set.get('a'), undefined);
    assert.equal(set.pick(undefined), undefined);
  });

  it('replaces an instance re-added under the same id and returns the old one', () => {
    const old = instance('a', 9000);
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('round-robin'),
      instances: [old],
    });
    const events: string[] = [];
    set.onChange((change) => events.push(`${change.type}:${change.instance.origin}`));
    const fresh = instance('a', 9001);
    assert.equal(set.add(fresh), old);
    assert.deepEqual(set.all, [fresh]);
    assert.deepEqual(events, ['removed:http://127.0.0.1:9000', 'added:http://127.0.0.1:9001']);
  });

  it('tells listeners about each change after the new snapshot is live, and only real changes', () => {
    const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin') });
    const seen: Array<[InstanceChange['type'], string, number]> = [];
    const unsubscribe = set.onChange((change) =>
      seen.push([change.type, change.instance.id, set.available.length]),
    );
    const a = instance('a');
    set.add(a);
    set.setHealth(a, true);
    set.setHealth(a, false);
    set.setStatus(a, 'critical');
    set.remove('a');
    unsubscribe();
    set.add(instance('b'));
    assert.deepEqual(seen, [
      ['added', 'a', 1],
      ['health', 'a', 0],
      ['status', 'a', 0],
      ['removed', 'a', 0],
    ]);
  });

  it('keeps notifying other listeners when one throws', (t) => {
    const warnings: unknown[] = [];
    t.mock.method(process, 'emitWarning', (warning: unknown) => warnings.push(warning));
    const set = new InstanceSet({ service: 'users', balancer: createBalancer('round-robin') });
    let calls = 0;
    set.onChange(() => {
      throw new Error('listener broke');
    });
    set.onChange(() => calls++);
    set.add(instance('a'));
    assert.equal(calls, 1);
    assert.equal(set.size, 1);
    assert.equal(warnings.length, 1);
  });

  it('ignores health changes of an instance no longer in the set', () => {
    const a = instance('a');
    const set = new InstanceSet({
      service: 'users',
      balancer: createBalancer('round-robin'),
      instances: [a],
    });
    set.remove('a');
    const events: string[] = [];
    set.onChange((change) => events.push(change.type));
    assert.equal(set.setHealth(a, false), false);
    assert.deepEqual(events, []);
  });
});

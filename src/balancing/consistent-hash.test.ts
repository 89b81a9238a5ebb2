import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsistentHashBalancer } from './consistent-hash.ts';
import { hashString } from './hash.ts';

const target = (id: string, weight = 1) => ({ id, weight, inflight: 0 });
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function assign(ring: ReturnType<typeof createConsistentHashBalancer>, avoid?: ReturnType<typeof target>) {
  return keys.map((key) => ring.pick(key, avoid)!.id);
}

describe('consistent-hash balancer', () => {
  it('maps the same key to the same target on every pick', () => {
    const ring = createConsistentHashBalancer();
    ring.setTargets(['a', 'b', 'c', 'd', 'e'].map((id) => target(id)));
    assert.deepEqual(assign(ring), assign(ring));
  });

  it('does not depend on the order targets are given in', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const forward = createConsistentHashBalancer();
    forward.setTargets(ids.map((id) => target(id)));
    const backward = createConsistentHashBalancer();
    backward.setTargets(ids.toReversed().map((id) => target(id)));
    assert.deepEqual(assign(forward), assign(backward));
  });

  it('spreads 10,000 keys roughly evenly over equal targets', () => {
    const ring = createConsistentHashBalancer();
    ring.setTargets(['a', 'b', 'c', 'd', 'e'].map((id) => target(id)));
    const counts = new Map<string, number>();
    for (const id of assign(ring)) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, count] of counts) assert.ok(count > 1400 && count < 2600, `${id} got ${count} keys`);
  });

  it('moves only the keys of a target that leaves, about 1/N of them', () => {
    const list = ['a', 'b', 'c', 'd', 'e'].map((id) => target(id));
    const ring = createConsistentHashBalancer();
    ring.setTargets(list);
    const before = assign(ring);
    ring.setTargets(list.filter((t) => t.id !== 'c'));
    const after = assign(ring);
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(before[i], 'c', `${keys[i]} moved off ${before[i]}, which stayed`);
    }
    assert.ok(moved > 0 && moved <= (keys.length * 1.5) / list.length, `${moved} keys moved`);
  });

  it('gives a heavier target a proportionally larger share of keys', () => {
    const ring = createConsistentHashBalancer();
    ring.setTargets([target('heavy', 3), target('light', 1)]);
    const heavy = assign(ring).filter((id) => id === 'heavy').length;
    assert.ok(heavy > 6800 && heavy < 8200, `heavy got ${heavy} keys`);
  });

  it('sends a retry of a key to the target that would own it if the avoided one left', () => {
    const list = ['a', 'b', 'c', 'd'].map((id) => target(id));
    const ring = createConsistentHashBalancer();
    ring.setTargets(list);
    const owners = assign(ring);
    const retried = keys.map(
      (key, i) =>
        ring.pick(
          key,
          list.find((t) => t.id === owners[i]),
        )!.id,
    );
    for (let i = 0; i < keys.length; i++) assert.notEqual(retried[i], owners[i]);
    for (const avoided of list) {
      const without = createConsistentHashBalancer();
      without.setTargets(list.filter((t) => t !== avoided));
      for (let i = 0; i < keys.length; i++) {
        if (owners[i] === avoided.id) assert.equal(retried[i], without.pick(keys[i])!.id);
      }
    }
  });

  it('falls back to round-robin when the request has no key', () => {
    const ring = createConsistentHashBalancer();
    ring.setTargets([target('a'), target('b'), target('c')]);
    const order = Array.from({ length: 6 }, () => ring.pick(undefined)!.id);
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('hashString', () => {
  it('is stable and unsigned 32-bit', () => {
    assert.equal(hashString('portico'), hashString('portico'));
    for (const text of ['', 'a', 'é', '漢字', 'x'.repeat(1000)]) {
      const hash = hashString(text);
      assert.ok(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff);
    }
  });

  it('separates strings that differ in one character or only in a high byte', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(hashString(`id#${i}`));
    assert.ok(seen.size >= 9_995);
    assert.notEqual(hashString('\u0101'), hashString('\u0001'));
  });
});

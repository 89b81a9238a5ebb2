import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRoundRobinBalancer } from './round-robin.ts';

const target = (id: string, weight = 1) => ({ id, weight, inflight: 0 });

describe('round-robin balancer', () => {
  it('hands out targets in turn, ignoring weight', () => {
    const rr = createRoundRobinBalancer();
    const list = [target('a', 5), target('b'), target('c')];
    rr.setTargets(list);
    const order = Array.from({ length: 7 }, () => rr.pick(undefined)!.id);
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('spreads 3000 picks evenly over 3 targets', () => {
    const rr = createRoundRobinBalancer();
    rr.setTargets([target('a'), target('b'), target('c')]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const id = rr.pick(undefined)!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], [1000, 1000, 1000]);
  });

  it('skips the avoided target and continues the rotation after it', () => {
    const rr = createRoundRobinBalancer();
    const [a, b, c] = [target('a'), target('b'), target('c')];
    rr.setTargets([a, b, c]);
    assert.equal(rr.pick(undefined, a), b);
    assert.equal(rr.pick(undefined), c);
    assert.equal(rr.pick(undefined), a);
  });

  it('keeps rotating within bounds when the target list shrinks', () => {
    const rr = createRoundRobinBalancer();
    const [a, b, c] = [target('a'), target('b'), target('c')];
    rr.setTargets([a, b, c]);
    rr.pick(undefined);
    rr.pick(undefined);
    rr.setTargets([a, b]);
    assert.deepEqual([rr.pick(undefined), rr.pick(undefined), rr.pick(undefined)], [a, b, a]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWeightedBalancer } from './weighted.ts';

const target = (id: string, weight: number) => ({ id, weight, inflight: 0 });

function sequence(weights: Record<string, number>, length: number): string {
  const balancer = createWeightedBalancer();
  balancer.setTargets(Object.entries(weights).map(([id, weight]) => target(id, weight)));
  return Array.from({ length }, () => balancer.pick(undefined)!.id).join('');
}

describe('weighted balancer (smooth weighted round-robin)', () => {
  it('interleaves a 3:1 pair as a,a,b,a rather than a burst', () => {
    assert.equal(sequence({ a: 3, b: 1 }, 8), 'aabaaaba');
  });

  it('spreads the light targets of a 5:1:1 set through the cycle', () => {
    assert.equal(sequence({ a: 5, b: 1, c: 1 }, 7), 'aabacaa');
    assert.equal(sequence({ a: 5, b: 1, c: 1 }, 14), 'aabacaa'.repeat(2));
  });

  it('serves each target in proportion to its weight', () => {
    const picks = sequence({ a: 5, b: 3, c: 2 }, 1000);
    const count = (id: string) => picks.split('').filter((c) => c === id).length;
    assert.deepEqual([count('a'), count('b'), count('c')], [500, 300, 200]);
  });

  it('gives the avoided pick to the next best target without breaking proportions', () => {
    const balancer = createWeightedBalancer();
    const a = target('a', 3);
    const b = target('b', 1);
    balancer.setTargets([a, b]);
    assert.equal(balancer.pick(undefined, a), b);
    const counts = { a: 0, b: 1 };
    for (let i = 0; i < 399; i++) counts[balancer.pick(undefined)!.id as 'a' | 'b']++;
    assert.deepEqual(counts, { a: 300, b: 100 });
  });

  it('keeps the rotation of targets that stay when the set changes', () => {
    const balancer = createWeightedBalancer();
    const a = target('a', 3);
    const b = target('b', 1);
    balancer.setTargets([a, b]);
    const before = [balancer.pick(undefined)!.id, balancer.pick(undefined)!.id];
    balancer.setTargets([a, b, target('c', 0)]);
    const after = [balancer.pick(undefined)!.id, balancer.pick(undefined)!.id];
    assert.deepEqual([...before, ...after], ['a', 'a', 'b', 'a']);
  });
});

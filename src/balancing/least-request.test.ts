import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLeastRequestBalancer } from './least-request.ts';

const target = (id: string, inflight: number, weight = 1) => ({ id, weight, inflight });

/** Replays the given numbers in order, so each pick's two samples are chosen by the test. */
function scripted(...values: number[]): () => number {
  let at = 0;
  return () => values[at++ % values.length]!;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x100000000;
  };
}

describe('least-request balancer (power of two choices)', () => {
  it('takes the sampled target with fewer requests in flight', () => {
    const busy = target('busy', 10);
    const idle = target('idle', 0);
    const balancer = createLeastRequestBalancer({ random: scripted(0, 0) });
    balancer.setTargets([busy, idle]);
    assert.equal(balancer.pick(undefined), idle);
  });

  it('prefers the idle target almost always with a seeded random', () => {
    const list = [target('a', 8), target('b', 8), target('idle', 0), target('c', 8)];
    const balancer = createLeastRequestBalancer({ random: seeded(42) });
    balancer.setTargets(list);
    let idle = 0;
    for (let i = 0; i < 1000; i++) if (balancer.pick(undefined)!.id === 'idle') idle++;
    // The idle target wins whenever it is one of the two samples: 1 - (3/4 * 2/3) = 50%.
    assert.ok(idle > 450 && idle < 550, `idle picked ${idle} times`);
  });

  it('never picks the busiest target when all are sampled in pairs', () => {
    const list = [target('a', 1), target('b', 2), target('busiest', 9)];
    const balancer = createLeastRequestBalancer({ random: seeded(1) });
    balancer.setTargets(list);
    for (let i = 0; i < 500; i++) assert.notEqual(balancer.pick(undefined)!.id, 'busiest');
  });

  it('breaks an in-flight tie in favour of the heavier target', () => {
    const light = target('light', 2, 1);
    const heavy = target('heavy', 2, 5);
    const balancer = createLeastRequestBalancer({ random: scripted(0, 0) });
    balancer.setTargets([light, heavy]);
    assert.equal(balancer.pick(undefined), heavy);
    balancer.setTargets([heavy, light]);
    assert.equal(balancer.pick(undefined), heavy);
  });

  it('samples only among the other targets when avoiding one', () => {
    const idle = target('idle', 0);
    const b = target('b', 3);
    const c = target('c', 1);
    const balancer = createLeastRequestBalancer({ random: seeded(9) });
    balancer.setTargets([idle, b, c]);
    for (let i = 0; i < 100; i++) assert.equal(balancer.pick(undefined, idle), c);
  });

  it('follows in-flight counts as they change without a new target list', () => {
    const a = target('a', 0);
    const b = target('b', 0);
    const balancer = createLeastRequestBalancer({ random: scripted(0.1, 0.1) });
    balancer.setTargets([a, b]);
    a.inflight = 4;
    assert.equal(balancer.pick(undefined), b);
    b.inflight = 5;
    assert.equal(balancer.pick(undefined), a);
  });
});

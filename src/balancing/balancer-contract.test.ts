import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoadBalancerName } from '../config/schema.ts';
import type { BalancerTarget } from './balancer.ts';
import { createBalancer } from './index.ts';

const names: LoadBalancerName[] = ['round-robin', 'weighted', 'least-request', 'consistent-hash'];

function targets(count: number): BalancerTarget[] {
  return Array.from({ length: count }, (_, i) => ({ id: `t${i}`, weight: 1 + (i % 3), inflight: 0 }));
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x100000000;
  };
}

for (const name of names) {
  describe(`${name} balancer contract`, () => {
    it('reports its strategy name', () => {
      assert.equal(createBalancer(name).name, name);
    });

    it('returns undefined when there are no targets', () => {
      const balancer = createBalancer(name);
      assert.equal(balancer.pick('k'), undefined);
      balancer.setTargets([]);
      assert.equal(balancer.pick(undefined), undefined);
    });

    it('returns the only target even when asked to avoid it', () => {
      const balancer = createBalancer(name);
      const [only] = targets(1);
      balancer.setTargets([only!]);
      assert.equal(balancer.pick('k', only), only);
      assert.equal(balancer.pick(undefined, only), only);
    });

    it('never returns the avoided target when another exists', () => {
      const balancer = createBalancer(name, { random: seeded(7) });
      const list = targets(4);
      balancer.setTargets(list);
      for (let i = 0; i < 500; i++) {
        const avoid = list[i % list.length]!;
        assert.notEqual(balancer.pick(i % 2 === 0 ? `key-${i}` : undefined, avoid), avoid);
      }
    });

    it('picks only among the current targets after they are replaced', () => {
      const balancer = createBalancer(name, { random: seeded(3) });
      const list = targets(6);
      balancer.setTargets(list);
      for (let i = 0; i < 50; i++) balancer.pick(`key-${i}`);
      const remaining = list.slice(3);
      balancer.setTargets(remaining);
      for (let i = 0; i < 500; i++) {
        const picked = balancer.pick(i % 2 === 0 ? `key-${i}` : undefined);
        assert.ok(picked !== undefined && remaining.includes(picked), `picked ${picked?.id}`);
      }
    });

    it('reaches every target', () => {
      const balancer = createBalancer(name, { random: seeded(11) });
      const list = targets(5);
      balancer.setTargets(list);
      const seen = new Set<string>();
      for (let i = 0; i < 2000; i++) seen.add(balancer.pick(`key-${i}`)!.id);
      assert.equal(seen.size, list.length);
    });
  });
}

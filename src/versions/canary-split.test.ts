import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCanarySplit } from './canary-split.ts';

const consumers = Array.from({ length: 1000 }, (_, i) => `consumer-${i}`);

function shares(weights: Record<string, number>): Map<number, number> {
  const split = createCanarySplit(weights);
  const counts = new Map<number, number>();
  for (const key of consumers) {
    const major = split.order(key)[0] as number;
    counts.set(major, (counts.get(major) ?? 0) + 1);
  }
  return counts;
}

test('1,000 consumers split within ±3% of the weights', () => {
  const cases: Record<string, number>[] = [
    { '1': 90, '2': 10 },
    { '1': 50, '2': 50 },
    { '1': 60, '2': 30, '3': 10 },
  ];
  for (const weights of cases) {
    const counts = shares(weights);
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    for (const [major, weight] of Object.entries(weights)) {
      const share = (counts.get(Number(major)) ?? 0) / consumers.length;
      assert.ok(
        Math.abs(share - weight / total) <= 0.03,
        `${JSON.stringify(weights)}: v${major} got ${share}`,
      );
    }
  }
});

test('a consumer always lands on the same version', () => {
  const split = createCanarySplit({ '1': 90, '2': 10 });
  for (const key of consumers.slice(0, 100)) assert.deepEqual(split.order(key), split.order(key));
});

test('raising the canary weight only moves consumers towards the canary', () => {
  const before = createCanarySplit({ '1': 90, '2': 10 });
  const after = createCanarySplit({ '1': 80, '2': 20 });
  let moved = 0;
  for (const key of consumers) {
    const from = before.order(key)[0];
    const to = after.order(key)[0];
    if (from === to) continue;
    assert.equal(from, 1, `${key} left the canary`);
    moved++;
  }
  assert.ok(moved >= 70 && moved <= 130, `moved ${moved}, about 100 expected`);
});

test('a weight of 0 takes no traffic', () => {
  assert.equal(shares({ '1': 100, '2': 0 }).get(2), undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from '../../src/contracts/contract.ts';
import { diffContracts } from '../../src/contracts/diff/diff-contracts.ts';
import { diffRules, type DiffRuleId } from '../../src/contracts/diff/rules.ts';
import { parityCorpus } from './diff-corpus-parity.ts';
import { corpus as baseCorpus, type CorpusCase } from './diff-corpus.ts';

const corpus: readonly CorpusCase[] = [...baseCorpus, ...parityCorpus];

const now = Date.parse('2026-03-01T00:00:00Z');

test('the corpus holds at least 150 contract pairs with unique names', () => {
  assert.ok(corpus.length >= 150, `only ${corpus.length} pairs`);
  assert.equal(new Set(corpus.map((item) => item.name)).size, corpus.length);
});

test('every rule has a case where it fires and a look-alike case where it does not', () => {
  const missing: string[] = [];
  for (const rule of Object.keys(diffRules)) {
    if (!corpus.some((item) => item.expect.includes(rule) || item.info?.includes(rule)))
      missing.push(`${rule}: no positive case`);
    if (!corpus.some((item) => item.negativeFor?.includes(rule))) missing.push(`${rule}: no negative case`);
  }
  assert.deepEqual(missing, []);
});

for (const item of corpus) {
  test(`contract diff: ${item.name}`, async () => {
    const result = diffContracts(await parseContract(item.before), await parseContract(item.after), { now });
    const reported = result.changes
      .filter((change) => change.severity !== 'info')
      .map((change) => change.rule)
      .sort();
    assert.deepEqual(reported, [...item.expect].sort(), JSON.stringify(result.changes, null, 1));
    if (item.info !== undefined) {
      const info = result.changes.filter((change) => change.severity === 'info').map((change) => change.rule);
      assert.deepEqual(
        [...new Set(info)].sort(),
        [...item.info].sort(),
        JSON.stringify(result.changes, null, 1),
      );
    }
    for (const rule of item.negativeFor ?? [])
      assert.ok(!result.changes.some((change) => change.rule === rule), `${rule} fired`);
    const breaking = item.expect.some((rule) => diffRules[rule as DiffRuleId].severity === 'breaking');
    assert.equal(result.breaking > 0, breaking);
  });
}

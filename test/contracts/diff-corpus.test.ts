import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from '../../src/contracts/contract.ts';
import { diffContracts } from '../../src/contracts/diff/diff-contracts.ts';
import { corpus } from './diff-corpus.ts';

const now = Date.parse('2026-03-01T00:00:00Z');

test('the corpus holds at least 30 contract pairs', () => {
  assert.ok(corpus.length >= 30, `only ${corpus.length} pairs`);
});

for (const item of corpus) {
  test(`contract diff: ${item.name}`, async () => {
    const result = diffContracts(await parseContract(item.before), await parseContract(item.after), { now });
    const reported = result.changes
      .filter((change) => change.severity !== 'info')
      .map((change) => change.rule)
      .sort();
    assert.deepEqual(reported, [...item.expect].sort(), JSON.stringify(result.changes, null, 1));
    const breaking = item.expect.some(
      (rule) => !rule.startsWith('response-optional') && !rule.startsWith('response-enum'),
    );
    assert.equal(result.breaking > 0, breaking);
  });
}

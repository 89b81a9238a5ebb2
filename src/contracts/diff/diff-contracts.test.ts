import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from '../contract.ts';
import { diffContracts } from './diff-contracts.ts';

/** A oneOf of `width` branches, each holding the same shape one level down, `depth` levels deep. */
function nested(width: number, depth: number, leaf: Record<string, unknown>): Record<string, unknown> {
  if (depth === 0) return leaf;
  const branches = Array.from({ length: width }, (_, i) => ({
    type: 'object',
    required: [`k${i}`],
    properties: { [`k${i}`]: nested(width, depth - 1, leaf) },
  }));
  return { oneOf: branches };
}

const docWith = (schema: Record<string, unknown>) => ({
  openapi: '3.1.0',
  info: { title: 't', version: '1.0.0' },
  paths: {
    '/t': {
      post: {
        requestBody: { required: true, content: { 'application/json': { schema } } },
        responses: { '200': { description: 'ok', content: { 'application/json': { schema } } } },
      },
    },
  },
});

test('deeply nested compositions are compared within a bounded number of branch trials', async () => {
  const before = await parseContract(docWith(nested(5, 5, { type: 'string' })));
  const after = await parseContract(docWith(nested(5, 5, { type: 'integer' })));
  const result = diffContracts(before, after);
  assert.ok(result.breaking > 0);
});

test('a request schema wrapped in a oneOf without type is compared branch by branch', async () => {
  const name = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };
  const before = await parseContract(docWith(name));
  const after = await parseContract(
    docWith({
      oneOf: [
        { type: 'object', required: ['name', 'email'], properties: { name: {}, email: {} } },
        { type: 'object', required: ['phone'], properties: { phone: {} } },
      ],
    }),
  );
  const rules = diffContracts(before, after).changes.map((change) => change.rule);
  assert.ok(rules.includes('request-property-added-required'), rules.join(', '));
});

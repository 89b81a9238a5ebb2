import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from './contract.ts';
import { ContractError } from './contract-error.ts';

const text = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'users', version: '1.0.0' },
  paths: { '/users/{id}': { get: { responses: { '200': { description: 'ok' } } } } },
});

test('the same published text is parsed once for the registry gate and the contract book', async () => {
  const first = await parseContract(text);
  const again = await parseContract(text);
  assert.equal(again, first);
  assert.equal(first.openapi, '3.1');
});

test('a refused text is refused every time it comes', async () => {
  const bad = '{"openapi":"2.0","info":{"title":"x","version":"1"}}';
  await assert.rejects(parseContract(bad), ContractError);
  await assert.rejects(parseContract(bad), ContractError);
});

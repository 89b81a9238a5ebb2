import assert from 'node:assert/strict';
import { test } from 'node:test';
import { removeConnectionNamed } from './hop-by-hop.ts';

test('removes the headers a Connection header names, whatever their case', () => {
  const headers = ['X-Secret', '1', 'content-type', 'text/plain', 'x-other', '2'];
  removeConnectionNamed(headers, 'keep-alive, X-Secret ,x-OTHER');
  assert.deepEqual(headers, ['content-type', 'text/plain']);
});

test('keeps every header when Connection only says keep-alive or close', () => {
  for (const value of ['keep-alive', 'Keep-Alive', 'close', 'CLOSE', 'close, keep-alive']) {
    const headers = ['keep-alive', 'timeout=5', 'close', 'x'];
    removeConnectionNamed(headers, value);
    assert.deepEqual(headers, ['keep-alive', 'timeout=5', 'close', 'x'], value);
  }
});

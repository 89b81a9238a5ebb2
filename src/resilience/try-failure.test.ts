import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tryFailureOf } from './try-failure.ts';

test('error codes map to what a retry may assume about the failed try', () => {
  assert.equal(tryFailureOf('ECONNREFUSED'), 'refused');
  assert.equal(tryFailureOf('UND_ERR_CONNECT_TIMEOUT'), 'refused', 'no connection: nobody saw the request');
  assert.equal(tryFailureOf('ECONNRESET'), 'connect');
  assert.equal(tryFailureOf('UND_ERR_SOCKET'), 'connect');
  assert.equal(tryFailureOf('UND_ERR_HEADERS_TIMEOUT'), 'timeout');
  assert.equal(tryFailureOf('UND_ERR_BODY_TIMEOUT'), 'timeout');
  assert.equal(tryFailureOf('HPE_INVALID_CONSTANT'), 'other');
  assert.equal(tryFailureOf(undefined), 'other');
});

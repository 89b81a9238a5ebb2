import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from './sse-parser.ts';

test('events split across chunks come out whole, with their id and type', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('id: 12\nevent: snap'), []);
  assert.deepEqual(parser.push('shot\ndata: {"a":\ndata: 1}\r\n\r\n'), [
    { id: '12', event: 'snapshot', data: '{"a":\n1}' },
  ]);
  assert.equal(parser.lastEventId, '12');
});

test('comments produce nothing and an id without data moves the resume point', () => {
  const parser = new SseParser();
  parser.push('id: 3\nevent: upsert\ndata: {}\n\n');
  assert.deepEqual(parser.push(': keep-alive\nid: 9\n\n'), []);
  assert.equal(parser.lastEventId, '9');
});

test('a reset drops the half-received event but keeps the last id', () => {
  const parser = new SseParser();
  parser.push('id: 4\nevent: upsert\ndata: {}\n\nid: 5\nevent: delete\ndata: {');
  parser.reset();
  assert.equal(parser.lastEventId, '5');
  assert.deepEqual(parser.push('event: upsert\ndata: {}\n\n'), [{ id: '5', event: 'upsert', data: '{}' }]);
});

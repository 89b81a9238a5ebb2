import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileQueryEdit } from './query-edit.ts';

const source = { params: { id: '7' }, consumer: 'c-1', requestId: 'r-1', clientIp: '10.0.0.1' };

test('parameters the edit does not name keep their exact encoding', () => {
  const edit = compileQueryEdit({ source: 'gw' }, ['debug']);
  assert.equal(edit.apply('a=b+c&debug=1&x=%2F%7e&debug&flag', source), 'a=b+c&x=%2F%7e&flag&source=gw');
});

test('set replaces every copy, encodes its value and fills placeholders', () => {
  const edit = compileQueryEdit({ 'user id': '{param.id} & {consumer}' }, []);
  assert.equal(edit.apply('user%20id=1&user+id=2&q=1', source), 'q=1&user%20id=7%20%26%20c-1');
  assert.equal(edit.apply('', source), 'user%20id=7%20%26%20c-1');
});

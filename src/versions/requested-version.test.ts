import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestedRange, VERSION_PARAM } from './requested-version.ts';

test('reads the version from the first source in "from" that has one', () => {
  const params = { [VERSION_PARAM]: 'v2' };
  const headers = { 'accept-version': '^1', accept: 'application/json; version=3' };
  assert.equal(requestedRange(['path', 'header', 'media-type'], params, headers), '2');
  assert.equal(requestedRange(['header', 'path'], params, headers), '^1');
  assert.equal(requestedRange(['media-type', 'header'], params, headers), '3');
  assert.equal(requestedRange(['path'], {}, headers), undefined);
});

test('accepts v<major>.<minor> prefixes and refuses other first segments', () => {
  assert.equal(requestedRange(['path'], { [VERSION_PARAM]: 'v2.1' }, {}), '2.1');
  assert.throws(() => requestedRange(['path'], { [VERSION_PARAM]: 'admin' }, {}), {
    code: 'route_not_found',
  });
});

test('refuses an Accept-Version that is not a semver range', () => {
  assert.throws(() => requestedRange(['header'], {}, { 'accept-version': 'latest' }), {
    code: 'bad_request',
  });
});

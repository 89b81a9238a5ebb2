import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath } from './normalize-path.ts';

describe('normalizePath', () => {
  const accepted: ReadonlyArray<readonly [string, string, string]> = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', ''],
    ['/a/b?x=1&y=%2F', '/a/b', 'x=1&y=%2F'],
    ['/a?', '/a', ''],
    ['/a??b', '/a', '?b'],
    ['/a/./b', '/a/b', ''],
    ['/a/../b', '/b', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/b/.', '/a/b/', ''],
    ['/a/%2e%2e/b', '/b', ''],
    ['/a/%2E%2e/b', '/b', ''],
    ['/a/.%2e/b', '/b', ''],
    ['/a/%2e/b', '/a/b', ''],
    ['/..', '/', ''],
    ['/../../a', '/a', ''],
    ['/a/../../b', '/b', ''],
    ['//a', '/a', ''],
    ['/a//b///c', '/a/b/c', ''],
    ['/a//../b', '/b', ''],
    ['/a//', '/a/', ''],
    ['/...', '/...', ''],
    ['/.well-known/x', '/.well-known/x', ''],
    ['/%7euser', '/~user', ''],
    ['/%41%62%2D%5f', '/Ab-_', ''],
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['/a%20b', '/a%20b', ''],
    ['/a%3fb', '/a%3Fb', ''],
    ['/%252e%252e/x', '/%252e%252e/x', ''],
    ['/%25%32%65', '/%252e', ''],
    ['/a|b:c@d', '/a|b:c@d', ''],
    ['http://example.test/a/../b?q', '/b', 'q'],
    ['HTTPS://example.test:8443/x', '/x', ''],
    ['http://example.test', '/', ''],
    ['http://example.test?q=1', '/', 'q=1'],
  ];
  for (const [input, path, query] of accepted) {
    test(`normalises ${JSON.stringify(input)} to ${JSON.stringify(path)}`, () => {
      assert.deepEqual(normalizePath(input), { path, query });
    });
  }

  const rejected: readonly string[] = [
    '',
    '*',
    'example.test:443',
    'a/b',
    '/a%2Fb',
    '/a%2fb',
    '/a%5Cb',
    '/a%5cb',
    '/a\\b',
    '/a%00b',
    '/a%',
    '/a%4',
    '/a%4?x',
    '/a%zz',
    '/a%g1',
    '/a\u0000b',
    '/a\nb',
    '/a\tb',
    '/a b',
    '/a\u007fb',
    '/caf\u00e9',
    '/a#frag',
    'http://ex ample.test/a',
    'http://example.test/%2F',
  ];
  for (const input of rejected) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(normalizePath(input), undefined);
    });
  }

  test('double encoding is decoded only once, so %252e never becomes a dot segment', () => {
    assert.deepEqual(normalizePath('/a/%252e%252e/b'), { path: '/a/%252e%252e/b', query: '' });
  });

  test('is idempotent on its own output', () => {
    for (const [input] of accepted) {
      const once = normalizePath(input);
      assert.ok(once);
      assert.equal(normalizePath(once.path)?.path, once.path, input);
    }
  });

  test('returns the very same string on the fast path when there is no query', () => {
    const input = '/users/42/orders';
    assert.equal(normalizePath(input)?.path, input);
  });

  test('takes the slow path for /. and // but still returns an equal string when nothing changes', () => {
    assert.equal(normalizePath('/a/.b')?.path, '/a/.b');
  });
});

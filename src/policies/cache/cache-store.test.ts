import assert from 'node:assert/strict';
import { test } from 'node:test';
import CachePolicy from 'http-cache-semantics';
import type { CachedResponse } from './cached-response.ts';
import { createMemoryCacheStore } from './cache-store.ts';

function entry(bytes: number, variant = ''): CachedResponse {
  const policy = new CachePolicy(
    { url: '', method: 'GET', headers: {} },
    { status: 200, headers: { 'cache-control': 'max-age=60' } },
  );
  return {
    policy,
    status: 200,
    headers: [],
    body: Buffer.alloc(bytes),
    variant,
    etag: undefined,
    freshUntil: 0,
    staleIfErrorSec: 0,
    encoded: [],
    size: bytes,
  };
}

test('the memory store evicts the least recently used keys to stay within its byte bound', () => {
  const store = createMemoryCacheStore(1000);
  store.put('a', entry(400));
  store.put('b', entry(400));
  assert.ok(store.get('a'), 'reading a makes b the least recently used');
  store.put('c', entry(400));
  assert.equal(store.get('b'), undefined);
  assert.ok(store.get('a'));
  assert.ok(store.get('c'));
  assert.ok(store.bytes <= 1000);
});

test('an answer larger than the whole bound is not stored', () => {
  const store = createMemoryCacheStore(100);
  store.put('big', entry(101));
  assert.equal(store.get('big'), undefined);
});

test('a new answer replaces the variant with the same Vary values and keeps the others', () => {
  const store = createMemoryCacheStore(10_000);
  store.put('k', entry(10, 'fr\n'));
  store.put('k', entry(10, 'de\n'));
  store.put('k', entry(20, 'fr\n'));
  const variants = store.get('k') ?? [];
  assert.deepEqual(
    variants.map((v) => [v.variant, v.size]),
    [
      ['de\n', 10],
      ['fr\n', 20],
    ],
  );
});

test('purge by key and by prefix', () => {
  const store = createMemoryCacheStore(10_000);
  for (const key of ['r GET /a', 'r GET /a/1', 'r GET /b', 's GET /a']) store.put(key, entry(1));
  assert.equal(store.purgeKey('r GET /b'), 1);
  assert.equal(store.purgeKey('r GET /b'), 0);
  assert.equal(store.purgePrefix('r GET /a'), 2);
  assert.equal(store.entries, 1);
  assert.equal(store.purgePrefix(''), 1);
});

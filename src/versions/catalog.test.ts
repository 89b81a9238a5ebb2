import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../config/schema.ts';
import { publicPathOf } from './catalog.ts';

const route = (extra: Partial<RouteConfig>, path = '/api/**'): RouteConfig => ({
  name: 'r',
  match: { path },
  service: 's',
  preserveHost: false,
  websocket: false,
  ...extra,
});

test('the upstream path is public as is without stripPrefix or rewrite', () => {
  assert.equal(publicPathOf(route({}), '/users/{id}'), '/users/{id}');
});

test('stripPrefix is put back in front of the upstream path', () => {
  assert.equal(publicPathOf(route({ stripPrefix: '/api/' }), '/users/{id}'), '/api/users/{id}');
  assert.equal(publicPathOf(route({ stripPrefix: '/api' }), '/'), '/api');
});

test('a rewrite ending in {**} is turned around', () => {
  const r = route({ rewrite: '/internal/{**}' });
  assert.equal(publicPathOf(r, '/internal/users/{id}'), '/api/users/{id}');
  assert.equal(publicPathOf(r, '/other/users'), undefined);
});

test('a fixed rewrite shows the route pattern for the one upstream path it reaches', () => {
  const r = route({ rewrite: '/v2/status' }, '/status');
  assert.equal(publicPathOf(r, '/v2/status'), '/status');
  assert.equal(publicPathOf(r, '/v2/other'), undefined);
});

test('a rewrite that cannot be inverted leaves the operation out', () => {
  assert.equal(publicPathOf(route({ rewrite: '/x/{id}/{**}' }), '/x/1/y'), undefined);
});

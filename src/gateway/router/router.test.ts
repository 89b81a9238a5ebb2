import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteMatchConfig } from '../../config/schema.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { createRouter, type RouteEntry } from './router.ts';

function route(name: string, match: RouteMatchConfig): RouteEntry<string> {
  return { name, match, value: name };
}

function winner(
  entries: RouteEntry<string>[],
  path: string,
  opts: { method?: string; host?: string; headers?: IncomingHttpHeaders } = {},
): string | undefined {
  return createRouter(entries).find(opts.method ?? 'GET', opts.host, path, opts.headers ?? {})?.entry.name;
}

describe('path patterns', () => {
  test('matches literal paths exactly, with a significant trailing slash', () => {
    const entries = [
      route('root', { path: '/' }),
      route('a', { path: '/a' }),
      route('a-slash', { path: '/a/' }),
    ];
    assert.equal(winner(entries, '/'), 'root');
    assert.equal(winner(entries, '/a'), 'a');
    assert.equal(winner(entries, '/a/'), 'a-slash');
    assert.equal(winner(entries, '/a/b'), undefined);
    assert.equal(winner(entries, '/ab'), undefined);
  });

  test('captures named parameters and skips unnamed ones', () => {
    const router = createRouter([route('r', { path: '/users/{id}/*/orders/{orderId}' })]);
    const match = router.find('GET', undefined, '/users/42/x/orders/o%20', {});
    assert.deepEqual(match?.params, { id: '42', orderId: 'o%20' });
  });

  test('a parameter never matches an empty segment', () => {
    const entries = [route('user', { path: '/users/{id}' }), route('star', { path: '/s/*' })];
    assert.equal(winner(entries, '/users/'), undefined);
    assert.equal(winner(entries, '/s/'), undefined);
    assert.equal(winner(entries, '/s/x'), 'star');
  });

  test('** matches zero or more segments and exposes the rest without its leading slash', () => {
    const router = createRouter([route('users', { path: '/users/**' })]);
    const rest = (path: string): string | undefined => router.find('GET', undefined, path, {})?.params['**'];
    assert.equal(rest('/users'), '');
    assert.equal(rest('/users/'), '');
    assert.equal(rest('/users/1'), '1');
    assert.equal(rest('/users/1/x/'), '1/x/');
    assert.equal(rest('/usersx'), undefined);
    assert.equal(rest('/'), undefined);
  });

  test('/** matches every path, the root included', () => {
    const router = createRouter([route('all', { path: '/**' })]);
    assert.deepEqual(router.find('GET', undefined, '/', {})?.params, { '**': '' });
    assert.deepEqual(router.find('GET', undefined, '/a/b', {})?.params, { '**': 'a/b' });
  });

  test('routes without captures share one frozen empty params object', () => {
    const router = createRouter([route('a', { path: '/a' }), route('b', { path: '/b/*' })]);
    const a = router.find('GET', undefined, '/a', {});
    const b = router.find('GET', undefined, '/b/x', {});
    assert.deepEqual(a?.params, {});
    assert.equal(a?.params, b?.params);
    assert.ok(Object.isFrozen(a?.params));
  });

  test('parameters and rest together', () => {
    const router = createRouter([route('files', { path: '/buckets/{bucket}/**' })]);
    assert.deepEqual(router.find('GET', undefined, '/buckets/b1/dir/file.txt', {})?.params, {
      bucket: 'b1',
      '**': 'dir/file.txt',
    });
  });

  test('literal segments in patterns are normalised like request paths', () => {
    const entries = [route('tilde', { path: '/%7eadmin/caf%c3%a9' })];
    assert.equal(winner(entries, '/~admin/caf%C3%A9'), 'tilde');
  });

  for (const [pattern, fragment] of [
    ['/a/**/b', '"**" before its last segment'],
    ['/a/{}', 'invalid parameter'],
    ['/a/{id', 'invalid parameter'],
    ['/a/id}', 'invalid parameter'],
    ['/a/{1x}', 'invalid parameter'],
    ['/a/x{id}', 'invalid parameter'],
    ['/a/{id}/{id}', 'repeats the parameter'],
    ['/a/{__proto__}', 'reserved'],
    ['/a/b*', 'must make up a whole segment'],
    ['/a//b', 'empty segment'],
    ['/a/../b', 'dot segment'],
    ['/a/%2Fb', 'can never carry'],
    ['a/b', 'must start with "/"'],
    ['/a?x=1', 'query'],
  ] as const) {
    test(`rejects the pattern ${pattern} with the route name in the message`, () => {
      assert.throws(
        () => createRouter([route('ok', { path: '/ok' }), route('broken-route', { path: pattern })]),
        (err: unknown) =>
          err instanceof PorticoError &&
          err.code === 'invalid_config' &&
          err.message.includes('route "broken-route"') &&
          err.message.includes(fragment),
      );
    });
  }
});

describe('priority', () => {
  test('a literal segment beats a parameter, which beats **, whatever the declaration order', () => {
    const entries = [
      route('rest', { path: '/users/**' }),
      route('param', { path: '/users/{id}' }),
      route('literal', { path: '/users/me' }),
    ];
    assert.equal(winner(entries, '/users/me'), 'literal');
    assert.equal(winner(entries, '/users/42'), 'param');
    assert.equal(winner(entries, '/users/42/x'), 'rest');
    assert.equal(winner(entries, '/users'), 'rest');
  });

  test('* and {param} rank the same, so declaration order decides between them', () => {
    assert.equal(
      winner([route('star', { path: '/a/*' }), route('param', { path: '/a/{x}' })], '/a/1'),
      'star',
    );
    assert.equal(
      winner([route('param', { path: '/a/{x}' }), route('star', { path: '/a/*' })], '/a/1'),
      'param',
    );
  });

  test('segments are compared left to right: the first difference decides', () => {
    const entries = [
      route('param-first', { path: '/a/{x}/c' }),
      route('literal-first', { path: '/a/b/{y}' }),
    ];
    assert.equal(winner(entries, '/a/b/c'), 'literal-first');
    assert.equal(winner([route('p', { path: '/a/{x}' }), route('l', { path: '/a/b/**' })], '/a/b'), 'l');
  });

  test('a longer literal prefix wins between rest routes', () => {
    const entries = [route('short', { path: '/api/**' }), route('long', { path: '/api/v2/**' })];
    assert.equal(winner(entries, '/api/v2/users'), 'long');
    assert.equal(winner(entries, '/api/v2'), 'long');
    assert.equal(winner(entries, '/api/v1/users'), 'short');
  });

  test('an exact path beats a rest that could also take it', () => {
    assert.equal(winner([route('rest', { path: '/a/**' }), route('exact', { path: '/a' })], '/a'), 'exact');
  });

  test('on the same path: exact host, then wildcard host, then no host', () => {
    const entries = [
      route('any', { path: '/x' }),
      route('wild', { path: '/x', host: '*.example.test' }),
      route('exact', { path: '/x', host: 'api.example.test' }),
    ];
    assert.equal(winner(entries, '/x', { host: 'api.example.test' }), 'exact');
    assert.equal(winner(entries, '/x', { host: 'web.example.test' }), 'wild');
    assert.equal(winner(entries, '/x', { host: 'other.test' }), 'any');
    assert.equal(winner(entries, '/x'), 'any');
  });

  test('on the same path and host: more header conditions win', () => {
    const entries = [
      route('one', { path: '/x', headers: { 'x-a': '1' } }),
      route('two', { path: '/x', headers: { 'x-a': '1', 'x-b': '2' } }),
    ];
    assert.equal(winner(entries, '/x', { headers: { 'x-a': '1', 'x-b': '2' } }), 'two');
    assert.equal(winner(entries, '/x', { headers: { 'x-a': '1' } }), 'one');
  });

  test('the host outranks header conditions', () => {
    const entries = [
      route('headers', { path: '/x', headers: { 'x-a': '1' } }),
      route('host', { path: '/x', host: 'api.test' }),
    ];
    assert.equal(winner(entries, '/x', { host: 'api.test', headers: { 'x-a': '1' } }), 'host');
  });

  test('restricted methods win over all methods on the same path, host and headers', () => {
    const entries = [route('all', { path: '/x' }), route('get', { path: '/x', methods: ['GET'] })];
    assert.equal(winner(entries, '/x'), 'get');
    assert.equal(winner(entries, '/x', { method: 'POST' }), 'all');
  });

  test('declaration order breaks the remaining ties', () => {
    const entries = [
      route('first', { path: '/x', methods: ['GET'] }),
      route('second', { path: '/x', methods: ['GET'] }),
    ];
    assert.equal(winner(entries, '/x'), 'first');
  });

  test('path specificity outranks host, headers and methods', () => {
    const entries = [
      route('loose-path', { path: '/users/**', host: 'api.test', headers: { 'x-a': '1' }, methods: ['GET'] }),
      route('exact-path', { path: '/users/{id}' }),
    ];
    assert.equal(winner(entries, '/users/1', { host: 'api.test', headers: { 'x-a': '1' } }), 'exact-path');
  });
});

describe('backtracking', () => {
  test('falls back to a less specific path when the specific one fails its method check', () => {
    const entries = [
      route('get-user', { path: '/users/{id}', methods: ['GET'] }),
      route('rest', { path: '/users/**' }),
    ];
    assert.equal(winner(entries, '/users/1', { method: 'DELETE' }), 'rest');
  });

  test('falls back from a literal branch to a parameter branch deep in the trie', () => {
    const entries = [
      route('literal', { path: '/a/b/c', host: 'only.test' }),
      route('param', { path: '/a/{x}/c' }),
      route('rest', { path: '/a/**', headers: { 'x-a': '1' } }),
    ];
    const router = createRouter(entries);
    const match = router.find('GET', 'other.test', '/a/b/c', {});
    assert.equal(match?.entry.name, 'param');
    assert.deepEqual(match?.params, { x: 'b' });
    assert.equal(winner(entries, '/a/b/d', { headers: { 'x-a': '1' } }), 'rest');
    assert.equal(winner(entries, '/a/b/d'), undefined);
  });

  test('params from an abandoned branch do not leak into the winner', () => {
    const router = createRouter([
      route('deep', { path: '/{a}/{b}/c', methods: ['POST'] }),
      route('shallow', { path: '/{z}/**' }),
    ]);
    assert.deepEqual(router.find('GET', undefined, '/p/q/c', {})?.params, { z: 'p', '**': 'q/c' });
  });

  test('tries the rest of a shorter path when the longer rest fails its checks', () => {
    const entries = [route('v2', { path: '/api/v2/**', host: 'v2.test' }), route('api', { path: '/api/**' })];
    const router = createRouter(entries);
    const match = router.find('GET', 'v1.test', '/api/v2/users', {});
    assert.equal(match?.entry.name, 'api');
    assert.equal(match?.params['**'], 'v2/users');
  });
});

describe('predicates', () => {
  test('HEAD matches a route that allows GET, but GET does not match a HEAD-only route', () => {
    const entries = [
      route('get', { path: '/g', methods: ['GET'] }),
      route('head', { path: '/h', methods: ['HEAD'] }),
    ];
    assert.equal(winner(entries, '/g', { method: 'HEAD' }), 'get');
    assert.equal(winner(entries, '/h', { method: 'GET' }), undefined);
    assert.equal(winner(entries, '/g', { method: 'POST' }), undefined);
  });

  test('hosts compare case-insensitively and ignore the port and a trailing dot', () => {
    const entries = [route('api', { path: '/', host: 'API.example.test' })];
    assert.equal(winner(entries, '/', { host: 'api.EXAMPLE.test:8080' }), 'api');
    assert.equal(winner(entries, '/', { host: 'api.example.test.' }), 'api');
    assert.equal(winner(entries, '/', { host: 'api.example.testx' }), undefined);
    assert.equal(winner(entries, '/'), undefined);
  });

  test('matches IPv6 literal hosts with a port', () => {
    assert.equal(winner([route('v6', { path: '/', host: '[::1]' })], '/', { host: '[::1]:8080' }), 'v6');
  });

  test('a wildcard host matches any subdomain but not the apex', () => {
    const entries = [route('wild', { path: '/', host: '*.example.test' })];
    assert.equal(winner(entries, '/', { host: 'a.example.test' }), 'wild');
    assert.equal(winner(entries, '/', { host: 'A.B.Example.Test:443' }), 'wild');
    assert.equal(winner(entries, '/', { host: 'example.test' }), undefined);
    assert.equal(winner(entries, '/', { host: '.example.test' }), undefined);
    assert.equal(winner(entries, '/', { host: 'badexample.test' }), undefined);
  });

  test('header names are case-insensitive and values exact', () => {
    const entries = [
      route('canary', { path: '/', headers: { 'X-Canary': 'yes' } }),
      route('main', { path: '/' }),
    ];
    assert.equal(winner(entries, '/', { headers: { 'x-canary': 'yes' } }), 'canary');
    assert.equal(winner(entries, '/', { headers: { 'x-canary': 'Yes' } }), 'main');
    assert.equal(winner(entries, '/', { headers: { 'x-canary': 'yes, no' } }), 'main');
    assert.equal(winner(entries, '/', { headers: { 'x-canary': ['no', 'yes'] } }), 'canary');
    assert.equal(winner(entries, '/'), 'main');
  });
});

describe('scale', () => {
  test('finds the right route among 10,000 with shared prefixes, parameters and hosts', () => {
    const entries: RouteEntry<string>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const kind = i % 4;
      if (kind === 0) entries.push(route(`lit-${i}`, { path: `/svc${i % 97}/items/${i}` }));
      else if (kind === 1) entries.push(route(`param-${i}`, { path: `/svc${i % 97}/r${i}/{id}` }));
      else if (kind === 2)
        entries.push(route(`rest-${i}`, { path: `/svc${i % 97}/r${i}/**`, methods: ['POST'] }));
      else
        entries.push(route(`host-${i}`, { path: `/svc${(i - 3) % 97}/items/${i - 3}`, host: `h${i}.test` }));
    }
    entries.push(route('fallback', { path: '/**' }));
    const router = createRouter(entries);
    assert.equal(router.size, 10_001);
    for (let i = 0; i < 10_000; i++) {
      const kind = i % 4;
      const svc = `svc${i % 97}`;
      if (kind === 0) {
        assert.equal(router.find('GET', 'x.test', `/${svc}/items/${i}`, {})?.entry.name, `lit-${i}`);
        assert.equal(
          router.find('GET', `h${i + 3}.test`, `/${svc}/items/${i}`, {})?.entry.name,
          `host-${i + 3}`,
        );
      } else if (kind === 1) {
        const match = router.find('GET', undefined, `/${svc}/r${i}/v${i}`, {});
        assert.equal(match?.entry.name, `param-${i}`);
        assert.equal(match?.params['id'], `v${i}`);
      } else if (kind === 2) {
        assert.equal(router.find('POST', undefined, `/${svc}/r${i}/a/b`, {})?.entry.name, `rest-${i}`);
        assert.equal(router.find('GET', undefined, `/${svc}/r${i}/a/b`, {})?.entry.name, 'fallback');
      }
    }
    assert.equal(router.find('GET', undefined, '/svc1/items/999999', {})?.entry.name, 'fallback');
  });
});

describe('explain', () => {
  const entries = [
    route('users-get', { path: '/users/{id}', methods: ['GET'] }),
    route('users-admin', { path: '/users/{id}', host: 'admin.test' }),
    route('users-canary', { path: '/users/{id}', headers: { 'x-canary': '1' } }),
    route('users-rest', { path: '/users/**' }),
    route('users-any', { path: '/users/{id}' }),
    route('users-twin', { path: '/users/{id}' }),
    route('orders', { path: '/orders/**' }),
  ];
  const router = createRouter(entries);

  test('names the winner with its params and says why each other route lost', () => {
    const result = router.explain('DELETE', 'api.test', '/users/7', { 'x-canary': '0' });
    assert.equal(result.path, '/users/7');
    assert.deepEqual(result.matched, { name: 'users-any', params: { id: '7' } });
    const byName = new Map(result.routes.map((r) => [r.name, r]));
    assert.deepEqual(
      result.routes.map((r) => r.name),
      entries.map((e) => e.name),
    );
    assert.equal(byName.get('users-get')?.result, 'no-match');
    assert.match(byName.get('users-get')?.reason ?? '', /method DELETE is not one of GET/);
    assert.match(byName.get('users-admin')?.reason ?? '', /host api\.test does not match admin\.test/);
    assert.match(byName.get('users-canary')?.reason ?? '', /header x-canary is "0", expected "1"/);
    assert.equal(byName.get('users-rest')?.result, 'shadowed');
    assert.match(byName.get('users-rest')?.reason ?? '', /"users-any" has a more specific path/);
    assert.equal(byName.get('users-any')?.result, 'matched');
    assert.equal(byName.get('users-twin')?.result, 'shadowed');
    assert.match(byName.get('users-twin')?.reason ?? '', /declared earlier/);
    assert.match(byName.get('orders')?.reason ?? '', /path does not match \/orders\/\*\*/);
  });

  test('explains shadowing by a more specific host, more headers and restricted methods', () => {
    const result = router.explain('GET', 'admin.test', '/users/7', { 'x-canary': '1' });
    assert.equal(result.matched?.name, 'users-admin');
    const reason = (name: string): string | undefined => result.routes.find((r) => r.name === name)?.reason;
    assert.match(reason('users-get') ?? '', /more specific host/);
    assert.match(reason('users-canary') ?? '', /more specific host/);
    const noHost = router.explain('GET', undefined, '/users/7', { 'x-canary': '1' });
    assert.equal(noHost.matched?.name, 'users-canary');
    assert.match(noHost.routes.find((r) => r.name === 'users-get')?.reason ?? '', /more header conditions/);
    assert.match(noHost.routes.find((r) => r.name === 'users-admin')?.reason ?? '', /no Host header/);
    const plain = router.explain('GET', undefined, '/users/7', {});
    assert.match(plain.routes.find((r) => r.name === 'users-any')?.reason ?? '', /restricts its methods/);
    assert.match(
      plain.routes.find((r) => r.name === 'users-canary')?.reason ?? '',
      /header x-canary is missing/,
    );
  });

  test('reports no winner when nothing matches', () => {
    const result = router.explain('GET', undefined, '/nothing', {});
    assert.equal(result.matched, undefined);
    assert.ok(result.routes.every((r) => r.result === 'no-match'));
  });
});

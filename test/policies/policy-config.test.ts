import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issuesOf, minimal } from '../config/helpers.ts';

test('an IP rule that is not an address or CIDR range is refused at its line', () => {
  const issues = issuesOf(
    `${minimal}    ipRules: { allow: [10.0.0.0/8, 10.0.0.0/33, "2001:db8::/129", nope] }\n`,
  );
  assert.deepEqual(
    issues.map((issue) => [issue.path, issue.line]),
    [
      ['routes[0].ipRules.allow[1]', 9],
      ['routes[0].ipRules.allow[2]', 9],
      ['routes[0].ipRules.allow[3]', 9],
    ],
  );
  assert.match(issues[0]?.message ?? '', /prefix length from 0 to 32/);
  assert.match(issues[2]?.message ?? '', /IP address or CIDR range/);
});

test('a transform cannot set, add, rename to or remove a header Portico owns', () => {
  const issues = issuesOf(
    `${minimal}    transform:
      request:
        headers:
          set: { X-Forwarded-For: 1.2.3.4, X-Fine: ok }
          add: { X-Consumer-Id: admin }
          rename: { X-Mine: X-Request-Id }
          remove: [Connection]
      response:
        headers: { set: { Content-Length: "1" } }
`,
  );
  assert.deepEqual(
    issues.map((issue) => issue.path),
    [
      'routes[0].transform.request.headers.set.X-Forwarded-For',
      'routes[0].transform.request.headers.add.X-Consumer-Id',
      'routes[0].transform.request.headers.rename.X-Mine',
      'routes[0].transform.request.headers.remove[0]',
      'routes[0].transform.response.headers.set.Content-Length',
    ],
  );
  assert.match(issues[0]?.message ?? '', /set by Portico/);
});

test('a transform value with an unknown placeholder or a bad regular expression is refused', () => {
  const issues = issuesOf(
    `${minimal}    transform:
      request:
        headers: { set: { X-User: "{user}" } }
        path: { pattern: "([a-z", replacement: "/" }
`,
  );
  assert.deepEqual(
    issues.map((issue) => issue.path),
    ['routes[0].transform.request.headers.set.X-User', 'routes[0].transform.request.path.pattern'],
  );
  assert.match(issues[0]?.message ?? '', /unknown placeholder \{user\}/);
});

test('a mirror names a declared service; a Redis cache needs the Redis store', () => {
  const issues = issuesOf(`${minimal}    mirror: { service: shadow }\n    cache: { store: redis }\n`);
  assert.deepEqual(
    issues.map((issue) => [issue.path, issue.message]),
    [
      ['routes[0].mirror.service', 'unknown service "shadow" (declared: users)'],
      ['routes[0].cache.store', 'cache.store "redis" needs store.kind "redis" (its url is used)'],
    ],
  );
});

test("a version's transform is checked like a route's, at its own path", () => {
  const issues = issuesOf(`services:
  users:
    instances: [{ url: "http://127.0.0.1:1", version: 1.0.0 }]
    versions:
      "1":
        transform:
          request:
            headers: { set: { X-Consumer-Id: admin, X-Fine: "{nope}" } }
            path: { pattern: "([", replacement: x }
`);
  assert.deepEqual(
    issues.map((issue) => issue.path),
    [
      'services.users.versions["1"].transform.request.headers.set.X-Consumer-Id',
      'services.users.versions["1"].transform.request.headers.set.X-Fine',
      'services.users.versions["1"].transform.request.path.pattern',
    ],
  );
});

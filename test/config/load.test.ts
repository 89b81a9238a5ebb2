import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatConfigIssues } from '../../src/config/config-error.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { exampleEnv, issuesOf, minimal } from './helpers.ts';

const fixture = fileURLToPath(new URL('fixtures/portico.example.yaml', import.meta.url));
const sharedExample = fileURLToPath(new URL('../../../shared/portico.example.yaml', import.meta.url));

/** Every feature of the reference configurations is implemented: they load without a single issue. */
async function expectLoads(file: string) {
  const config = await loadConfig(file, exampleEnv);
  assert.ok(config.routes.length > 0);
}

test('the reference configuration loads with no issue', async () => {
  await expectLoads(fixture);
});

test('the shared reference configuration loads with no issue', async (t) => {
  if (!existsSync(sharedExample)) {
    t.skip('../shared/portico.example.yaml is not present');
    return;
  }
  await expectLoads(sharedExample);
});

test('applies defaults to absent keys', () => {
  const config = parseConfig(minimal, 'portico.yaml', {});
  assert.equal(config.listen, '127.0.0.1:8080');
  assert.equal(config.admin.listen, '127.0.0.1:8081');
  assert.equal(config.limits.bodySize, '10mb');
  assert.equal(config.limits.headerCount, 100);
  assert.equal(config.logging.level, 'info');
  assert.equal(config.store.kind, 'embedded');
  assert.equal(config.shutdownTimeout, '30s');
  assert.deepEqual(config.trustedProxies, []);
  const users = config.services.users;
  assert.equal(users?.loadBalancer, 'round-robin');
  assert.equal(users?.instances[0]?.weight, 1);
  assert.equal(config.routes[0]?.websocket, true);
  assert.equal(config.routes[0]?.preserveHost, false);
});

test('defaults are fresh objects for every load', () => {
  const a = parseConfig('{}', 'a.json', {});
  a.trustedProxies.push('10.0.0.0/8');
  const b = parseConfig('{}', 'b.json', {});
  assert.deepEqual(b.trustedProxies, []);
});

test('an empty file is a configuration with every default', () => {
  assert.equal(parseConfig('', 'portico.yaml', {}).listen, '127.0.0.1:8080');
});

test('loads JSON by extension and by content', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-config-'));
  const file = join(dir, 'portico.json');
  await writeFile(file, JSON.stringify({ listen: '127.0.0.1:7000' }));
  assert.equal((await loadConfig(file, {})).listen, '127.0.0.1:7000');
  assert.equal(parseConfig('{"listen": "127.0.0.1:7001"}', 'config.txt', {}).listen, '127.0.0.1:7001');
});

test('a missing file is an issue naming it', async () => {
  await assert.rejects(loadConfig('/nonexistent/portico.yaml', {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues[0]?.file, '/nonexistent/portico.yaml');
    assert.match(err.issues[0]?.message ?? '', /file not found/);
    return true;
  });
});

test('a YAML syntax error is reported with line and column', () => {
  const issues = issuesOf('listen: 127.0.0.1:8080\nroutes: [\n  - a\nb: 1\n');
  assert.ok(issues.length >= 1);
  assert.match(issues[0]?.message ?? '', /^invalid YAML: /);
  assert.equal(issues[0]?.file, 'portico.yaml');
  assert.equal(typeof issues[0]?.line, 'number');
  assert.equal(typeof issues[0]?.column, 'number');
});

test('a duplicate key is a YAML error at the second key', () => {
  const issues = issuesOf('listen: a:1\nlisten: b:2\n');
  assert.match(issues[0]?.message ?? '', /unique/);
  assert.equal(issues[0]?.line, 2);
  assert.equal(issues[0]?.column, 1);
});

test('a JSON syntax error is reported with line and column', () => {
  const issues = issuesOf('{\n  "listen": "127.0.0.1:8080",\n}\n', {}, 'portico.json');
  assert.equal(issues.length, 1);
  assert.match(issues[0]?.message ?? '', /^invalid JSON: /);
  assert.equal(issues[0]?.line, 3);
  assert.equal(issues[0]?.column, 1);
});

test('a top level that is not an object is rejected', () => {
  assert.match(issuesOf('- a\n- b\n')[0]?.message ?? '', /expected an object/);
});

test('an unknown top-level key is reported at the key, with a suggestion', () => {
  const issues = issuesOf(`${minimal}listne: 127.0.0.1:80\n`);
  assert.deepEqual(issues, [
    {
      file: 'portico.yaml',
      line: 9,
      column: 1,
      path: 'listne',
      message: 'unknown key "listne" (did you mean "listen"?)',
    },
  ]);
});

test('an unknown nested key is reported at the key', () => {
  const issues = issuesOf('routes:\n  - name: a\n    service: s\n    match: { path: /a, verb: GET }\n');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.path, 'routes[0].match.verb');
  assert.equal(issues[0]?.message, 'unknown key "verb"');
  assert.equal(issues[0]?.line, 4);
  assert.equal(issues[0]?.column, 24);
});

test('a service name outside the allowed pattern is an invalid key, not silently ignored', () => {
  const issues = issuesOf('services:\n  Users: {}\n');
  assert.equal(issues[0]?.path, 'services.Users');
  assert.match(issues[0]?.message ?? '', /^invalid key "Users": expected a name of lower-case letters/);
});

test('a missing required key names it at the parent', () => {
  const issues = issuesOf('services: { users: {} }\nroutes:\n  - name: a\n    match: { path: /a }\n');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.path, 'routes[0]');
  assert.equal(issues[0]?.message, 'missing required key "service"');
  assert.equal(issues[0]?.line, 3);
});

test('a wrong type says what was expected and what was found', () => {
  const issues = issuesOf('metrics: { enabled: "yes please" }\nlimits: { headerCount: many }\n');
  assert.deepEqual(
    issues.map((i) => [i.path, i.message]),
    [
      ['metrics.enabled', 'expected true or false (got "yes please")'],
      ['limits.headerCount', 'expected an integer from 8 to 1000 (got "many")'],
    ],
  );
});

test('a duration in words is rejected with the accepted form', () => {
  const issues = issuesOf('shutdownTimeout: 5 seconds\n');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.path, 'shutdownTimeout');
  assert.match(
    issues[0]?.message ?? '',
    /^expected a duration: a number followed by ms, s, m, h or d.*\(got "5 seconds"\)$/,
  );
  assert.equal(issues[0]?.line, 1);
  assert.equal(issues[0]?.column, 18);
});

test('a path pattern violation uses the expected form from the schema', () => {
  const issues = issuesOf(
    'services: { s: {} }\nroutes:\n  - { name: a, service: s, match: { path: users } }\n',
  );
  assert.equal(
    formatConfigIssues(issues),
    'portico.yaml:3:43  routes[0].match.path: expected a string starting with "/" (got "users")',
  );
});

test('a union of literals collapses into one message listing the accepted values', () => {
  const issues = issuesOf('services:\n  s:\n    loadBalancer: random\n');
  assert.deepEqual(issues, [
    {
      file: 'portico.yaml',
      line: 3,
      column: 19,
      path: 'services.s.loadBalancer',
      message: 'expected one of "round-robin", "weighted", "least-request", "consistent-hash" (got "random")',
    },
  ]);
});

test('a value meant as the object form of a union gets that form’s errors only', () => {
  const issues = issuesOf('rateLimits:\n  x: { limit: 0, window: 1m, by: global }\n');
  const schemaIssues = issues.filter((i) => !i.message.includes('not supported yet'));
  assert.deepEqual(
    schemaIssues.map((i) => [i.path, i.message]),
    [['rateLimits.x.limit', 'expected an integer of at least 1 (got 0)']],
  );
});

test('an invalid calendar date is rejected', () => {
  const issues = issuesOf('services:\n  s:\n    versions:\n      "1": { sunset: "2027-02-30" }\n');
  assert.ok(
    issues.some((i) => i.path === 'services.s.versions["1"].sunset' && /expected a date/.test(i.message)),
  );
});

test('never reports the same message twice for one node', () => {
  const issues = issuesOf('routes:\n  - { name: a, service: s, match: { path: /a }, rateLimit: 5 }\n  - 7\n');
  const ids = issues.map((i) => `${i.path} ${i.message}`);
  assert.equal(new Set(ids).size, ids.length);
});

test('reports every issue, sorted by position', () => {
  const issues = issuesOf('logging: { level: loud }\nlimits: { bodySize: huge }\nfoo: 1\n');
  assert.deepEqual(
    issues.map((i) => i.line),
    [1, 2, 3],
  );
});

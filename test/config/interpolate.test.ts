import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { redactConfig } from '../../src/admin/redact.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { interpolateValue } from '../../src/config/interpolate.ts';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, minimal } from './helpers.ts';

const value = (text: string, env: Record<string, string> = {}): string =>
  interpolateValue(text, { env }).value;

test('replaces a set variable', () => {
  assert.equal(value('${NAME}', { NAME: 'x' }), 'x');
});

test('uses the default when the variable is unset or empty', () => {
  assert.equal(value('${NAME:-dflt}'), 'dflt');
  assert.equal(value('${NAME:-dflt}', { NAME: '' }), 'dflt');
  assert.equal(value('${NAME:-dflt}', { NAME: 'set' }), 'set');
  assert.equal(value('a${NAME:-}b'), 'ab');
});

test('turns $${ into a literal ${ without looking the name up', () => {
  const result = interpolateValue('$${NAME}', { env: {} });
  assert.equal(result.value, '${NAME}');
  assert.deepEqual(result.problems, []);
});

test('a malformed reference is a problem', () => {
  assert.match(interpolateValue('${not valid}', { env: {} }).problems[0]?.message ?? '', /malformed/);
  assert.match(interpolateValue('${OPEN', { env: {} }).problems[0]?.message ?? '', /malformed/);
});

test('an unset variable in a file is reported with line and column and the name', () => {
  const issues = issuesOf('listen: 127.0.0.1:8080\nadmin:\n  token: ${PORTICO_TOKEN}\n');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.line, 3);
  assert.equal(issues[0]?.column, 10);
  assert.match(issues[0]?.message ?? '', /PORTICO_TOKEN/);
});

test('an unset variable inside a quoted value points at the reference itself', () => {
  const issues = issuesOf('admin:\n  token: "Bearer ${PORTICO_TOKEN}"\n');
  assert.equal(issues[0]?.line, 2);
  assert.equal(issues[0]?.column, 18);
});

test('a default value is used in the loaded configuration', () => {
  const config = parseConfig(`listen: \${LISTEN:-127.0.0.1:9999}\n${minimal}`, 'p.yaml', {});
  assert.equal(config.listen, '127.0.0.1:9999');
  const fromEnv = parseConfig(`listen: \${LISTEN:-127.0.0.1:9999}\n${minimal}`, 'p.yaml', {
    LISTEN: '0.0.0.0:80',
  });
  assert.equal(fromEnv.listen, '0.0.0.0:80');
});

test('an unquoted reference still resolves to a number or boolean, a quoted one stays a string', () => {
  const config = parseConfig('workers: ${WORKERS}\nlogging: { accessLog: ${ACCESS} }\n', 'p.yaml', {
    WORKERS: '2',
    ACCESS: 'false',
  });
  assert.equal(config.workers, 2);
  assert.equal(config.logging.accessLog, false);
  const issues = issuesOf('workers: "${WORKERS}"\n', { WORKERS: '2' });
  assert.equal(issues[0]?.path, 'workers');
});

test('errors after an interpolated value on the same line point at the original column', () => {
  const issues = issuesOf('logging: { level: ${LEVEL}, accessLog: maybe }\n', { LEVEL: 'info' });
  assert.equal(issues[0]?.path, 'logging.accessLog');
  assert.equal(issues[0]?.column, 40);
});

test('a value holding quotes, a newline and YAML syntax is taken literally and adds no key', () => {
  const hostile = 'x"\nadmin: {listen: 0.0.0.0:9}';
  for (const written of ['${TOKEN}', '"${TOKEN}"', "'${TOKEN}'"]) {
    const config = parseConfig(`admin: { listen: 127.0.0.1:8081, token: ${written} }\n`, 'p.yaml', {
      TOKEN: hostile,
    });
    assert.equal(config.admin.token, hostile);
    assert.equal(config.admin.listen, '127.0.0.1:8081');
  }
  const other = parseConfig('admin: { token: ${T} } # a comment\n', 'p.yaml', {
    T: 'abcdefghijkl # not: {a: comment}',
  });
  assert.equal(other.admin.token, 'abcdefghijkl # not: {a: comment}');
});

test('mapping keys are not interpolated', () => {
  const issues = issuesOf('${KEY}: 1\n', { KEY: 'listen' });
  assert.equal(issues[0]?.path, '["${KEY}"]');
});

test('${file:...} and NAME_FILE read secrets from files, dropping one trailing newline; redaction hides them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'admin-token'), 'file-admin-token-0123456789\n');
  writeFileSync(join(dir, 'redis-password'), 'redis-file-secret');
  const file = join(dir, 'portico.yaml');
  const text =
    'admin: { listen: 127.0.0.1:8081, token: "${file:admin-token}" }\n' +
    'store: { kind: redis, url: "redis://:${REDIS_PASSWORD}@127.0.0.1:6379" }\n';
  const config = parseConfig(text, file, { REDIS_PASSWORD_FILE: join(dir, 'redis-password') });
  assert.equal(config.admin.token, 'file-admin-token-0123456789');
  assert.equal(
    config.store.kind === 'redis' ? config.store.url : '',
    'redis://:redis-file-secret@127.0.0.1:6379',
  );
  const shown = JSON.stringify(redactConfig(config));
  assert.ok(!shown.includes('file-admin-token'), 'the admin token leaked');
  assert.ok(!shown.includes('redis-file-secret'), 'a value read through NAME_FILE leaked');
});

test('a secret read from a file never shows in a validation error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'level'), 'a-very-long-secret-value-that-is-not-a-log-level-at-all');
  try {
    parseConfig('logging: { level: "${file:level}" }\n', join(dir, 'p.yaml'), {});
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = `${err.message}\n${JSON.stringify(err.issues)}`;
    assert.ok(!text.includes('a-very-long-secret'), text);
    assert.match(text, /\[redacted\]/);
  }
});

test('a missing secret file, or both NAME and NAME_FILE set, are errors at the reference', () => {
  const missing = issuesOf('admin:\n  token: ${file:/nonexistent/portico-token}\n');
  assert.equal(missing[0]?.line, 2);
  assert.match(missing[0]?.message ?? '', /cannot read secret file \/nonexistent\/portico-token: ENOENT/);
  const both = issuesOf('admin:\n  token: ${T}\n', { T: 'x', T_FILE: '/tmp/t' });
  assert.match(both[0]?.message ?? '', /both T and T_FILE are set/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolateEnv } from '../../src/config/interpolate.ts';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, minimal } from './helpers.ts';

test('replaces a set variable', () => {
  assert.equal(interpolateEnv('a: ${NAME}', { NAME: 'x' }).text, 'a: x');
});

test('uses the default when the variable is unset or empty', () => {
  assert.equal(interpolateEnv('a: ${NAME:-dflt}', {}).text, 'a: dflt');
  assert.equal(interpolateEnv('a: ${NAME:-dflt}', { NAME: '' }).text, 'a: dflt');
  assert.equal(interpolateEnv('a: ${NAME:-dflt}', { NAME: 'set' }).text, 'a: set');
  assert.equal(interpolateEnv('a: ${NAME:-}', {}).text, 'a: ');
});

test('turns $${ into a literal ${ without looking the name up', () => {
  const result = interpolateEnv('a: $${NAME}', {});
  assert.equal(result.text, 'a: ${NAME}');
  assert.deepEqual(result.problems, []);
});

test('an unset variable without default is a problem naming it at its offset', () => {
  const result = interpolateEnv('a: 1\nb: ${MISSING_VAR}', {});
  assert.equal(result.problems.length, 1);
  assert.equal(result.problems[0]?.offset, 8);
  assert.match(result.problems[0]?.message ?? '', /MISSING_VAR is not set/);
});

test('a malformed reference is a problem', () => {
  assert.match(interpolateEnv('a: ${not valid}', {}).problems[0]?.message ?? '', /malformed/);
  assert.match(interpolateEnv('a: ${OPEN', {}).problems[0]?.message ?? '', /malformed/);
});

test('maps offsets after a replacement back to the original text', () => {
  const result = interpolateEnv('a: ${LONG_NAME} b', { LONG_NAME: 'x' });
  assert.equal(result.text, 'a: x b');
  assert.equal(result.toSourceOffset(3), 3);
  assert.equal(result.toSourceOffset(5), 16);
});

test('an unset variable in a file is reported with line and column and the name', () => {
  const issues = issuesOf('listen: 127.0.0.1:8080\nadmin:\n  token: ${PORTICO_TOKEN}\n');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.line, 3);
  assert.equal(issues[0]?.column, 10);
  assert.match(issues[0]?.message ?? '', /PORTICO_TOKEN/);
});

test('a default value is used in the loaded configuration', () => {
  const config = parseConfig(`listen: \${LISTEN:-127.0.0.1:9999}\n${minimal}`, 'p.yaml', {});
  assert.equal(config.listen, '127.0.0.1:9999');
  const fromEnv = parseConfig(`listen: \${LISTEN:-127.0.0.1:9999}\n${minimal}`, 'p.yaml', {
    LISTEN: '0.0.0.0:80',
  });
  assert.equal(fromEnv.listen, '0.0.0.0:80');
});

test('errors after an interpolated value on the same line point at the original column', () => {
  const issues = issuesOf('logging: { level: ${LEVEL}, accessLog: maybe }\n', { LEVEL: 'info' });
  assert.equal(issues[0]?.path, 'logging.accessLog');
  assert.equal(issues[0]?.column, 40);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { runContract } from '../../src/cli/commands/contract.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const file = (name: string): string => join(fixtures, name);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runContract(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    now: () => Date.parse('2026-03-01T00:00:00Z'),
  });
  return { code, out, err };
}

test('a compatible new version exits 0 and lists no breaking change', async () => {
  const { code, out } = await run(['diff', file('users-1.0.yaml'), file('users-1.1-compatible.yaml')]);
  assert.equal(code, 0, out);
  assert.match(out, /^0 breaking, 0 warning\(s\)/m);
});

test('a breaking new version exits 1 and names every break in text', async () => {
  const { code, out } = await run(['diff', file('users-1.0.yaml'), file('users-1.1-breaking.yaml')]);
  assert.equal(code, 1);
  assert.match(
    out,
    /BREAKING request-property-added-required {2}POST \/users request\.body\.application\/json\.email/,
  );
  assert.match(
    out,
    /BREAKING response-property-made-optional {2}GET \/users\/\{id\} response\.200\.application\/json\.name/,
  );
  assert.match(out, /^2 breaking/m);
});

test('--json prints the changes with rule, severity, operation and location', async () => {
  const { code, out } = await run([
    'diff',
    file('users-1.0.yaml'),
    file('users-1.1-breaking.yaml'),
    '--json',
  ]);
  assert.equal(code, 1);
  const result = JSON.parse(out) as {
    breaking: number;
    changes: { rule: string; severity: string; operation: string }[];
  };
  assert.equal(result.breaking, 2);
  assert.ok(
    result.changes.some((c) => c.rule === 'request-property-added-required' && c.operation === 'POST /users'),
  );
});

test('an ignore file accepts a break and lowers a rule severity', async () => {
  const { code, out } = await run([
    'diff',
    file('users-1.0.yaml'),
    file('users-1.1-breaking.yaml'),
    '--ignore',
    file('accept-breaks.yaml'),
  ]);
  assert.equal(code, 0, out);
  assert.match(out, /\(ignored\)/);
  assert.match(out, /warning {2}response-property-made-optional/);
});

test('a document that is neither OpenAPI 3 nor Swagger 2.0 exits 2 with the place that is wrong', async () => {
  const { code, err } = await run(['diff', file('users-1.0.yaml'), file('openapi-2.yaml')]);
  assert.equal(code, 2);
  assert.match(err, /openapi: .*only OpenAPI 3\.0\.x and 3\.1\.x/);
});

test('Swagger 2.0 documents are converted and compared like OpenAPI 3 ones', async () => {
  const same = await run(['diff', file('users-1.0-swagger.yaml'), file('users-1.0.yaml')]);
  assert.equal(same.code, 0, same.out + same.err);
  assert.match(same.out, /^0 breaking, 0 warning\(s\)/m);
  const { code, out } = await run([
    'diff',
    file('users-1.0-swagger.yaml'),
    file('users-1.1-swagger-breaking.yaml'),
  ]);
  assert.equal(code, 1, out);
  assert.match(
    out,
    /BREAKING request-property-added-required {2}POST \/users request\.body\.application\/json\.email/,
  );
  assert.match(
    out,
    /BREAKING response-property-made-optional {2}GET \/users\/\{id\} response\.200\.application\/json\.name/,
  );
});

test('the portico binary runs contract diff and exits 1 when breaking', () => {
  const main = join(import.meta.dirname, '../../src/cli/main.ts');
  const result = spawnSync(
    process.execPath,
    [main, 'contract', 'diff', file('users-1.0.yaml'), file('users-1.1-breaking.yaml')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /BREAKING/);
});

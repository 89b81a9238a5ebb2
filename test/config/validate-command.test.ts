import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runValidate } from '../../src/cli/commands/validate.ts';
import { minimal } from './helpers.ts';

function capture(env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    env,
  };
  return { out, io };
}

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-validate-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

test('prints FILE: ok and exits 0 for a valid file', async () => {
  const file = await tempFile('portico.yaml', minimal);
  const { out, io } = capture();
  assert.equal(await runValidate(['-c', file], io), 0);
  assert.equal(out.stdout, `${file}: ok\n`);
  assert.equal(out.stderr, '');
});

test('prints every issue with file:line:column and path, and exits 1', async () => {
  const file = await tempFile('bad.yaml', `${minimal}logging:\n  level: loud\nextra: 1\n`);
  const { out, io } = capture();
  assert.equal(await runValidate(['--config', file], io), 1);
  assert.equal(out.stdout, '');
  const lines = out.stderr.trimEnd().split('\n');
  assert.equal(
    lines[0],
    `${file}:10:10  logging.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent" (got "loud")`,
  );
  assert.equal(lines[1], `${file}:11:1  extra: unknown key "extra"`);
  assert.equal(lines[2], `${file}: 2 problems`);
});

test('names an unset environment variable', async () => {
  const file = await tempFile('env.yaml', 'admin:\n  token: ${ADMIN_TOKEN_FOR_TEST}\n');
  const { out, io } = capture();
  assert.equal(await runValidate(['-c', file], io), 1);
  assert.match(out.stderr, /env\.yaml:2:10 {2}environment variable ADMIN_TOKEN_FOR_TEST is not set/);
});

test('reads portico.yaml by default and reports it missing', async () => {
  const { out, io } = capture();
  const cwd = process.cwd();
  process.chdir(await mkdtemp(join(tmpdir(), 'portico-validate-')));
  try {
    assert.equal(await runValidate([], io), 1);
  } finally {
    process.chdir(cwd);
  }
  assert.match(out.stderr, /^portico\.yaml {2}cannot read the configuration: file not found/);
});

test('--help prints usage and exits 0', async () => {
  const { out, io } = capture();
  assert.equal(await runValidate(['--help'], io), 0);
  assert.match(out.stdout, /Usage: portico validate \[-c FILE\]/);
});

test('an unknown option prints usage and exits 1', async () => {
  const { out, io } = capture();
  assert.equal(await runValidate(['--nope'], io), 1);
  assert.match(out.stderr, /Unknown option '--nope'/);
  assert.match(out.stderr, /Usage:/);
});

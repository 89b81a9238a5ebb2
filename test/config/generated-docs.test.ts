import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../../scripts/generate-config-docs.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { patternPhrases } from '../../src/config/schema-issues.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the generated docs and JSON schema are up to date (run npm run docs)', async () => {
  for (const [path, text] of await generatedFiles()) {
    assert.equal(await readFile(`${root}${path}`, 'utf8'), text, `${path} is stale`);
  }
});

test('every string pattern of the schema has a phrase saying what it expects', () => {
  const missing: string[] = [];
  const visit = (node: unknown, key?: string) => {
    if (node === null || typeof node !== 'object') return;
    if (key === 'patternProperties') {
      for (const [pattern, value] of Object.entries(node)) {
        if (pattern !== '^(.*)$' && patternPhrases[pattern] === undefined) missing.push(pattern);
        visit(value);
      }
      return;
    }
    const pattern = (node as { pattern?: unknown }).pattern;
    if (typeof pattern === 'string' && patternPhrases[pattern] === undefined) missing.push(pattern);
    for (const [k, v] of Object.entries(node)) visit(v, k);
  };
  visit(ConfigSchema);
  assert.deepEqual(missing, []);
});

test('the editor JSON schema has no required key that has a default', async () => {
  const schema = JSON.parse(await readFile(`${root}docs/portico.schema.json`, 'utf8')) as {
    required?: string[];
  };
  assert.equal(schema.required, undefined);
});

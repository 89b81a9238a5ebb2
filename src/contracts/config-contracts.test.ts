import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConfigError } from '../config/config-error.ts';
import { loadConfig } from '../config/load.ts';
import { configContracts, loadConfigContracts } from './config-contracts.ts';

const contract = (info = '') => `openapi: 3.1.0
info: { title: users, version: 1.0.0${info} }
paths:
  /users/{id}:
    get:
      parameters: [{ name: id, in: path, required: true, schema: { $ref: "./schemas.yaml#/Id" } }]
      responses: { "200": { description: ok } }
`;

async function folder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-config-contracts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'contracts'));
  await writeFile(join(dir, 'contracts', 'schemas.yaml'), 'Id: { type: integer }\n');
  return dir;
}

const config = (versions: string) =>
  `services:\n  users:\n    versions:\n      ${versions}\nroutes:\n  - { name: u, match: { path: /users/** }, service: users, validate: request }\n`;

test('loads a contract file relative to the config file, with the files it references', async (t) => {
  const dir = await folder(t);
  await writeFile(join(dir, 'contracts', 'users-1.yaml'), contract());
  await writeFile(join(dir, 'portico.yaml'), config('"1": { contract: contracts/users-1.yaml }'));
  const loaded = await loadConfig(join(dir, 'portico.yaml'), {});
  const entry = configContracts(loaded).get('users')?.get(1);
  assert.equal(entry?.file, join(dir, 'contracts', 'users-1.yaml'));
  const violations = entry?.validator.validate({
    method: 'GET',
    path: '/users/x',
    query: '',
    headers: {},
    body: undefined,
  });
  assert.deepEqual(violations, [{ in: 'path', path: '/id', message: 'must be integer' }]);
});

test('a missing or broken contract file fails the load at its config path', async (t) => {
  const dir = await folder(t);
  await writeFile(join(dir, 'broken.yaml'), 'openapi: 2.0\ninfo: {}\n');
  await writeFile(
    join(dir, 'portico.yaml'),
    config('"1": { contract: nowhere.yaml }\n      "2": { contract: broken.yaml }'),
  );
  await assert.rejects(loadConfig(join(dir, 'portico.yaml'), {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.issues.map((issue) => issue.path),
      ['services.users.versions["1"].contract', 'services.users.versions["2"].contract'],
    );
    assert.match(err.issues[0]?.message ?? '', /^nowhere\.yaml: cannot read/);
    assert.match(err.issues[1]?.message ?? '', /only OpenAPI 3\.0\.x and 3\.1\.x/);
    return true;
  });
});

test("a contract's x-sunset before the config's deprecation date is a config error", async (t) => {
  const dir = await folder(t);
  await writeFile(join(dir, 'contracts', 'users-1.yaml'), contract(', x-sunset: "2026-01-01"'));
  const text = config('"1": { deprecated: "2026-06-01", contract: contracts/users-1.yaml }');
  await writeFile(join(dir, 'portico.yaml'), text);
  await assert.rejects(
    loadConfig(join(dir, 'portico.yaml'), {}),
    /sunset 2026-01-01 is earlier than deprecated/,
  );
});

test('a config without contract files loads none', async () => {
  const loaded = { services: {}, routes: [] } as unknown as Parameters<typeof loadConfigContracts>[0];
  await loadConfigContracts(loaded, '/nowhere/portico.yaml');
  assert.equal(configContracts(loaded).size, 0);
});

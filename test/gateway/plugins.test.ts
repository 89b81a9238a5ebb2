import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.ts';
import { loadConfig } from '../../src/config/load.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPacedLoad } from '../helpers/paced-load.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const fixtures = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const tagPlugin = join(fixtures, 'tag.ts');
const edgePlugin = join(fixtures, 'edge-mark.ts');

async function tempConfig(t: { after(fn: () => Promise<void>): void }, yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-plugins-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'portico.yaml');
  await writeFile(file, yaml);
  return file;
}

async function issuesOf(file: string): Promise<ConfigError['issues']> {
  const err = await loadConfig(file, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  return err.issues;
}

test('plugin options are checked against the plugin schema, with the file, line and document path', async (t) => {
  const file = await tempConfig(
    t,
    `services:
  a: { instances: [{ url: "http://127.0.0.1:1" }] }
plugins:
  - module: ${tagPlugin}
routes:
  - name: r
    match: { path: /r }
    service: a
    plugins:
      tag:
        value: 42
`,
  );
  const issues = await issuesOf(file);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.file, file);
  assert.equal(issues[0]?.path, 'routes[0].plugins.tag.value');
  assert.equal(issues[0]?.line, 11);
  assert.match(issues[0]?.message ?? '', /string/);
});

test('defaults of plugin options are filled in when the config loads', async (t) => {
  const file = await tempConfig(
    t,
    `services:
  a: { instances: [{ url: "http://127.0.0.1:1" }] }
plugins: [{ module: ${tagPlugin} }]
routes:
  - { name: r, match: { path: /r }, service: a, plugins: { tag: { value: v } } }
`,
  );
  const config = await loadConfig(file, {});
  assert.deepEqual(config.routes[0]?.plugins, { tag: { value: 'v', header: 'x-tag' } });
});

test('an unknown plugin, a module without a definition and a missing module are refused by name', async (t) => {
  const file = await tempConfig(
    t,
    `services:
  a: { instances: [{ url: "http://127.0.0.1:1" }] }
plugins:
  - module: ${join(fixtures, 'not-a-plugin.ts')}
  - module: ./nowhere/missing.ts
routes:
  - { name: r, match: { path: /r }, service: a, plugins: { ghost: {} } }
`,
  );
  const issues = await issuesOf(file);
  const byPath = new Map(issues.map((issue) => [issue.path, issue.message]));
  assert.match(byPath.get('plugins[0].module') ?? '', /does not export a plugin definition/);
  assert.match(
    byPath.get('plugins[1].module') ?? '',
    /cannot load the plugin module "\.\/nowhere\/missing\.ts"/,
  );
  assert.match(byPath.get('routes[0].plugins.ghost') ?? '', /no plugin named "ghost" is loaded/);
});

test('plugins run in their phase; a crash answers 500 plugin_failed and is logged, a refusal passes', async (t) => {
  const upstream = await startUpstream('plugged');
  t.after(() => upstream.close());
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: app, apiKeys: ["sha256:${'0'.repeat(64)}"] }
plugins:
  - module: ${tagPlugin}
  - module: ${edgePlugin}
services:
  a: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: open, match: { path: /open }, service: a, plugins: { tag: { value: hello }, edge-mark: {} } }
  - { name: locked, match: { path: /locked }, service: a, auth: [apiKey], plugins: { tag: { value: x }, edge-mark: {} } }
`,
  );
  t.after(() => portico.stop('SIGKILL'));

  const ok = await fetch(`${portico.url}/open`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-tag'), 'hello');
  assert.equal(ok.headers.get('x-edge-mark'), 'seen');

  // The edge plugin runs before authentication; the transform plugin after it, so not on a 401.
  const locked = await fetch(`${portico.url}/locked`);
  assert.equal(locked.status, 401);
  assert.equal(locked.headers.get('x-edge-mark'), 'seen');
  assert.equal(locked.headers.get('x-tag'), null);

  const crashed = await fetch(`${portico.url}/open`, { headers: { 'x-fail': 'crash' } });
  assert.equal(crashed.status, 500);
  const problem = (await crashed.json()) as { code: string };
  assert.equal(problem.code, 'plugin_failed');
  assert.doesNotMatch(JSON.stringify(problem), /crashed on purpose/, 'the cause stays in the log');
  await eventually(() => {
    const line = portico
      .output()
      .split('\n')
      .find((l) => l.includes('"plugin failed"'));
    assert.ok(line, 'a log line for the failure');
    assert.match(line, /"plugin":"tag"/);
    assert.match(line, /crashed on purpose/);
  });

  const refused = await fetch(`${portico.url}/open`, { headers: { 'x-fail': 'refuse' } });
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as { code: string }).code, 'forbidden');

  // The node is still serving after both.
  assert.equal((await fetch(`${portico.url}/open`)).status, 200);
  assert.equal(upstream.requests.length, 2);
});

test('a reload adds, changes and removes a plugin under load with no failed request', async (t) => {
  const upstream = await startUpstream('reloaded');
  t.after(() => upstream.close());
  const dir = await mkdtemp(join(tmpdir(), 'portico-plugin-code-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A plugin file of the test's own, so it can change between reloads.
  const pluginFile = join(dir, 'stamp.ts');
  const writePlugin = (stamp: string): Promise<void> =>
    writeFile(
      pluginFile,
      `import { definePlugin } from ${JSON.stringify(join(resolve(import.meta.dirname, '..', '..'), 'src/index.ts'))};
export default definePlugin({
  name: 'stamp',
  phase: 'transform',
  create: () => (ctx, next) => { ctx.res.setHeader('x-stamp', ${JSON.stringify(stamp)}); return next(ctx); },
});
`,
    );
  await writePlugin('one');
  const configFor = (ports: { port: number; adminPort: number }, withPlugin: boolean) => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: info, accessLog: false }
${withPlugin ? `plugins: [{ module: ${pluginFile} }]` : ''}
services:
  a: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: r, match: { path: /r }, service: a${withPlugin ? ', plugins: { stamp: {} }' : ''} }
`;
  const portico = await startPortico((ports) => configFor(ports, false));
  t.after(() => portico.stop('SIGKILL'));
  const ports = { port: portico.port, adminPort: portico.adminPort };
  const stampNow = async (): Promise<string | null> =>
    (await fetch(`${portico.url}/r`)).headers.get('x-stamp');
  const reload = async (): Promise<void> => {
    const res = await fetch(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
  };

  const load = startPacedLoad(`${portico.url}/r`, 100, 5_000);
  try {
    assert.equal(await stampNow(), null);
    await portico.writeConfig(configFor(ports, true));
    await reload();
    assert.equal(await stampNow(), 'one');
    await writePlugin('two');
    await reload();
    assert.equal(await stampNow(), 'two', 'a changed plugin file is imported again');
    await portico.writeConfig(configFor(ports, false));
    await reload();
    assert.equal(await stampNow(), null);
  } finally {
    const outcomes = await load.stop(5_000);
    const failed = outcomes.filter((o) => o.status !== 200);
    assert.ok(outcomes.length > 0);
    assert.deepEqual(
      failed.map((o) => o.error ?? o.status),
      [],
      `${failed.length} of ${outcomes.length} requests failed`,
    );
  }
});

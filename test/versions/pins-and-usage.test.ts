import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { keyHash } from '../security/helpers.ts';

const execFileAsync = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** Runs the real CLI with Node 24 and answers its stdout. */
async function portico(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [cli, ...args]);
  return stdout;
}

const keys = { first: 'first-app-key', second: 'second-app-key' };

test('pinned consumers across two nodes on Redis, moved by the operator; usage summed over both nodes', async (t) => {
  const [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  t.after(() => Promise.all([v1.close(), v2.close()]));
  const prefix = `portico-test:${randomUUID()}:`;
  t.after(() => deleteRedisKeys(sharedRedisUrl, prefix));

  const configFor = (
    ports: { port: number; adminPort: number },
    defaultMajor: string,
    deprecateV1 = false,
  ) => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: info, accessLog: false }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}" }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: first-app, apiKeys: ["${keyHash(keys.first)}"] }
  - { id: second-app, apiKeys: ["${keyHash(keys.second)}"] }
services:
  users:
    instances:
      - { url: "${v1.url}", version: 1.4.0 }
      - { url: "${v2.url}", version: 2.1.0 }
${deprecateV1 ? '    versions: { "1": { deprecated: "2026-01-01" } }' : ''}
routes:
  - name: users
    match: { path: /users/** }
    service: users
    auth: [apiKey]
    version: { from: [header], default: "${defaultMajor}", pin: true }
`;
  const nodeA = await startPortico((ports) => configFor(ports, '1'));
  t.after(() => nodeA.stop('SIGKILL'));
  const call = async (node: PorticoProcess, key: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${node.url}/users/1`, { headers: { 'x-api-key': key, ...headers } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    return res.headers.get('portico-version');
  };

  // The first call is served by the default (v1) and pins the consumer; later calls show the pin.
  assert.equal(await call(nodeA, keys.first), '1.4.0');
  await eventually(async () => assert.equal(await call(nodeA, keys.first), '1.4.0; pinned=1'));

  // The default moves on to v2: the pinned consumer stays on v1, a new consumer is pinned to v2.
  await nodeA.writeConfig(configFor({ port: nodeA.port, adminPort: nodeA.adminPort }, '2'));
  const reload = await fetch(`${nodeA.adminUrl}/v1/config/reload`, { method: 'POST' });
  assert.equal(reload.status, 200);
  assert.equal(await call(nodeA, keys.first), '1.4.0; pinned=1');
  assert.equal(await call(nodeA, keys.second), '2.1.0');
  // An explicit version still wins, and leaves the pin as it was.
  assert.equal(await call(nodeA, keys.first, { 'accept-version': '2' }), '2.1.0');
  assert.equal(await call(nodeA, keys.first), '1.4.0; pinned=1');

  // A second node on the same Redis (its default is v2) follows the pins written by the first.
  const nodeB = await startPortico((ports) => configFor(ports, '2'));
  t.after(() => nodeB.stop('SIGKILL'));
  assert.equal(await call(nodeB, keys.first), '1.4.0; pinned=1');
  await eventually(async () => assert.equal(await call(nodeB, keys.second), '2.1.0; pinned=2'));

  const pins = (await (await fetch(`${nodeB.adminUrl}/v1/services/users/pins`)).json()) as {
    byVersion: Record<string, number>;
    pins: { consumer: string; version: string }[];
  };
  assert.deepEqual(pins.byVersion, { '1': 1, '2': 1 });
  assert.deepEqual(
    pins.pins.map((pin) => `${pin.consumer}=${pin.version}`),
    ['first-app=1', 'second-app=2'],
  );

  // Usage of v1 counted on both nodes and summed: first-app was served v1 four times by A and twice by B.
  await call(nodeB, keys.first);
  await eventually(async () => {
    const usage = (await (await fetch(`${nodeA.adminUrl}/v1/services/users/versions/1/usage`)).json()) as {
      scope: string;
      requests: number;
      pinnedConsumers: number;
      consumers: { consumer: string; requests: number }[];
    };
    assert.equal(usage.scope, 'cluster');
    assert.equal(usage.pinnedConsumers, 1);
    assert.deepEqual(
      usage.consumers.map(({ consumer, requests }) => ({ consumer, requests })),
      [{ consumer: 'first-app', requests: 6 }],
    );
  }, 10_000);

  // `portico usage` reads the same figures; the operator moves first-app to v2 with `portico pins` through
  // node A: A follows at once, B within its pin TTL.
  const usageOut = await portico('usage', '--service', 'users', '--version', '1', '--admin', nodeA.adminUrl);
  assert.match(usageOut, /6 requests in 30 days, 1 consumers pinned \(all nodes\)/);
  assert.match(usageOut, /first-app\s+6\s+last seen/);
  const moved = await portico(
    'pins',
    '--service',
    'users',
    '--move',
    'first-app',
    '--to',
    '2',
    '--admin',
    nodeA.adminUrl,
  );
  assert.match(moved, /first-app is pinned to users 2/);
  assert.equal(await call(nodeA, keys.first), '2.1.0; pinned=2');
  await eventually(async () => assert.equal(await call(nodeB, keys.first), '2.1.0; pinned=2'), 15_000);

  // A restarted node reads the moved pin from the store; deprecating v1 reports the consumers still on it.
  await nodeB.stop('SIGTERM');
  await fetch(`${nodeA.adminUrl}/v1/services/users/pins/second-app`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '1' }),
  });
  const nodeC = await startPortico((ports) => configFor(ports, '2', true));
  t.after(() => nodeC.stop('SIGKILL'));
  assert.equal(await call(nodeC, keys.first), '2.1.0; pinned=2');
  assert.equal(await call(nodeC, keys.second), '1.4.0; pinned=1');
  await eventually(() =>
    assert.match(nodeC.output(), /"pinnedConsumers":1.*"deprecated version still has pinned consumers"/),
  );

  // A bad move is refused with a problem, and unpinning lets the next call pin again.
  const bad = await fetch(`${nodeC.adminUrl}/v1/services/users/pins/first-app`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: 'latest' }),
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'bad_request');
  const unpinned = await fetch(`${nodeC.adminUrl}/v1/services/users/pins/second-app`, { method: 'DELETE' });
  assert.equal(unpinned.status, 204);
  assert.equal(await call(nodeC, keys.second), '2.1.0');
  assert.equal(await call(nodeC, keys.second), '2.1.0; pinned=2');
});

test('without pin: true a consumer follows the default, and usage is still counted per node', async (t) => {
  const [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  t.after(() => Promise.all([v1.close(), v2.close()]));
  const configFor = (ports: { port: number; adminPort: number }, defaultMajor: string) => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: first-app, apiKeys: ["${keyHash(keys.first)}"] }
services:
  users:
    instances:
      - { url: "${v1.url}", version: 1.4.0 }
      - { url: "${v2.url}", version: 2.1.0 }
routes:
  - { name: users, match: { path: /users/** }, service: users, auth: [apiKey], version: { from: [header], default: "${defaultMajor}" } }
`;
  const node = await startPortico((ports) => configFor(ports, '1'));
  t.after(() => node.stop('SIGKILL'));
  const version = async () =>
    (await fetch(`${node.url}/users/1`, { headers: { 'x-api-key': keys.first } })).headers.get(
      'portico-version',
    );
  assert.equal(await version(), '1.4.0');
  assert.equal(await version(), '1.4.0');
  await node.writeConfig(configFor({ port: node.port, adminPort: node.adminPort }, '2'));
  assert.equal((await fetch(`${node.adminUrl}/v1/config/reload`, { method: 'POST' })).status, 200);
  assert.equal(await version(), '2.1.0');
  const usage = (await (
    await fetch(`${node.adminUrl}/v1/services/users/versions/1/usage?days=1`)
  ).json()) as {
    requests: number;
  };
  assert.equal(usage.requests, 2);
  const pins = (await (await fetch(`${node.adminUrl}/v1/services/users/pins`)).json()) as { pins: unknown[] };
  assert.deepEqual(pins.pins, []);
});

test('a consumer pinned to a major no instance serves any more gets 404 version_not_found naming its pin, not another major', async (t) => {
  const [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  t.after(() => Promise.all([v1.close(), v2.close()]));
  const configFor = (ports: { port: number; adminPort: number }, withV1: boolean) => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: first-app, apiKeys: ["${keyHash(keys.first)}"] }
services:
  users:
    instances:
${withV1 ? `      - { url: "${v1.url}", version: 1.4.0 }\n` : ''}      - { url: "${v2.url}", version: 2.1.0 }
routes:
  - { name: users, match: { path: /users/** }, service: users, auth: [apiKey], version: { from: [header], default: "${withV1 ? '1' : '2'}", pin: true } }
`;
  const node = await startPortico((ports) => configFor(ports, true));
  t.after(() => node.stop('SIGKILL'));
  const call = (headers: Record<string, string> = {}) =>
    fetch(`${node.url}/users/1`, { headers: { 'x-api-key': keys.first, ...headers } });
  assert.equal((await call()).headers.get('portico-version'), '1.4.0');
  await eventually(async () =>
    assert.equal((await call()).headers.get('portico-version'), '1.4.0; pinned=1'),
  );

  // v1 is gone and the default is now v2: the pinned consumer is refused, never moved to v2 silently.
  await node.writeConfig(configFor({ port: node.port, adminPort: node.adminPort }, false));
  assert.equal((await fetch(`${node.adminUrl}/v1/config/reload`, { method: 'POST' })).status, 200);
  const refused = await call();
  assert.equal(refused.status, 404);
  assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
  const problem = (await refused.json()) as { code: string; pinned: string; versions: string[] };
  assert.equal(problem.code, 'version_not_found');
  assert.equal(problem.pinned, '1');
  assert.deepEqual(problem.versions, ['2.1.0']);
  assert.equal(v2.requests.length, 0, 'nothing reached v2');

  // An explicit version still wins for that request.
  const explicit = await call({ 'accept-version': '2' });
  await explicit.arrayBuffer();
  assert.equal(explicit.headers.get('portico-version'), '2.1.0');
});

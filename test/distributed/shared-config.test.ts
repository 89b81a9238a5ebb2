import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../helpers/eventually.ts';
import { startPorticoFromStore, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const run = promisify(execFile);
const main = resolve(import.meta.dirname, '..', '..', 'src/cli/main.ts');
const prefix = `portico-test:${randomUUID()}:`;
const token = 'shared-config-admin-token';
const authorization = { authorization: `Bearer ${token}` };
let dir: string;
let blue: TestUpstream;
let green: TestUpstream;
let nodes: PorticoProcess[] = [];

/** One shared document; each node fills in its own ports, and `${extra}` lets a revision need more. */
function document(upstream: TestUpstream, extra = ''): string {
  return `
listen: 127.0.0.1:\${GW_PORT}
admin: { listen: "127.0.0.1:\${ADMIN_PORT}", token: "\${ADMIN_TOKEN}" }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}", nodeHeartbeat: 200ms }
services:
  colour:
    instances: [{ url: "${upstream.url}" }]
routes:
  - name: colour
    match: { path: /colour }
    service: colour
${extra}`;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { ...process.env, ADMIN_TOKEN: token, GW_PORT: '1', ADMIN_PORT: '2' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function colourOf(node: PorticoProcess): Promise<string> {
  const res = await fetch(`${node.url}/colour`);
  return ((await res.json()) as { upstream: string }).upstream;
}

async function status(node: PorticoProcess) {
  const res = await fetch(`${node.adminUrl}/v1/config/status`, { headers: authorization });
  assert.equal(res.status, 200);
  return (await res.json()) as {
    latest: number;
    nodes: {
      id: string;
      state: string;
      source: string;
      revision: number;
      failed?: { revision: number; errors: string[] };
    }[];
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-shared-'));
  [blue, green] = await Promise.all([startUpstream('blue'), startUpstream('green')]);
  // The first revision goes straight to the store: no node runs yet to take it.
  await writeFile(join(dir, 'blue.yaml'), document(blue));
  const first = await cli([
    'config',
    'apply',
    '-f',
    join(dir, 'blue.yaml'),
    '--store',
    sharedRedisUrl,
    '--store-prefix',
    prefix,
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /stored revision 1/);
  // node-3 lacks GREEN_SECRET, which one later revision needs.
  const env = { ADMIN_TOKEN: token, GREEN_SECRET: 's3cret' };
  nodes = await Promise.all([
    startPorticoFromStore({ store: sharedRedisUrl, prefix, nodeId: 'node-1', env }),
    startPorticoFromStore({ store: sharedRedisUrl, prefix, nodeId: 'node-2', env }),
    startPorticoFromStore({ store: sharedRedisUrl, prefix, nodeId: 'node-3', env: { ADMIN_TOKEN: token } }),
  ]);
});

after(async () => {
  await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
  await Promise.all([blue?.close(), green?.close()]);
  await deleteRedisKeys(sharedRedisUrl, prefix);
  await rm(dir, { recursive: true, force: true });
});

test('three nodes started with --config-from-store run the stored revision, with no file', async () => {
  for (const node of nodes) assert.equal(await colourOf(node), 'blue');
  const { latest, nodes: states } = await status(nodes[0] as PorticoProcess);
  assert.equal(latest, 1);
  await eventually(async () => {
    const listed = (await status(nodes[0] as PorticoProcess)).nodes;
    assert.deepEqual(
      listed.map((n) => [n.id, n.state, n.source, n.revision]),
      [
        ['node-1', 'up', 'store', 1],
        ['node-2', 'up', 'store', 1],
        ['node-3', 'up', 'store', 1],
      ],
    );
  });
  assert.ok(states.length >= 1);
});

test('config apply through one node reaches all three within a second', async (t) => {
  await writeFile(join(dir, 'green.yaml'), document(green));
  const started = performance.now();
  const applied = await cli([
    'config',
    'apply',
    '-f',
    join(dir, 'green.yaml'),
    '--admin',
    (nodes[0] as PorticoProcess).adminUrl,
    '--token',
    token,
    '--wait',
    '--json',
  ]);
  assert.equal(applied.code, 0, applied.stderr);
  const answer = JSON.parse(applied.stdout) as { revision: number; waitedMs: number };
  assert.equal(answer.revision, 2);
  // Every node serves the new revision (each swapped its table in one step).
  await eventually(async () => {
    for (const node of nodes) assert.equal(await colourOf(node), 'green');
  });
  const allMs = performance.now() - started;
  t.diagnostic(
    `stored to all three nodes running revision 2: ${answer.waitedMs} ms (CLI run included: ${Math.round(allMs)} ms)`,
  );
  assert.ok(answer.waitedMs < 1000, `took ${answer.waitedMs} ms`);
});

test('a node that cannot apply a revision keeps its own and reports why', async () => {
  await writeFile(
    join(dir, 'secret.yaml'),
    document(
      green,
      `    transform: { request: { headers: { set: { x-green-secret: "\${GREEN_SECRET}" } } } }\n`,
    ),
  );
  const res = await fetch(`${(nodes[0] as PorticoProcess).adminUrl}/v1/config`, {
    method: 'POST',
    headers: { ...authorization, 'content-type': 'application/yaml' },
    body: document(
      green,
      `    transform: { request: { headers: { set: { x-green-secret: "\${GREEN_SECRET}" } } } }\n`,
    ),
  });
  assert.equal(res.status, 201, await res.clone().text());
  assert.equal(((await res.json()) as { revision: number }).revision, 3);
  await eventually(async () => {
    const { nodes: states } = await status(nodes[1] as PorticoProcess);
    assert.deepEqual(
      states.map((n) => [n.id, n.revision, n.failed?.revision]),
      [
        ['node-1', 3, undefined],
        ['node-2', 3, undefined],
        ['node-3', 2, 3],
      ],
    );
    const failed = states.find((n) => n.id === 'node-3')?.failed;
    assert.match(failed?.errors.join('\n') ?? '', /store revision 3.*GREEN_SECRET is not set/);
  });
  // node-3 still serves revision 2; the others send the header of revision 3.
  green.requests.length = 0;
  for (const node of nodes) assert.equal(await colourOf(node), 'green');
  assert.deepEqual(
    green.requests.map((r) => r.headers['x-green-secret']),
    ['s3cret', 's3cret', undefined],
  );
  const cliStatus = await cli([
    'config',
    'status',
    '--admin',
    (nodes[2] as PorticoProcess).adminUrl,
    '--token',
    token,
  ]);
  assert.match(cliStatus.stdout, /node-3 +up +revision 2\n +refused revision 3:/);
});

test('config rollback stores an old document as a new revision that every node applies', async () => {
  const rolled = await cli([
    'config',
    'rollback',
    '1',
    '--admin',
    (nodes[1] as PorticoProcess).adminUrl,
    '--token',
    token,
    '--wait',
  ]);
  assert.equal(rolled.code, 0, rolled.stderr + rolled.stdout);
  assert.match(rolled.stdout, /stored revision 4/);
  for (const node of nodes) assert.equal(await colourOf(node), 'blue');
  const { nodes: states } = await status(nodes[2] as PorticoProcess);
  assert.deepEqual(
    states.map((n) => [n.id, n.revision, n.failed]),
    [
      ['node-1', 4, undefined],
      ['node-2', 4, undefined],
      ['node-3', 4, undefined],
    ],
  );
  const history = await cli([
    'config',
    'history',
    '--json',
    '--admin',
    (nodes[0] as PorticoProcess).adminUrl,
    '--token',
    token,
  ]);
  assert.deepEqual(
    (JSON.parse(history.stdout) as { revision: number; author: string; note: string }[]).map((r) => [
      r.revision,
      r.author,
      r.note,
    ]),
    [
      [4, 'admin.token', 'rollback to 1'],
      [3, 'admin.token', 'apply'],
      [2, 'admin.token', 'apply'],
      [1, 'cli', 'apply'],
    ],
  );
  const diff = await cli([
    'config',
    'diff',
    '1',
    '2',
    '--admin',
    (nodes[0] as PorticoProcess).adminUrl,
    '--token',
    token,
  ]);
  assert.equal(diff.code, 0);
  assert.match(diff.stdout, new RegExp(`^-    instances: \\[\\{ url: "${blue.url}" \\}\\]$`, 'm'));
  assert.match(diff.stdout, new RegExp(`^\\+    instances: \\[\\{ url: "${green.url}" \\}\\]$`, 'm'));
});

test('an invalid document is refused with problem+json and stores nothing', async () => {
  const res = await fetch(`${(nodes[0] as PorticoProcess).adminUrl}/v1/config`, {
    method: 'POST',
    headers: { ...authorization, 'content-type': 'application/yaml' },
    body: 'listen: 127.0.0.1:${GW_PORT}\nroutes: nope\n',
  });
  assert.equal(res.status, 422);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const problem = (await res.json()) as {
    code: string;
    errors: { file: string; line: number; path: string }[];
  };
  assert.equal(problem.code, 'invalid_config');
  assert.deepEqual(
    problem.errors.map((e) => [e.file, e.line, e.path]),
    [['POST /v1/config', 2, 'routes']],
  );
  assert.equal((await status(nodes[0] as PorticoProcess)).latest, 4);
  const missing = await fetch(`${(nodes[0] as PorticoProcess).adminUrl}/v1/config/revisions/99`, {
    headers: authorization,
  });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'config_revision_not_found');
});

test('GET /v1/nodes lists every node; a killed node shows as gone, a stopped one as stopped', async () => {
  const list = async () => {
    const res = await fetch(`${(nodes[0] as PorticoProcess).adminUrl}/v1/nodes`, { headers: authorization });
    return ((await res.json()) as { nodes: { id: string; state: string; admin: string; version: string }[] })
      .nodes;
  };
  const listed = await list();
  assert.deepEqual(
    listed.map((n) => [n.id, n.state, n.admin]),
    nodes.map((node, i) => [`node-${i + 1}`, 'up', node.adminUrl]),
  );
  await (nodes[2] as PorticoProcess).stop('SIGKILL');
  await (nodes[1] as PorticoProcess).stop('SIGTERM');
  await eventually(async () =>
    assert.deepEqual(
      (await list()).map((n) => [n.id, n.state]),
      [
        ['node-1', 'up'],
        ['node-2', 'stopped'],
        ['node-3', 'gone'],
      ],
    ),
  );
  const shown = await cli(['nodes', '--admin', (nodes[0] as PorticoProcess).adminUrl, '--token', token]);
  assert.match(shown.stdout, /^node-3 +gone /m);
});

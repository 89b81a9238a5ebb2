import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before, after, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const main = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI to completion (bounded), in `cwd`, with the test's environment minus `unset`. */
function runCli(args: string[], options: { cwd?: string; unset?: string[] } = {}): Promise<CliResult> {
  const env = { ...process.env };
  for (const name of options.unset ?? []) delete env[name];
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: options.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

const stackTrace = /\n\s+at |node:internal/;

// The cases spawn short-lived processes that mostly wait on Node's start-up; running them side by side saves time.
describe('portico CLI', { concurrency: true }, () => {
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-cli-'));
    await writeFile(
      file('good.yaml'),
      `listen: 127.0.0.1:8080
services:
  users: { instances: [{ url: "http://127.0.0.1:9101" }] }
routes:
  - { name: users, match: { path: /users/** }, service: users }
`,
    );
    await writeFile(
      file('bad.yaml'),
      `listen: 127.0.0.1:8080
services:
  users: { instances: [{ url: "http://127.0.0.1:9101" }] }
routes:
  - name: users
    match: { path: 42 }
    service: users
`,
    );
    await writeFile(
      file('env.yaml'),
      `listen: 127.0.0.1:8080
admin: { listen: 127.0.0.1:8081, token: "\${PORTICO_CLI_TEST_UNSET_TOKEN}" }
`,
    );
  });

  after(() => rm(dir, { recursive: true, force: true }));

  test('--help exits 0 on the top level and on every command', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Usage: portico <command>/);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string);
    assert.ok(commands.length >= 5, `commands listed: ${commands.join(', ')}`);
    for (const name of ['start', 'demo', 'validate', 'routes', 'services'])
      assert.ok(commands.includes(name), name);
    // A few at a time: every spawn is a full Node start, and a loaded machine makes many at once slow.
    const runs: string[][] = [...commands.map((name) => [name, '--help']), ['contract', 'diff', '--help']];
    for (let i = 0; i < runs.length; i += 4) {
      const batch = runs.slice(i, i + 4);
      const results = await Promise.all(batch.map((args) => runCli(args)));
      results.forEach((res, j) => {
        const what = (batch[j] as string[]).join(' ');
        assert.equal(res.code, 0, `${what}: ${res.stderr}`);
        assert.match(res.stdout, /Usage: portico /, what);
      });
    }
  });

  test('an unknown command exits 1 and names it', async () => {
    for (const name of ['frobnicate', 'constructor']) {
      const res = await runCli([name]);
      assert.equal(res.code, 1, name);
      assert.match(res.stderr, new RegExp(`unknown command "${name}"`));
      assert.doesNotMatch(res.stderr, stackTrace);
    }
  });

  test('validate exits 0 on a valid file', async () => {
    const res = await runCli(['validate', '-c', file('good.yaml')]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /ok/);
  });

  test('validate exits 1 with file:line:column, the path and what was expected', async () => {
    const res = await runCli(['validate', '-c', 'bad.yaml'], { cwd: dir });
    assert.equal(res.code, 1);
    const text = res.stdout + res.stderr;
    assert.match(text, /bad\.yaml:6:\d+/);
    assert.match(text, /routes\[0\]\.match\.path/);
    assert.match(text, /expected a string starting with "\/"/);
    assert.doesNotMatch(text, stackTrace);
  });

  test('validate names an unset environment variable', async () => {
    const res = await runCli(['validate', '-c', 'env.yaml'], {
      cwd: dir,
      unset: ['PORTICO_CLI_TEST_UNSET_TOKEN'],
    });
    assert.equal(res.code, 1);
    assert.match(res.stdout + res.stderr, /env\.yaml:2:\d+.*PORTICO_CLI_TEST_UNSET_TOKEN/);
  });

  test('start with an invalid config exits 1 with the errors and no stack trace', async () => {
    const res = await runCli(['start', '-c', 'bad.yaml'], { cwd: dir });
    assert.equal(res.code, 1);
    const text = res.stdout + res.stderr;
    assert.match(text, /bad\.yaml:6:\d+\s+routes\[0\]\.match\.path: expected/);
    assert.doesNotMatch(text, stackTrace);
  });

  test('routes names the admin URL when nothing answers there', async () => {
    const admin = `http://127.0.0.1:${await freePort()}`;
    const res = await runCli(['routes', '--admin', admin]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`cannot reach the admin API at ${admin}: .*ECONNREFUSED`));
  });

  test('start with a missing file exits 1 and says so', async () => {
    const res = await runCli(['start', '-c', 'nowhere.yaml'], { cwd: dir });
    assert.equal(res.code, 1);
    assert.match(res.stdout + res.stderr, /nowhere\.yaml/);
    assert.doesNotMatch(res.stdout + res.stderr, stackTrace);
  });
});

test('portico routes prints the routes of a running node', async (t) => {
  const echo = await startUpstream('echo');
  t.after(() => echo.close());
  const token = 'routes-command-token-0123456789';
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort}, token: ${token} }
logging: { level: warn }
services:
  echo: { instances: [{ url: "${echo.url}" }] }
routes:
  - { name: catalogue, match: { path: /catalogue/**, methods: [GET] }, service: echo }
  - { name: basket, match: { path: /basket/** }, service: echo }
`,
  );
  t.after(() => portico.stop());

  const res = await runCli(['routes', '--admin', portico.adminUrl, '--token', token]);
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, 2, res.stdout);
  assert.match(lines[0] as string, /catalogue.*GET.*\/catalogue\/\*\*.*echo.*1\/1 up/);
  assert.match(lines[1] as string, /basket.*\/basket\/\*\*.*echo/);

  const json = await runCli(['routes', '--admin', portico.adminUrl, '--token', token, '--json']);
  assert.equal(json.code, 0);
  assert.deepEqual(
    (JSON.parse(json.stdout) as { name: string }[]).map((r) => r.name),
    ['catalogue', 'basket'],
  );

  const refused = await runCli(['routes', '--admin', portico.adminUrl]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /401/);
});

/** Waits until `child` has printed `marker`; answers everything printed so far. */
function waitForOutput(child: ChildProcess, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${marker}" within ${timeoutMs} ms:\n${text}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(marker)) {
        clearTimeout(timer);
        resolveOutput(text);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${text}`));
    });
  });
}

test('portico demo starts on the given ports, its printed curl commands work, and SIGINT stops it', async (t) => {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(
    process.execPath,
    [main, 'demo', '--port', String(port), '--admin-port', String(adminPort)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const banner = await waitForOutput(child, 'Press Ctrl-C', 15_000);

  const curls = [...banner.matchAll(/curl -s (?:-H '([^']+)' )?'?(http:\/\/[^'\s]+)'?/g)].map((m) => ({
    header: m[1],
    url: m[2] as string,
  }));
  assert.ok(curls.length >= 4, `curl commands printed:\n${banner}`);
  for (const { url } of curls) {
    const host = new URL(url).port;
    assert.ok(host === String(port) || host === String(adminPort), `${url} uses the ports asked for`);
  }
  const find = (fragment: string) => {
    const found = curls.find((c) => c.url.includes(fragment));
    assert.ok(found, `a curl for ${fragment} in:\n${banner}`);
    return found;
  };

  const users = await fetch(find('/users/42').url);
  assert.equal(users.status, 200);
  await users.body?.cancel();

  const missing = await fetch(find('/nope').url);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(((await missing.json()) as { code: string }).code, 'route_not_found');

  const cart = find('/carts/');
  assert.ok(cart.header !== undefined);
  const [name, value] = cart.header.split(/:\s*/) as [string, string];
  const cartAnswers = await Promise.all(
    [0, 1, 2].map(async () => {
      const res = await fetch(cart.url, { headers: { [name]: value } });
      assert.equal(res.status, 200);
      return ((await res.json()) as { instance: string }).instance;
    }),
  );
  assert.equal(new Set(cartAnswers).size, 1, 'the same user lands on the same cart instance');

  const match = find('/v1/routes/match');
  assert.match(match.header ?? '', /^authorization: Bearer /, 'the admin API needs the printed read token');
  const [authName, authValue] = (match.header ?? '').split(/:\s*/) as [string, string];
  assert.equal((await fetch(match.url)).status, 401);
  const explain = await fetch(match.url, { headers: { [authName]: authValue } });
  assert.equal(explain.status, 200);
  assert.equal(((await explain.json()) as { matched?: { name: string } }).matched?.name, 'users');

  await eventually(async () => {
    const metrics = await (await fetch(find('/metrics').url, { headers: { [authName]: authValue } })).text();
    assert.match(metrics, /portico_http_requests_total\{route="users",method="GET",status="200"\} 1/);
  });

  child.kill('SIGINT');
  const code = await Promise.race([
    exited,
    new Promise<'timeout'>((resolveTimeout) => setTimeout(() => resolveTimeout('timeout'), 10_000)),
  ]);
  assert.equal(code, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/users/1`));
});

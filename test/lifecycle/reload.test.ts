import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const concurrency = 20;
const minLoadMs = 3000;
const maxLoadMs = 12_000;

interface LoadReport {
  total: number;
  failures: string[];
  /** Upstream names seen, in the order each was first seen. */
  bySeen: Map<string, number>;
}

/** Counts JSON log lines with this `msg`. */
function countLogs(output: string, msg: string): number {
  let count = 0;
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      if ((JSON.parse(line) as { msg?: unknown }).msg === msg) count++;
    } catch {
      // a line cut by the pipe; the next read has it whole
    }
  }
  return count;
}

test('reloads on file change, SIGHUP and the admin call under load without failing a request', async (t) => {
  const [blue, green] = await Promise.all([startUpstream('blue'), startUpstream('green')]);
  t.after(() => Promise.all([blue.close(), green.close()]));

  const configFor = (ports: { port: number; adminPort: number }, target: string, extraRoute = '') => `
listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: info, accessLog: false }
services:
  blue: { instances: [{ url: "${blue.url}" }] }
  green: { instances: [{ url: "${green.url}" }] }
routes:
  - { name: load, match: { path: /load/** }, service: ${target} }
${extraRoute}`;
  const portico = await startPortico((ports) => configFor(ports, 'blue'));
  t.after(() => portico.stop('SIGKILL'));
  const ports = { port: portico.port, adminPort: portico.adminPort };
  const invalid = `${configFor(ports, 'blue')}  - { name: broken, match: { path: /broken }, service: missing }\n`;

  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
  t.after(() => agent.close());
  const get = async (path: string) => {
    const res = await request(`${portico.url}${path}`, { dispatcher: agent });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };
  const upstreamOf = (text: string) => (JSON.parse(text) as { upstream: string }).upstream;

  const report: LoadReport = { total: 0, failures: [], bySeen: new Map() };
  let stop = false;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (!stop && Date.now() - started < maxLoadMs) {
      try {
        const res = await get('/load/item');
        report.total++;
        if (res.status !== 200) report.failures.push(`${res.status} ${res.text}`);
        else {
          const name = upstreamOf(res.text);
          report.bySeen.set(name, (report.bySeen.get(name) ?? 0) + 1);
        }
      } catch (err) {
        report.total++;
        report.failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  const servedBy = async (name: string) =>
    eventually(async () => {
      const res = await get('/load/probe');
      assert.equal(res.status, 200);
      assert.equal(upstreamOf(res.text), name);
    }, 5000);

  try {
    await servedBy('blue');

    // 1. A file change: the watched config moves the route to green.
    await portico.writeConfig(configFor(ports, 'green'));
    await servedBy('green');
    const seenGreenAt = green.requests.length;

    // 2. An invalid file change is rejected and logged; green keeps serving.
    const rejectedBefore = countLogs(portico.output(), 'config reload rejected; the running config stays');
    await portico.writeConfig(invalid);
    await eventually(() =>
      assert.ok(
        countLogs(portico.output(), 'config reload rejected; the running config stays') > rejectedBefore,
      ),
    );
    for (let i = 0; i < 5; i++) {
      const res = await get('/load/after-reject');
      assert.equal(res.status, 200);
      assert.equal(upstreamOf(res.text), 'green');
    }
    assert.ok(green.requests.length > seenGreenAt);

    // Point the watched name at a file in another folder: edits to that file no longer trigger the watcher,
    // so the next two changes can only come from SIGHUP and from the admin call.
    const elsewhere = await mkdtemp(join(tmpdir(), 'portico-reload-'));
    t.after(() => rm(elsewhere, { recursive: true, force: true }));
    const target = join(elsewhere, 'real.yaml');
    await writeFile(target, configFor(ports, 'green'));
    const reloadedBefore = countLogs(portico.output(), 'config reloaded');
    await symlink(target, `${portico.configFile}.link`);
    await rename(`${portico.configFile}.link`, portico.configFile);
    await eventually(() => assert.ok(countLogs(portico.output(), 'config reloaded') > reloadedBefore));

    // 3. SIGHUP: a new route appears.
    const extra = '  - { name: extra, match: { path: /extra/** }, service: blue }\n';
    await writeFile(target, configFor(ports, 'green', extra));
    portico.child.kill('SIGHUP');
    await eventually(async () => {
      const res = await get('/extra/x');
      assert.equal(res.status, 200);
      assert.equal(upstreamOf(res.text), 'blue');
    });

    // 4. The admin call with an invalid file: 422 with every issue located; the running config stays.
    await writeFile(target, invalid);
    const rejected = await fetch(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
    assert.equal(rejected.status, 422);
    assert.match(rejected.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = (await rejected.json()) as {
      code: string;
      errors: { file: string; path: string; message: string; line?: number }[];
    };
    assert.equal(problem.code, 'invalid_config');
    assert.ok(problem.errors.length > 0);
    const issue = problem.errors.find((e) => e.path === 'routes[1].service');
    assert.ok(issue, `an issue at routes[1].service in ${JSON.stringify(problem.errors)}`);
    assert.equal(issue.file, portico.configFile);
    assert.match(issue.message, /unknown service "missing"/);
    assert.equal(typeof issue.line, 'number');
    assert.equal((await get('/extra/x')).status, 200, 'the old config keeps serving after a rejected reload');
    assert.equal(upstreamOf((await get('/load/x')).text), 'green');

    // 5. The admin call with a valid file: applied when the call answers, not later.
    await writeFile(target, configFor(ports, 'blue'));
    const applied = await fetch(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
    assert.equal(applied.status, 200);
    assert.deepEqual(await applied.json(), { status: 'applied', routes: 1 });
    assert.equal(upstreamOf((await get('/load/x')).text), 'blue');
    assert.equal((await get('/extra/x')).status, 404);

    // The load runs for at least minLoadMs so reloads overlap a steady stream, not just its start.
    const remaining = minLoadMs - (Date.now() - started);
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  } finally {
    stop = true;
    await Promise.all(workers);
  }

  assert.deepEqual(
    report.failures.slice(0, 5),
    [],
    `${report.failures.length} of ${report.total} requests failed`,
  );
  assert.ok(report.total > 200, `only ${report.total} requests ran`);
  assert.ok((report.bySeen.get('blue') ?? 0) > 0 && (report.bySeen.get('green') ?? 0) > 0);
  assert.ok(countLogs(portico.output(), 'config reload rejected; the running config stays') >= 2);
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const token = 'admin-token-for-tests-0123456789';
const auth = { authorization: `Bearer ${token}` };

interface Problem {
  code: string;
  status: number;
  title: string;
}

async function assertUnauthorized(res: Response, what: string): Promise<void> {
  assert.equal(res.status, 401, what);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /, what);
  const body = (await res.json()) as Problem;
  assert.equal(body.code, 'unauthorized', what);
  assert.equal(body.status, 401, what);
}

/** The value of one sample line of a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const pairs = new Map<string, string>();
    for (const match of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      pairs.set(match[1] as string, match[2] as string);
    }
    if (Object.entries(labels).every(([key, value]) => pairs.get(key) === value)) {
      return Number(line.slice(close + 1).trim());
    }
  }
  return undefined;
}

describe('admin API with a token', () => {
  let portico: PorticoProcess;
  let echo: TestUpstream;

  before(async () => {
    echo = await startUpstream('echo');
    const closedPort = await freePort();
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort}, token: "${token}" }
logging: { level: info, accessLog: true }
services:
  echo: { instances: [{ url: "${echo.url}" }] }
  gone: { instances: [{ url: "http://127.0.0.1:${closedPort}" }] }
routes:
  - { name: counted, match: { path: /counted/** }, service: echo }
  - { name: logged, match: { path: /logged/** }, service: echo }
  - { name: b, match: { path: /b, methods: [GET] }, service: echo }
  - { name: gone, match: { path: /gone/** }, service: gone }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await echo?.close();
  });

  test('answers /healthz and /readyz without a token', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(`${portico.adminUrl}${path}`);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
  });

  test('requires the token on every other endpoint, known or not', async () => {
    const calls: [string, string][] = [
      ['GET', '/v1/config'],
      ['POST', '/v1/config/reload'],
      ['GET', '/v1/routes'],
      ['GET', '/v1/routes/match?method=GET&path=/b'],
      ['GET', '/metrics'],
      ['GET', '/v1/no-such-endpoint'],
    ];
    for (const [method, path] of calls) {
      await assertUnauthorized(await fetch(`${portico.adminUrl}${path}`, { method }), `${method} ${path}`);
      await assertUnauthorized(
        await fetch(`${portico.adminUrl}${path}`, {
          method,
          headers: { authorization: 'Bearer wrong-token' },
        }),
        `${method} ${path} with a wrong token`,
      );
      await assertUnauthorized(
        await fetch(`${portico.adminUrl}${path}`, { method, headers: { authorization: `Basic ${token}` } }),
        `${method} ${path} with another scheme`,
      );
    }
    const accepted = await fetch(`${portico.adminUrl}/v1/routes`, { headers: auth });
    assert.equal(accepted.status, 200);
    await accepted.body?.cancel();
  });

  test('GET /v1/config shows the running config with secrets redacted', async () => {
    const res = await fetch(`${portico.adminUrl}/v1/config`, { headers: auth });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(token), 'the token must not appear in /v1/config');
    const config = JSON.parse(text) as {
      admin: { token: string };
      listen: string;
      routes: { name: string }[];
    };
    assert.equal(config.admin.token, '[redacted]');
    assert.equal(config.listen, `127.0.0.1:${portico.port}`);
    assert.deepEqual(
      config.routes.map((r) => r.name),
      ['counted', 'logged', 'b', 'gone'],
    );
  });

  test('GET /v1/routes lists each route with its service and instances', async () => {
    const res = await fetch(`${portico.adminUrl}/v1/routes`, { headers: auth });
    assert.equal(res.status, 200);
    const routes = (await res.json()) as {
      name: string;
      service: string;
      match: { path: string };
      instances: { url: string; available: boolean }[];
    }[];
    const counted = routes.find((r) => r.name === 'counted');
    assert.ok(counted);
    assert.equal(counted.service, 'echo');
    assert.equal(counted.match.path, '/counted/**');
    assert.equal(counted.instances.length, 1);
    assert.equal(counted.instances[0]?.url, echo.url);
    assert.equal(counted.instances[0]?.available, true);
    assert.deepEqual(
      routes.map((r) => r.name),
      ['counted', 'logged', 'b', 'gone'],
    );
  });

  test('GET /v1/routes/match normalises the path and explains each route', async () => {
    const res = await fetch(
      `${portico.adminUrl}/v1/routes/match?method=GET&path=${encodeURIComponent('/a/../b')}`,
      { headers: auth },
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      requested: string;
      path: string;
      matched?: { name: string };
      routes: { name: string; result: string; reason: string }[];
    };
    assert.equal(body.requested, '/a/../b');
    assert.equal(body.path, '/b');
    assert.equal(body.matched?.name, 'b');
    const counted = body.routes.find((r) => r.name === 'counted');
    assert.ok(counted);
    assert.notEqual(counted.result, 'matched');
    assert.match(counted.reason, /path/);
    assert.equal(body.routes.find((r) => r.name === 'b')?.result, 'matched');

    const post = await fetch(`${portico.adminUrl}/v1/routes/match?method=POST&path=/b`, { headers: auth });
    const explained = (await post.json()) as {
      matched?: unknown;
      routes: { name: string; reason: string }[];
    };
    assert.equal(explained.matched, undefined);
    assert.match(explained.routes.find((r) => r.name === 'b')?.reason ?? '', /method/i);
  });

  test('/metrics counts real requests by route, method and status, with latency and upstream state', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${portico.url}/counted/${i}`)).status, 200);
    const posted = await fetch(`${portico.url}/counted/x`, { method: 'POST', body: '{}' });
    assert.equal(posted.status, 200);
    const refused = await fetch(`${portico.url}/gone/x`);
    assert.equal(refused.status, 502);
    await refused.body?.cancel();

    const text = await eventually(async () => {
      const res = await fetch(`${portico.adminUrl}/metrics`, { headers: auth });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const body = await res.text();
      assert.equal(
        sample(body, 'portico_http_requests_total', { route: 'counted', method: 'GET', status: '200' }),
        3,
      );
      return body;
    });
    assert.equal(
      sample(text, 'portico_http_requests_total', { route: 'counted', method: 'POST', status: '200' }),
      1,
    );
    assert.equal(
      sample(text, 'portico_http_requests_total', { route: 'gone', method: 'GET', status: '502' }),
      1,
    );
    assert.match(text, /^# TYPE portico_http_request_duration_seconds histogram$/m);
    assert.equal(sample(text, 'portico_http_request_duration_seconds_count', { route: 'counted' }), 4);
    assert.equal(
      sample(text, 'portico_http_request_duration_seconds_bucket', { route: 'counted', le: '+Inf' }),
      4,
    );
    const sum = sample(text, 'portico_http_request_duration_seconds_sum', { route: 'counted' });
    assert.ok(sum !== undefined && sum > 0);
    const connectErrors = sample(text, 'portico_upstream_errors_total', { service: 'gone', kind: 'connect' });
    assert.ok(connectErrors !== undefined && connectErrors >= 1, `upstream errors: ${connectErrors}`);
    assert.equal(sample(text, 'portico_upstream_instance_healthy', { service: 'echo' }), 1);
  });

  test('writes one JSON access log line per request on stdout', async () => {
    const requestId = `access-log-${Date.now()}`;
    const res = await fetch(`${portico.url}/logged/item?q=1`, { headers: { 'x-request-id': requestId } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const line = await eventually(() => {
      const found = portico
        .output()
        .split('\n')
        .filter((l) => l.includes(requestId));
      assert.equal(found.length, 1, 'exactly one line for the request');
      return JSON.parse(found[0] as string) as Record<string, unknown>;
    });
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/logged/item');
    assert.equal(line.route, 'logged');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok((line.durationMs as number) >= 0);
    assert.equal(line.upstream, new URL(echo.url).host);
    assert.equal(line.requestId, requestId);
  });
});

test('refuses to start with a non-loopback admin listener and no token', async (t) => {
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 0.0.0.0:${adminPort} }
`,
    { waitReady: false },
  );
  t.after(() => portico.stop('SIGKILL'));
  const code = await eventually(() => {
    assert.notEqual(portico.child.exitCode, null, 'portico should exit');
    return portico.child.exitCode;
  }, 15_000);
  assert.equal(code, 1);
  assert.match(portico.output(), /admin\.token/);
  assert.match(portico.output(), /loopback/);
  assert.doesNotMatch(portico.output(), /\n\s+at /);
  await assert.rejects(fetch(`http://127.0.0.1:${portico.adminPort}/healthz`));
});

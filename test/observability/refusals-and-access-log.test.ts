import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const apiKey = 'access-log-test-key';
const keyHash = `sha256:${createHash('sha256').update(apiKey).digest('hex')}`;

type LogLine = Record<string, unknown>;

function requestLines(portico: PorticoProcess): LogLine[] {
  return portico
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Sends raw bytes and resolves with the first line of the answer. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
  });
}

async function metricsText(portico: PorticoProcess): Promise<string> {
  return (await fetch(`${portico.adminUrl}/metrics`)).text();
}

describe('requests refused before routing, and the access log', () => {
  let portico: PorticoProcess;
  let echo: TestUpstream;

  before(async () => {
    echo = await startUpstream('echo');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
limits: { headerSize: 2kb }
logging: { level: info, accessLog: true }
auth: { apiKeys: { header: x-api-key } }
consumers: [{ id: app, apiKeys: ["${keyHash}"] }]
services:
  echo: { instances: [{ url: "${echo.url}" }] }
routes:
  - { name: keyed, match: { path: /keyed/** }, service: echo, auth: [apiKey] }
`,
    );
  });

  after(async () => {
    await portico.stop();
    await echo.close();
  });

  test('a 404 storm shows in portico_http_requests_total under route _none and in the access log', async () => {
    const storm = 40;
    await Promise.all(
      Array.from({ length: storm }, async (_, i) => {
        const res = await fetch(`${portico.url}/no/such/route/${i}`, {
          headers: { 'user-agent': 'scanner/1' },
        });
        assert.equal(res.status, 404);
        await res.body?.cancel();
      }),
    );
    await eventually(async () => {
      assert.match(
        await metricsText(portico),
        new RegExp(`portico_http_requests_total\\{route="_none",method="GET",status="404"\\} ${storm}\\n`),
      );
      const refused = requestLines(portico).filter((l) => l.route === '_none' && l.status === 404);
      assert.equal(refused.length, storm);
      assert.equal(refused[0]?.code, 'route_not_found');
      assert.equal(refused[0]?.userAgent, 'scanner/1');
      assert.match(String(refused[0]?.path), /^\/no\/such\/route\/\d+$/);
    });
  });

  test("requests Node's parser refuses (400, 431) are counted and logged too", async () => {
    assert.match(await raw(portico.port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400/);
    const huge = `GET /keyed/x HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(4096)}\r\n\r\n`;
    assert.match(await raw(portico.port, huge), /^HTTP\/1\.1 431/);
    await eventually(async () => {
      const text = await metricsText(portico);
      assert.match(text, /portico_http_requests_total\{route="_none",method="OTHER",status="400"\} 1\n/);
      assert.match(text, /portico_http_requests_total\{route="_none",method="OTHER",status="431"\} 1\n/);
      const lines = requestLines(portico);
      assert.ok(lines.some((l) => l.route === '_none' && l.status === 431 && l.code === 'headers_too_large'));
      assert.ok(lines.some((l) => l.route === '_none' && l.status === 400 && l.code === 'bad_request'));
    });
  });

  test('the access log has the consumer, bytes in and out, user agent, upstream vs gateway time, and the gateway code', async () => {
    const body = JSON.stringify({ payload: 'x'.repeat(1000) });
    const ok = await fetch(`${portico.url}/keyed/orders`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'user-agent': 'client/2.0', 'content-type': 'application/json' },
      body,
    });
    assert.equal(ok.status, 200);
    const answer = await ok.text();
    const refused = await fetch(`${portico.url}/keyed/orders`, { headers: { 'user-agent': 'client/2.0' } });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    await eventually(() => {
      const lines = requestLines(portico).filter((l) => l.route === 'keyed');
      const served = lines.find((l) => l.status === 200);
      assert.ok(served, 'the served request is logged');
      assert.equal(served.consumer, 'app');
      assert.equal(served.userAgent, 'client/2.0');
      assert.equal(served.code, undefined, 'the upstream answered, not the gateway');
      assert.ok(Number(served.bytesIn) >= body.length, `bytesIn ${String(served.bytesIn)}`);
      assert.ok(Number(served.bytesOut) >= answer.length, `bytesOut ${String(served.bytesOut)}`);
      assert.equal(typeof served.upstreamMs, 'number');
      assert.equal(typeof served.gatewayMs, 'number');
      assert.ok(Number(served.upstreamMs) + Number(served.gatewayMs) <= Number(served.durationMs) + 0.01);
      const unauthorized = lines.find((l) => l.status === 401);
      assert.equal(unauthorized?.code, 'unauthorized');
      assert.equal(unauthorized?.upstreamMs, undefined);
    });
  });

  test("upstream metrics label the instance upstream_instance, never Prometheus' own `instance`", async () => {
    const text = await metricsText(portico);
    assert.match(text, /portico_upstream_instance_healthy\{service="echo",upstream_instance="[^"]+"\} 1/);
    assert.doesNotMatch(text, /\{[^}]*\binstance="/);
  });
});

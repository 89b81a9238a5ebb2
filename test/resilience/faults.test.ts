import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { assertProblem, send } from '../gateway/client.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** GETs `url` and reports whether the body arrived whole or the response was cut. */
function fetchOutcome(url: string): Promise<{ status: number; outcome: 'complete' | 'aborted' }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.on('data', () => {});
      res.once('end', () => resolve({ status: res.statusCode ?? 0, outcome: 'complete' }));
      res.once('error', () => resolve({ status: res.statusCode ?? 0, outcome: 'aborted' }));
      res.once('aborted', () => resolve({ status: res.statusCode ?? 0, outcome: 'aborted' }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('faulty instances', () => {
  let good: TestUpstream;
  let bad: TestUpstream;
  let lone: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    good = await startUpstream('good');
    bad = await startUpstream('bad');
    lone = await startUpstream('lone');
    portico = await startPortico(
      ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  pair:
    instances: [{ url: "${good.url}" }, { url: "${bad.url}" }]
    outlierDetection: { enabled: false }
    timeouts: { connect: 200ms, request: 200ms }
    circuitBreaker: { failureRate: 0.5, minRequests: 3, window: 10s, openFor: 10s }
  lone:
    instances: [{ url: "${lone.url}" }]
    outlierDetection: { enabled: false }
    timeouts: { connect: 200ms, request: 300ms }
    retries: { attempts: 1, on: [connect-failure, 503] }
routes:
  - { name: pair, match: { path: /pair/** }, service: pair }
  - { name: lone, match: { path: /lone/** }, service: lone }
  - { name: capped, match: { path: /capped/** }, service: lone, timeout: 250ms }
`,
    );
  });
  after(async () => {
    await portico.stop();
    await Promise.all([good.close(), bad.close(), lone.close()]);
  });

  test('an instance that accepts and never answers: timeouts fire in bound, the breaker opens, traffic moves', async () => {
    bad.fault = { kind: 'hang' };
    const timedOut: number[] = [];
    for (let i = 0; i < 12; i++) {
      const started = Date.now();
      const res = await send(`${portico.url}/pair/x`);
      if (res.status === 504) {
        assertProblem(res, 504, 'upstream_timeout');
        timedOut.push(Date.now() - started);
      } else assert.equal(res.status, 200);
    }
    assert.ok(
      timedOut.length >= 3 && timedOut.length <= 4,
      `${timedOut.length} timeouts before the breaker opened`,
    );
    // Never before 200 ms; the upper bound only tells the configured timeout from the 30 s default.
    for (const ms of timedOut) assert.ok(ms >= 190 && ms < 10_000, `a 200ms timeout fired after ${ms}ms`);
    const reached = bad.requests.length;
    for (let i = 0; i < 6; i++) assert.equal((await send(`${portico.url}/pair/x`)).status, 200);
    assert.equal(bad.requests.length, reached, 'the open breaker still sent traffic to the hanging instance');
  });

  test('an instance that answers garbage gets 502 upstream_bad_response, never a hang', async () => {
    lone.fault = { kind: 'garbage' };
    const started = Date.now();
    assertProblem(await send(`${portico.url}/lone/x`), 502, 'upstream_bad_response');
    assert.ok(Date.now() - started < 1_000);
  });

  test('a reset before the answer is retried on the same lone instance and a 503 is retried once', async () => {
    let calls = 0;
    lone.fault = { kind: 'none' };
    lone.handler = (_req, res) => {
      calls++;
      if (calls === 1) return void res.socket?.destroy();
      if (calls === 2) return void res.writeHead(503).end('busy');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    };
    const first = await send(`${portico.url}/lone/x`);
    assert.equal(first.status, 503, 'one retry only: the 503 of the second try is passed through');
    assert.equal(calls, 2);
    const second = await send(`${portico.url}/lone/x`);
    assert.equal(second.text, 'ok');
    lone.handler = undefined;
  });

  test('a POST is not retried', async () => {
    let calls = 0;
    lone.handler = (_req, res) => {
      calls++;
      res.writeHead(503).end();
    };
    assert.equal((await send(`${portico.url}/lone/x`, { method: 'POST' })).status, 503);
    assert.equal(calls, 1);
    lone.handler = undefined;
  });

  test('a response cut after its headers reaches the client as an aborted response', async () => {
    lone.fault = { kind: 'cut-body' };
    const result = await fetchOutcome(`${portico.url}/lone/x`);
    assert.deepEqual(result, { status: 200, outcome: 'aborted' });
    lone.fault = { kind: 'none' };
  });

  test("the route's overall deadline answers 504 deadline_exceeded", async () => {
    lone.fault = { kind: 'delay', ms: 1_000 };
    const started = Date.now();
    assertProblem(await send(`${portico.url}/capped/x`), 504, 'deadline_exceeded');
    const elapsed = Date.now() - started;
    // Never before 250 ms; deadline_exceeded (not the service's 1 s answer) shows it fired before the service.
    assert.ok(elapsed >= 240, `a 250ms deadline fired after ${elapsed}ms`);
    lone.fault = { kind: 'none' };
  });
});

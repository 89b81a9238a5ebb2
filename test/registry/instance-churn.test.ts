import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const agent = new Agent({ connections: 4 });
let portico: PorticoProcess;
let upstream: TestUpstream;
let flaky: TestUpstream;
let other: TestUpstream;

const configOf = (ports: { port: number; adminPort: number }, fixed: readonly TestUpstream[]): string =>
  `listen: 127.0.0.1:${ports.port}
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: error, accessLog: false }
services:
  churn:
    circuitBreaker: { failureRate: 0.5, minRequests: 5, window: 10s, openFor: 30s }
    outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 5m }
  fixed:
    instances: [${fixed.map((u) => `{ url: "${u.url}" }`).join(', ')}]
    circuitBreaker: { failureRate: 0.5, minRequests: 5, window: 10s, openFor: 30s }
routes:
  - { name: churn, match: { path: /churn/** }, service: churn }
  - { name: fixed, match: { path: /fixed/** }, service: fixed }
`;

before(async () => {
  upstream = await startUpstream('churned');
  flaky = await startUpstream('flaky');
  flaky.fault = { kind: 'reset' };
  other = await startUpstream('other');
  portico = await startPortico((ports) => configOf(ports, [upstream, other]));
});

after(async () => {
  await portico.stop();
  await Promise.all([upstream.close(), flaky.close(), other.close()]);
  await agent.close();
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
  } as RequestInit);
  return { status: res.status, text: await res.text() };
}

/** Per-instance series of the admin /metrics (`instance="…"` labels), and the breakers the admin API lists. */
async function perInstanceState(service = 'churn'): Promise<{ series: number; breakers: number }> {
  const metrics = (await call('GET', `${portico.adminUrl}/metrics`)).text;
  const series = metrics
    .split('\n')
    .filter((line) => line.includes(`service="${service}"`) && line.includes('instance="'));
  const breakers = JSON.parse(
    (await call('GET', `${portico.adminUrl}/v1/services/${service}/breakers`)).text,
  ) as {
    instances: Record<string, unknown>;
  };
  return { series: series.length, breakers: Object.keys(breakers.instances).length };
}

/** Registers an instance, sends a few requests through it, deregisters it and waits until it is gone. */
async function churnOnce(id: string, target: TestUpstream, expect: number): Promise<void> {
  const put = await call('PUT', `${portico.adminUrl}/v1/services/churn/instances/${id}`, {
    url: target.url,
    version: '1.0.0',
  });
  assert.ok(put.status === 200 || put.status === 201, `register ${id}: ${put.status}`);
  await eventually(async () => assert.equal((await call('GET', `${portico.url}/churn/x`)).status, expect));
  for (let i = 0; i < 3; i++) await call('GET', `${portico.url}/churn/x`);
  assert.equal((await call('DELETE', `${portico.adminUrl}/v1/services/churn/instances/${id}`)).status, 204);
  await eventually(async () =>
    assert.notEqual((await call('GET', `${portico.url}/churn/x`)).status, expect, `${id} still routed`),
  );
}

test('registry churn leaves no breaker or per-instance metric series behind', async () => {
  // Some churned instances fail (ejected, breaker opened), most answer: both kinds of state must go.
  await churnOnce('warm-0', upstream, 200);
  await churnOnce('warm-1', flaky, 502);
  const baseline = await perInstanceState();
  for (let i = 0; i < 40; i++) {
    const failing = i % 4 === 0;
    await churnOnce(`churn-${i}`, failing ? flaky : upstream, failing ? 502 : 200);
  }
  const afterChurn = await perInstanceState();
  assert.equal(afterChurn.breakers, 0, 'no breaker of a deregistered instance is kept');
  assert.equal(afterChurn.series, baseline.series, 'the per-instance series count stays flat');
  assert.equal(afterChurn.series, 0);
});

test('a reload that removes a static instance drops its breaker and its series', async () => {
  for (let i = 0; i < 6; i++) assert.equal((await call('GET', `${portico.url}/fixed/x`)).status, 200);
  assert.deepEqual(await perInstanceState('fixed'), { series: 4, breakers: 2 });
  await portico.writeConfig(configOf({ port: portico.port, adminPort: portico.adminPort }, [upstream]));
  await eventually(async () => assert.deepEqual(await perInstanceState('fixed'), { series: 2, breakers: 1 }));
});

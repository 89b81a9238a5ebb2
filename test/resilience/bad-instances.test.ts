import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPacedLoad } from '../helpers/paced-load.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let resetting: TestUpstream;
let hanging: TestUpstream;
let good: TestUpstream;
let portico: PorticoProcess;

before(async () => {
  resetting = await startUpstream('resetting');
  hanging = await startUpstream('hanging');
  good = await startUpstream('good');
  resetting.fault = { kind: 'reset' };
  hanging.fault = { kind: 'hang' };
  // Default settings on purpose: no timeouts, retries, breaker or outlier tuning.
  portico = await startPortico(
    ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: error, accessLog: false }
services:
  app:
    instances: [{ url: "${resetting.url}" }, { url: "${hanging.url}" }, { url: "${good.url}" }]
routes:
  - { name: app, match: { path: /app/** }, service: app }
`,
  );
});

after(async () => {
  await portico.stop('SIGKILL');
  await Promise.all([resetting.close(), hanging.close(), good.close()]);
});

/** `portico_upstream_instance_healthy` by instance id, from the admin /metrics. */
async function instanceHealth(): Promise<Map<string, number>> {
  const text = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  const health = new Map<string, number>();
  for (const match of text.matchAll(
    /^portico_upstream_instance_healthy\{[^}]*instance="([^"]+)"[^}]*\} (\d)/gm,
  ))
    health.set(match[1] as string, Number(match[2]));
  return health;
}

const idOf = (upstream: TestUpstream): string => `127.0.0.1:${upstream.port}`;

test('with one resetting, one hanging and one good instance and default settings, >= 99% succeed once both are found', async () => {
  const load = startPacedLoad(`${portico.url}/app/items`, 30, 40_000);
  let detectedAtMs = 0;
  try {
    await eventually(async () => {
      const health = await instanceHealth();
      assert.equal(health.get(idOf(resetting)), 0, 'the resetting instance is out');
      assert.equal(health.get(idOf(hanging)), 0, 'the hanging instance is out');
      assert.equal(health.get(idOf(good)), 1, 'the good instance stays in');
    }, 15_000);
    detectedAtMs = load.elapsedMs();
    // A bounded measuring phase at the same rate: about 300 requests.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  } finally {
    await load.stop(5_000);
  }
  // Found within seconds (the stall sweep), not after the 30 s request timeout.
  assert.ok(detectedAtMs < 12_000, `both bad instances found after ${Math.round(detectedAtMs)} ms`);
  const measured = load.outcomes.filter((outcome) => outcome.sentAtMs >= detectedAtMs);
  const ok = measured.filter((outcome) => outcome.status === 200).length;
  assert.ok(measured.length >= 250, `only ${measured.length} requests in the measured phase`);
  const failures = measured.filter((outcome) => outcome.status !== 200).slice(0, 5);
  assert.ok(
    ok >= measured.length * 0.99,
    `${ok} of ${measured.length} succeeded after detection; first failures: ${JSON.stringify(failures)}`,
  );
});

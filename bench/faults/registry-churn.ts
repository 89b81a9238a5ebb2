/**
 * The registry churn run of issue 12, item 6, as a standalone script (not a ratio benchmark): instances register,
 * take a few requests and deregister, `--rate` per second for `--seconds`, against one Portico whose service has a
 * circuit breaker. Prints, every 10 s and after the churn, Portico's RSS, its per-instance metric series, its
 * breakers and the instances it routes to.
 *
 *   node bench/faults/registry-churn.ts [--rate 20] [--seconds 120]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { startPortico } from '../../test/helpers/portico-process.ts';
import { startUpstream } from '../../test/helpers/upstream.ts';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '20' }, seconds: { type: 'string', default: '120' } },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const upstream = await startUpstream('churned');
const portico = await startPortico(
  ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  churn:
    instances: [{ url: "${upstream.url}", id: static }]
    circuitBreaker: { failureRate: 0.5, minRequests: 20, window: 10s, openFor: 30s }
routes:
  - { name: churn, match: { path: /churn/** }, service: churn }
`,
);
const agent = new Agent({ connections: 32 });

async function call(method: string, url: string, body?: unknown): Promise<string> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
  } as RequestInit);
  return res.text();
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

const started = performance.now();
async function sample(label: string): Promise<void> {
  const metrics = await call('GET', `${portico.adminUrl}/metrics`);
  const heapMb = (name: string): string =>
    (Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? 0) / 1024 / 1024).toFixed(1);
  const lines = metrics.split('\n').filter((line) => !line.startsWith('#') && line.includes('instance="'));
  const byName = new Map<string, number>();
  for (const line of lines) {
    const name = line.slice(0, line.indexOf('{'));
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  const breakers = JSON.parse(await call('GET', `${portico.adminUrl}/v1/services/churn/breakers`)) as {
    instances: Record<string, unknown>;
  };
  const registered = JSON.parse(
    await call('GET', `${portico.adminUrl}/v1/services/churn/instances`),
  ) as unknown;
  const count = Array.isArray(registered)
    ? registered.length
    : ((registered as { instances?: unknown[] }).instances?.length ?? -1);
  console.log(
    [
      label.padEnd(16),
      `t=${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`,
      `rss ${(await rssMb(portico.child.pid as number)).toFixed(1).padStart(6)} MB`,
      `heap used/total ${heapMb('nodejs_heap_size_used_bytes')}/${heapMb('nodejs_heap_size_total_bytes')} MB`,
      `per-instance series ${String(lines.length).padStart(5)} ${JSON.stringify(Object.fromEntries(byName))}`,
      `breakers ${String(Object.keys(breakers.instances).length).padStart(5)}`,
      `registered ${count}`,
    ].join('  '),
  );
}

let cycles = 0;
let failures = 0;
async function churnOnce(n: number): Promise<void> {
  const id = `churn-${n}`;
  try {
    await call('PUT', `${portico.adminUrl}/v1/services/churn/instances/${id}`, {
      url: upstream.url,
      version: '1.0.0',
    });
    for (let i = 0; i < 3; i++) await call('GET', `${portico.url}/churn/x`);
    await call('DELETE', `${portico.adminUrl}/v1/services/churn/instances/${id}`);
    cycles++;
  } catch {
    failures++;
  }
}

try {
  console.log(`churn: ${rate} register/requests/deregister cycles per second for ${seconds} s`);
  await sample('before');
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  let nextSample = 10_000;
  const churnStart = performance.now();
  while (performance.now() - churnStart < seconds * 1000) {
    const due = Math.floor(((performance.now() - churnStart) / 1000) * rate);
    while (sent < due) {
      const cycle = churnOnce(sent++);
      inflight.add(cycle);
      void cycle.finally(() => inflight.delete(cycle));
    }
    if (performance.now() - churnStart >= nextSample) {
      await sample(`churning`);
      nextSample += 10_000;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(inflight);
  console.log(`${cycles} cycles done, ${failures} failed`);
  await sample('churn stopped');
  for (let i = 1; i <= 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    await sample(`+${i * 10} s idle`);
  }
} finally {
  await agent.close();
  await portico.stop('SIGKILL');
  await upstream.close();
}

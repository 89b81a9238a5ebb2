/**
 * The registry churn run of issue 12, item 6, as a standalone script (not a ratio benchmark): instances register,
 * take a few requests and deregister, `--rate` per second for `--seconds`, against one Portico whose service has a
 * circuit breaker. Prints, every 10 s and after the churn, Portico's RSS and V8 heap, its per-instance metric
 * series, its breakers and the instances it routes to.
 *
 * `--in-process` runs the gateway in this process instead of a child, so that the heap still used after a forced
 * full GC (what the gateway really retains, as opposed to heap V8 keeps committed) can be printed; run it as
 * `node --expose-gc bench/faults/registry-churn.ts --in-process`. RSS then includes the load and the upstream.
 *
 *   node bench/faults/registry-churn.ts [--rate 20] [--seconds 120] [--in-process]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { startGateway } from '../../src/gateway/gateway.ts';
import { startPortico } from '../../test/helpers/portico-process.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '120' },
    'in-process': { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const gc = (globalThis as { gc?: () => void }).gc;

// A bare upstream that keeps nothing per request, so the process's own memory stays the gateway's.
const upstreamServer = createServer((req, res) => {
  req.resume();
  res.end('{"ok":true}');
});
await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
const upstream = { url: `http://127.0.0.1:${(upstreamServer.address() as AddressInfo).port}` };
const configOf = (port: number, adminPort: number): string => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  churn:
    instances: [{ url: "${upstream.url}", id: static }]
    circuitBreaker: { failureRate: 0.5, minRequests: 20, window: 10s, openFor: 30s }
routes:
  - { name: churn, match: { path: /churn/** }, service: churn }
`;

interface Target {
  readonly url: string;
  readonly adminUrl: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  if (!values['in-process']) {
    const child = await startPortico(({ port, adminPort }) => configOf(port, adminPort));
    return {
      url: child.url,
      adminUrl: child.adminUrl,
      pid: child.child.pid as number,
      stop: async () => void (await child.stop('SIGKILL')),
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'portico-churn-'));
  const configFile = join(dir, 'portico.yaml');
  await writeFile(configFile, configOf(0, 0));
  const gateway = await startGateway({ configFile, watchConfig: false });
  return {
    url: `http://127.0.0.1:${gateway.address.port}`,
    adminUrl: `http://127.0.0.1:${gateway.adminAddress.port}`,
    pid: process.pid,
    async stop() {
      await gateway.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const portico = await startTarget();
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

function retainedHeapMb(collect: () => void): string {
  collect();
  collect();
  return (process.memoryUsage().heapUsed / 1024 / 1024).toFixed(1);
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
      `rss ${(await rssMb(portico.pid)).toFixed(1).padStart(6)} MB`,
      `heap used/total ${heapMb('nodejs_heap_size_used_bytes')}/${heapMb('nodejs_heap_size_total_bytes')} MB`,
      ...(values['in-process'] && gc !== undefined ? [`heap after full GC ${retainedHeapMb(gc)} MB`] : []),
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
  await portico.stop();
  upstreamServer.closeAllConnections();
  await new Promise((resolve) => upstreamServer.close(resolve));
}

/**
 * Registry change-to-routable across nodes on highly available Redis (issue 19, "change-to-routable across nodes
 * with Sentinel and with Cluster, target p99 < 100 ms"), as a standalone script (not a ratio benchmark, not in
 * `npm run bench`). For each topology, started privately for the run — one `redis-server` (the reference),
 * Sentinel (primary + replica + one sentinel) and Cluster (three primaries) — two Portico nodes A and B; each
 * sample registers a fresh instance into an empty service at A's admin API and times from just before the PUT
 * to B's first 200 of back-to-back GETs on one keep-alive connection; the instance is then deregistered and the
 * script waits until B stops routing it, so every sample starts from an empty service.
 *
 *   node bench/distributed/change-to-routable.ts [--samples 200] [--topologies single,sentinel,cluster]
 */
import { parseArgs } from 'node:util';
import { Client, request } from 'undici';
import { startPortico, type PorticoProcess } from '../../test/helpers/portico-process.ts';
import { startRedisServer } from '../../test/helpers/redis-server.ts';
import { startClusterTopology, startSentinelTopology } from '../../test/helpers/redis-topology.ts';
import { startUpstream } from '../../test/helpers/upstream.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    topologies: { type: 'string', default: 'single,sentinel,cluster' },
  },
});
const samples = Number(values.samples);
const sampleTimeoutMs = 3000;

/** How a topology is started and how `store:` names it. */
interface Topology {
  readonly store: string;
  stop(): Promise<void>;
}

const starters: Record<string, () => Promise<Topology>> = {
  async single() {
    const redis = await startRedisServer();
    return { store: `{ kind: redis, url: "${redis.url}" }`, stop: () => redis.stop() };
  },
  async sentinel() {
    const redis = await startSentinelTopology();
    return {
      store: `{ kind: redis, sentinels: ${JSON.stringify(redis.sentinels)}, name: ${redis.name} }`,
      stop: () => redis.stop(),
    };
  },
  async cluster() {
    const cluster = await startClusterTopology();
    return { store: `{ kind: redis, nodes: ${JSON.stringify(cluster.nodes)} }`, stop: () => cluster.stop() };
  },
};

const upstream = await startUpstream('lat');
try {
  for (const name of values.topologies.split(',')) {
    const start = starters[name];
    if (start === undefined) throw new Error(`unknown topology ${name}`);
    const topology = await start();
    const nodes: PorticoProcess[] = [];
    try {
      const config = ({ port, adminPort }: { port: number; adminPort: number }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: ${topology.store}
logging: { level: warn, accessLog: false }
services:
  lat: {}
routes:
  - { name: lat, match: { path: "/**" }, service: lat }
`;
      nodes.push(...(await Promise.all([startPortico(config), startPortico(config)])));
      const [a, b] = nodes as [PorticoProcess, PorticoProcess];
      const result = await measure(a, b);
      console.log(
        `${name.padEnd(8)} ${samples} samples, registered at A, routed at B (ms from before the PUT): ` +
          `routable ${summary(result.routableMs)}; write answered median ${at(result.ackMs, 0.5)}` +
          (result.timeouts > 0 ? `; ${result.timeouts} not routable within ${sampleTimeoutMs} ms` : ''),
      );
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
      await topology.stop();
    }
  }
} finally {
  await upstream.close();
}

async function measure(
  writer: PorticoProcess,
  reader: PorticoProcess,
): Promise<{ routableMs: number[]; ackMs: number[]; timeouts: number }> {
  const gateway = new Client(reader.url, { keepAliveTimeout: 30_000 });
  const admin = new Client(writer.adminUrl, { keepAliveTimeout: 30_000 });
  const out = { routableMs: [] as number[], ackMs: [] as number[], timeouts: 0 };
  const instance = JSON.stringify({ url: upstream.url, version: '1.0.0', ttl: '1h' });
  try {
    for (let i = 0; i < samples; i++) {
      const path = `/v1/services/lat/instances/s${i}`;
      const start = performance.now();
      const put = admin
        .request({ method: 'PUT', path, headers: { 'content-type': 'application/json' }, body: instance })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode !== 201) throw new Error(`register answered ${res.statusCode}`);
          out.ackMs.push(performance.now() - start);
        });
      const routed = await pollUntil(gateway, (status) => status === 200, start + sampleTimeoutMs);
      const end = performance.now();
      await put;
      if (routed) out.routableMs.push(end - start);
      else out.timeouts++;
      await (await request(`${writer.adminUrl}${path}`, { method: 'DELETE' })).body.dump();
      await pollUntil(gateway, (status) => status !== 200, performance.now() + sampleTimeoutMs);
    }
  } finally {
    await gateway.close();
    await admin.close();
  }
  return out;
}

/** GETs back to back on one keep-alive connection until `want(status)` or the deadline. */
async function pollUntil(
  gateway: Client,
  want: (status: number) => boolean,
  deadline: number,
): Promise<boolean> {
  while (performance.now() < deadline) {
    try {
      const res = await gateway.request({ method: 'GET', path: '/x' });
      await res.body.dump();
      if (want(res.statusCode)) return true;
    } catch {
      // A refused or reset request is "not yet".
    }
  }
  return false;
}

/** Nearest rank. */
function at(values: readonly number[], q: number): string {
  const sorted = [...values].sort((x, y) => x - y);
  return (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN).toFixed(
    1,
  );
}

function summary(values: readonly number[]): string {
  return `median ${at(values, 0.5)}, p90 ${at(values, 0.9)}, p99 ${at(values, 0.99)}, max ${at(values, 1)}`;
}

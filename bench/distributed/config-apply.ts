/**
 * Configuration apply across nodes (issue 19, "config apply to three nodes, target < 1 s to all"), as a standalone
 * script (not a ratio benchmark, not in `npm run bench`): three nodes started with `--config-from-store` on Redis;
 * each round stores a new revision through one node's `POST /v1/config` and measures, from the store's reply,
 * (a) until every node reports the revision in `GET /v1/config/status` and (b) until every node routes with it.
 *
 *   node bench/distributed/config-apply.ts [--rounds 30] [--redis redis://127.0.0.1:6379]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startPorticoFromStore, type PorticoProcess } from '../../test/helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '30' }, redis: { type: 'string', default: sharedRedisUrl } },
});
const rounds = Number(values.rounds);
const redis = values.redis;
const prefix = `portico-bench:${randomUUID()}:`;

const document = (upstream: TestUpstream, round: number): string => `
listen: 127.0.0.1:\${GW_PORT}
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${redis}", prefix: "${prefix}" }
services:
  colour: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: colour-${round}, match: { path: /colour }, service: colour }
`;

const upstreams = [await startUpstream('blue'), await startUpstream('green')];
const nodes: PorticoProcess[] = [];
try {
  const seed = await fetchSeed();
  nodes.push(
    ...(await Promise.all(
      [1, 2, 3].map((n) => startPorticoFromStore({ store: redis, prefix, nodeId: `bench-${n}` })),
    )),
  );
  const reported: number[] = [];
  const routed: number[] = [];
  for (let round = seed + 1; round <= seed + rounds; round++) {
    const upstream = upstreams[round % 2] as TestUpstream;
    const res = await fetch(`${(nodes[round % 3] as PorticoProcess).adminUrl}/v1/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: document(upstream, round),
    });
    const stored = performance.now();
    const { revision } = (await res.json()) as { revision: number };
    await until(async () => {
      const status = (await (
        await fetch(`${(nodes[0] as PorticoProcess).adminUrl}/v1/config/status`)
      ).json()) as {
        nodes: { revision: number }[];
      };
      return status.nodes.length === 3 && status.nodes.every((n) => n.revision === revision);
    });
    reported.push(performance.now() - stored);
    await until(async () => {
      const answers = await Promise.all(
        nodes.map(
          async (node) =>
            ((await (await fetch(`${node.url}/colour`)).json()) as { upstream: string }).upstream,
        ),
      );
      return answers.every((name) => name === upstream.name);
    });
    routed.push(performance.now() - stored);
  }
  console.log(`config apply to three nodes on Redis, ${rounds} revisions (ms from the store's reply):`);
  console.log(`  every node reports the revision: ${summary(reported)}`);
  console.log(`  every node routes with it:        ${summary(routed)}`);
} finally {
  await Promise.all(nodes.map((node) => node.stop()));
  await Promise.all(upstreams.map((upstream) => upstream.close()));
  await deleteRedisKeys(redis, prefix);
}

/** Stores the first revision straight away (the nodes need one to start); returns its number. */
async function fetchSeed(): Promise<number> {
  const { createRedisFleetStore } = await import('../../src/store/redis-fleet-store.ts');
  const fleet = await createRedisFleetStore({ url: redis, prefix });
  try {
    return (await fleet.addRevision(document(upstreams[0] as TestUpstream, 0), 'bench', 'apply')).revision
      .revision;
  } finally {
    await fleet.close();
  }
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('not applied within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
  return `median ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, max ${at(1)}`;
}

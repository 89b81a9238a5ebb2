import { markDisturbance, otherCpuShareSince } from '../lib/disturbance.ts';
import { Client } from 'undici';
import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec, RunningContender } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import type { BenchStore } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import { BENCH_REDIS_URL, deletePrefix, uniquePrefix } from '../lib/redis-prefix.ts';
import { createRegistryClient } from '../lib/registry-client.ts';
import { summarize } from '../lib/stats.ts';
import type { ResultRow, Scenario } from './scenario.ts';

const SERVICE = 'lat';
const EMBEDDED = 'portico-embedded';
const REDIS_A = 'portico-redis-a-to-b';
const REDIS_B = 'portico-redis-b';
const SAMPLE_TIMEOUT_MS = 3000;
const samplesOf = (quick: boolean): number => (quick ? 60 : 200);

function latencySpec(label: string, store: (dir: string) => BenchStore): ContenderSpec {
  return porticoWith(label, {
    // The service starts empty, so a request is routable exactly when the registered instance is.
    config: (s) =>
      porticoHeadYaml(s.port, s.adminPort, store(s.storeDir)) +
      `services:\n  ${SERVICE}: {}\nroutes:\n  - { name: bench, match: { path: "/**" }, service: ${SERVICE} }\n`,
    probePath: undefined,
  });
}

/** A percentile by nearest rank over finite samples. */
function percentile(values: readonly number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** GETs through `gateway` back to back on one keep-alive connection until `want(status)` or the deadline. */
async function pollUntil(
  gateway: Client,
  want: (status: number) => boolean,
  deadline: number,
): Promise<boolean> {
  while (performance.now() < deadline) {
    try {
      const res = await gateway.request({ method: 'GET', path: PATHS.small });
      await res.body.dump();
      if (want(res.statusCode)) return true;
    } catch {
      // A refused or reset request is simply "not yet".
    }
  }
  return false;
}

interface LatencySamples {
  routableMs: number[];
  ackMs: number[];
  timeouts: number;
  errors: string[];
}

/**
 * Registers one fresh instance at `writer`'s admin API and polls `reader`'s gateway until the first 200,
 * timing from just before the PUT; then deregisters it and waits for the gateway to stop routing, so every
 * sample starts from an empty service.
 */
async function measure(
  writer: RunningContender,
  reader: RunningContender,
  count: number,
  upstream: string,
): Promise<LatencySamples> {
  const registry = createRegistryClient(writer.adminOrigin!, 2);
  const gateway = new Client(reader.origin, { keepAliveTimeout: 30_000 });
  const out: LatencySamples = { routableMs: [], ackMs: [], timeouts: 0, errors: [] };
  try {
    for (let i = 0; i < count; i++) {
      const id = `s${i}`;
      const start = performance.now();
      let ackMs = Number.NaN;
      const put = registry
        .register(SERVICE, id, { url: upstream, version: '1.0.0', ttl: '1h' })
        .then((status) => {
          ackMs = performance.now() - start;
          if (status >= 300) out.errors.push(`register answered ${status}`);
        });
      const routed = await pollUntil(gateway, (s) => s === 200, start + SAMPLE_TIMEOUT_MS);
      const end = performance.now();
      await put;
      out.ackMs.push(ackMs);
      if (routed) out.routableMs.push(end - start);
      else out.timeouts++;
      await registry.deregister(SERVICE, id);
      await pollUntil(gateway, (s) => s !== 200, performance.now() + SAMPLE_TIMEOUT_MS);
    }
  } finally {
    await gateway.close();
    await registry.close();
  }
  return out;
}

/**
 * Change-to-routable latency: embedded store (register and route on one node) and Redis (register at node A,
 * route at node B; both on one unique key prefix, deleted afterwards).
 */
export function createRegistryLatencyScenario(): Scenario {
  const prefix = uniquePrefix();
  const redis = (): BenchStore => ({ kind: 'redis', url: BENCH_REDIS_URL, prefix });
  const contenders = [
    latencySpec(EMBEDDED, (path) => ({ kind: 'embedded', path })),
    latencySpec(REDIS_A, redis),
    latencySpec(REDIS_B, redis),
  ];
  return {
    name: 'registry-latency',
    title: 'Registry change-to-routable latency (Portico)',
    description:
      'From just before `PUT /v1/services/<s>/instances/<id>` to the first 200 of back-to-back GETs through the gateway ' +
      '(one keep-alive connection); each sample registers a fresh instance into an empty service and deregisters it after. ' +
      `Embedded: one node. Redis: registered at node A, routed at node B. ${samplesOf(false)} samples per store in a full run ` +
      `(${samplesOf(true)} quick). Targets: p99 under 10 ms embedded, under 100 ms across nodes.`,
    contenders,
    estimateS: (o) => 3 * 2 + 2 * samplesOf(o.quick) * 0.035 + 2,
    async run(ctx, started) {
      const count = samplesOf(ctx.options.quick);
      const rows: ResultRow[] = [];
      try {
        const pairs: [string, RunningContender | undefined, RunningContender | undefined][] = [
          [EMBEDDED, started.find((c) => c.label === EMBEDDED), started.find((c) => c.label === EMBEDDED)],
          [REDIS_A, started.find((c) => c.label === REDIS_A), started.find((c) => c.label === REDIS_B)],
        ];
        for (const [label, writer, reader] of pairs) {
          if (writer === undefined || reader === undefined) continue;
          const mark = await markDisturbance();
          const s = await measure(writer, reader, count, ctx.upstream.origin);
          const other = await otherCpuShareSince(mark);
          const p50 = percentile(s.routableMs, 50);
          const p99 = percentile(s.routableMs, 99);
          ctx.log(
            `  ${label}: routable p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ` +
              `write acknowledged p50 ${percentile(s.ackMs, 50).toFixed(2)} ms (${s.routableMs.length}/${count}); ` +
              `other processes used ${(other * 100).toFixed(0)}% of the machine`,
          );
          const notes = [...new Set(s.errors)];
          if (s.timeouts > 0)
            notes.push(`${s.timeouts} of ${count} not routable within ${SAMPLE_TIMEOUT_MS} ms`);
          if (label === REDIS_A) notes.push('registered at A, routed at B');
          // Tail latency is what other processes disturb most; the share tells a quiet run from a loaded one.
          if (other > ctx.options.maxDisturbance)
            notes.push(`other processes used ${(other * 100).toFixed(0)}% CPU`);
          rows.push({
            label,
            status: 'ok',
            notes,
            metrics: {
              p50: summarize([p50]),
              p99: summarize([p99]),
              max: summarize([Math.max(...s.routableMs)]),
              ack: summarize([percentile(s.ackMs, 50)]),
            },
          });
        }
      } finally {
        // Stop both Redis nodes before deleting their keys, or they would write some back.
        await Promise.all(started.filter((c) => c.label !== EMBEDDED).map((c) => c.stop()));
        await deletePrefix(BENCH_REDIS_URL, prefix);
      }
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: [
          { key: 'p50', label: 'routable p50', unit: 'ms', decimals: 2, ratioTo: [] },
          { key: 'p99', label: 'routable p99', unit: 'ms', decimals: 2, ratioTo: [] },
          { key: 'max', label: 'routable max', unit: 'ms', decimals: 2, ratioTo: [] },
          { key: 'ack', label: 'write answered p50', unit: 'ms', decimals: 2, ratioTo: [] },
        ],
      };
    },
  };
}

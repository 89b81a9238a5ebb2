import { setTimeout as sleep } from 'node:timers/promises';
import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec, RunningContender } from '../contenders/contender.ts';
import { fillerRoutesYaml, porticoHeadYaml } from '../contenders/portico-config.ts';
import type { BenchStore } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import { BENCH_REDIS_URL, deletePrefix, uniquePrefix } from '../lib/redis-prefix.ts';
import { createRegistryClient, instanceIds } from '../lib/registry-client.ts';
import type { BatchResult } from '../lib/registry-client.ts';
import { treeMemoryBytes } from '../lib/rss.ts';
import { summarize } from '../lib/stats.ts';
import { measureRounds } from './rounds.ts';
import type { BenchOptions, ResultRow, Scenario } from './scenario.ts';

const SERVICE = 'reg';
const ONE = 'portico-1-instance';
const MANY = 'portico-10000-instances';
const REDIS = 'portico-redis-registry';
const MANY_COUNT = 10_000;
/** Rates settle within a couple of thousand calls; the Redis node and all heartbeats use this many. */
const RATE_SAMPLE = 2000;
const ROUTES = 1000;
const CONCURRENCY = 32;
// Long enough for an idle node to trim its young generation (src/gateway/lifecycle/heap-trim.ts: 15 idle checks in
// a row, every 2 s).
const SETTLE_MS = 40_000;
const MB = 2 ** 20;
const durationOf = (o: BenchOptions): number => Math.min(o.durationS, 3);

function registrySpec(
  label: string,
  store: (dir: string) => BenchStore,
  afterStop?: () => Promise<void>,
): ContenderSpec {
  return porticoWith(label, {
    // No static instance: every instance of the service comes from the registry API.
    config: (s) =>
      porticoHeadYaml(s.port, s.adminPort, store(s.storeDir)) +
      `services:\n  ${SERVICE}: {}\nroutes:\n` +
      fillerRoutesYaml(ROUTES - 1, SERVICE) +
      `  - { name: bench, match: { path: "/**" }, service: ${SERVICE} }\n`,
    probePath: undefined,
    ...(afterStop === undefined ? {} : { afterStop }),
  });
}

interface Registered {
  registrations: BatchResult;
  heartbeats: BatchResult;
}

async function registerAndBeat(
  ctx: { log(m: string): void },
  c: RunningContender,
  count: number,
  url: string,
): Promise<Registered> {
  const client = createRegistryClient(c.adminOrigin!, CONCURRENCY);
  try {
    const ids = instanceIds(count);
    const body = { url, version: '1.0.0', ttl: '1h' };
    const registrations = await client.registerMany(SERVICE, ids, body, CONCURRENCY);
    const heartbeats = await client.heartbeatMany(SERVICE, ids.slice(0, RATE_SAMPLE), CONCURRENCY);
    ctx.log(
      `  ${c.label}: ${registrations.done} registered at ${registrations.perSecond.toFixed(0)}/s, ` +
        `${heartbeats.done} heartbeats at ${heartbeats.perSecond.toFixed(0)}/s` +
        (registrations.failed + heartbeats.failed > 0
          ? ` (${registrations.failed + heartbeats.failed} failed)`
          : ''),
    );
    return { registrations, heartbeats };
  } finally {
    await client.close();
  }
}

function batchNotes(r: Registered): string[] {
  const notes: string[] = [];
  for (const [what, b] of [
    ['registrations', r.registrations],
    ['heartbeats', r.heartbeats],
  ] as const) {
    if (b.failed > 0) notes.push(`${b.failed} ${what} failed: ${b.firstError ?? ''}`.slice(0, 200));
  }
  return notes;
}

/**
 * Portico with 1,000 routes and 1 registered instance against the same with 10,000 (same upstream URL,
 * distinct ids): idle RSS after registering, then req/s and p99 under load. A third Portico on Redis
 * (unique key prefix, deleted afterwards) measures registration and heartbeat throughput on that store.
 */
export function createInstancesScenario(): Scenario {
  const prefix = uniquePrefix();
  const contenders = [
    registrySpec(ONE, (path) => ({ kind: 'embedded', path })),
    registrySpec(MANY, (path) => ({ kind: 'embedded', path })),
    registrySpec(
      REDIS,
      () => ({ kind: 'redis', url: BENCH_REDIS_URL, prefix }),
      async () => {
        await deletePrefix(BENCH_REDIS_URL, prefix);
      },
    ),
  ];
  return {
    name: 'instances',
    title: 'Registry: 1 vs 10,000 registered instances, 1,000 routes (Portico), 101 B JSON, 50 connections',
    description:
      `Instances registered through \`PUT /v1/services/${SERVICE}/instances/<id>\` (${CONCURRENCY} in flight, same URL, distinct ids), ` +
      `then ${RATE_SAMPLE.toLocaleString('en-US')} heartbeats; ` +
      `idle RSS (VmRSS) ${SETTLE_MS} ms after that; then GET ${PATHS.small} at 50 connections. The Redis row only registers ` +
      `${RATE_SAMPLE.toLocaleString('en-US')} (127.0.0.1:6379, a unique key prefix deleted afterwards). Targets: per-request cost unchanged; idle RSS under 150 MB.`,
    contenders,
    quick: false,
    // Start-up with 1,000 routes, ~25 s for 10,000 fsynced registrations, then the load rounds.
    estimateS: (o) => 3 * 3 + 35 + 2 * (o.warmupS + o.rounds * durationOf(o) + 1) + 2,
    async run(ctx, started) {
      const url = ctx.upstream.origin;
      const registered = new Map<string, Registered>();
      const idle = new Map<string, number>();
      for (const c of started) {
        const count = c.label === ONE ? 1 : c.label === REDIS ? RATE_SAMPLE : MANY_COUNT;
        registered.set(c.label, await registerAndBeat(ctx, c, count, url));
        if (c.label === REDIS) continue;
        await sleep(SETTLE_MS);
        const rss = (await treeMemoryBytes(c.process?.pid ?? -1, 'VmRSS')) / MB;
        idle.set(c.label, rss);
        ctx.log(`  ${c.label}: idle RSS ${rss.toFixed(1)} MB`);
      }
      const loaded = started.filter((c) => c.label !== REDIS);
      const samples = await measureRounds(ctx, loaded, {
        path: PATHS.small,
        connections: 50,
        durationS: durationOf(ctx.options),
        rounds: ctx.options.rounds,
        // Round-robin over 10,000 instances opens each one's upstream connection on its first request: the
        // warm-up must pass them all before the rounds measure the steady state.
        warmupS: ctx.options.warmupS,
      });
      const rows: ResultRow[] = started.map((c) => {
        const r = registered.get(c.label)!;
        const s = samples.get(c.label);
        const many = c.label !== ONE;
        return {
          label: c.label,
          status: 'ok',
          notes: [...batchNotes(r), ...new Set(s?.notes ?? [])],
          metrics: {
            ...(s === undefined
              ? {}
              : {
                  rps: summarize(s.results.map((x) => x.rps)),
                  p99: summarize(s.results.map((x) => x.p99Ms)),
                }),
            ...(idle.has(c.label) ? { idle: summarize([idle.get(c.label)!]) } : {}),
            ...(many
              ? {
                  registrations: summarize([r.registrations.perSecond]),
                  heartbeats: summarize([r.heartbeats.perSecond]),
                }
              : {}),
          },
        };
      });
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: [
          { key: 'rps', label: 'req/s', unit: '', decimals: 0, ratioTo: [ONE] },
          { key: 'p99', label: 'p99', unit: 'ms', decimals: 2, ratioTo: [ONE] },
          { key: 'idle', label: 'idle RSS', unit: 'MB', decimals: 1, ratioTo: [] },
          { key: 'registrations', label: 'registrations/s', unit: '', decimals: 0, ratioTo: [] },
          { key: 'heartbeats', label: 'heartbeats/s', unit: '', decimals: 0, ratioTo: [] },
        ],
      };
    },
  };
}

import { fileURLToPath } from 'node:url';
import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import type { ManagedProcess } from '../lib/processes.ts';
import { summarize } from '../lib/stats.ts';
import { freePort, getStatus, waitUntil } from '../lib/wait.ts';
import { measureRounds } from './rounds.ts';
import type { RoundSamples } from './rounds.ts';
import type { BenchOptions, ResultRow, Scenario } from './scenario.ts';

const SINGLE = 'portico-single-call';
const AGGREGATE = 'portico-aggregate-3';
const DELAY_MS = 5;
const CONNECTIONS = 50;
const durationOf = (o: BenchOptions): number => Math.min(o.durationS, 2);

/**
 * Two Portico configs in front of the same delayed upstream: one proxied call, or an aggregate of three
 * parallel calls to it. Both answer on `/**`, so both are loaded with the same path.
 */
function aggregateSpec(label: string, aggregate: boolean, upstream: () => string): ContenderSpec {
  return porticoWith(label, {
    config(s) {
      const head = porticoHeadYaml(s.port, s.adminPort, { kind: 'embedded', path: s.storeDir });
      const service = `services:\n  slow: { instances: [ { url: ${JSON.stringify(upstream())} } ] }\n`;
      if (!aggregate)
        return `${head}${service}routes:\n  - { name: one, match: { path: "/**" }, service: slow }\n`;
      const call = `{ service: slow, path: ${PATHS.small} }`;
      return (
        `${head}${service}aggregates:\n` +
        `  - name: three\n    match: { path: "/**" }\n` +
        `    calls: { a: ${call}, b: ${call}, c: ${call} }\n`
      );
    },
    probePath: PATHS.small,
  });
}

/**
 * An aggregate of three parallel calls against one proxied call, to an upstream that answers after 5 ms:
 * latency on one connection (the parallel calls should cost one delay, not three) and throughput at 50.
 */
export function createAggregateScenario(): Scenario {
  let upstream: ManagedProcess | undefined;
  let origin = '';
  const contenders = [
    aggregateSpec(SINGLE, false, () => origin),
    aggregateSpec(AGGREGATE, true, () => origin),
  ];
  return {
    name: 'aggregate',
    title: `Aggregate of 3 parallel calls vs 1 proxied call (Portico), upstream answering after ${DELAY_MS} ms`,
    description:
      `GET through an aggregate route with three calls to a node:http upstream that answers 101 B JSON after a ${DELAY_MS} ms timer ` +
      '(on the support CPU), against a plain route proxying one call to it; latency on 1 connection, req/s and p99 at ' +
      `${CONNECTIONS} connections.`,
    contenders,
    quick: false,
    estimateS: (o) => 3 + contenders.length * (2 * (1 + o.rounds * durationOf(o)) + 2) + 2,
    async setup(ctx) {
      const port = await freePort();
      origin = `http://127.0.0.1:${port}`;
      const script = fileURLToPath(new URL('../lib/delayed-upstream.ts', import.meta.url));
      upstream = ctx.group.spawn(
        'delayed-upstream',
        process.execPath,
        [script, String(port), String(DELAY_MS)],
        {
          cpus: ctx.supportCpus,
        },
      );
      if (!(await waitUntil(async () => (await getStatus(origin + PATHS.small)) === 200, 10_000))) {
        await upstream.stop(500);
        throw new Error(`delayed upstream did not start: ${upstream.output().slice(-300)}`);
      }
    },
    async run(ctx, started) {
      try {
        const plan = {
          path: PATHS.small,
          durationS: durationOf(ctx.options),
          rounds: ctx.options.rounds,
          warmupS: 1,
        };
        ctx.log('  1 connection');
        const one = await measureRounds(ctx, started, { ...plan, connections: 1 });
        ctx.log(`  ${CONNECTIONS} connections`);
        const many = await measureRounds(ctx, started, { ...plan, connections: CONNECTIONS });
        const notes = (s: RoundSamples | undefined): string[] => s?.notes ?? [];
        const rows: ResultRow[] = started.map((c) => {
          const a = one.get(c.label);
          const b = many.get(c.label);
          return {
            label: c.label,
            status: 'ok',
            notes: [...new Set([...notes(a), ...notes(b)])],
            metrics: {
              p50one: summarize(a?.results.map((r) => r.p50Ms) ?? []),
              p99one: summarize(a?.results.map((r) => r.p99Ms) ?? []),
              rps: summarize(b?.results.map((r) => r.rps) ?? []),
              p99: summarize(b?.results.map((r) => r.p99Ms) ?? []),
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
            { key: 'p50one', label: 'p50 @1', unit: 'ms', decimals: 2, ratioTo: [SINGLE] },
            { key: 'p99one', label: 'p99 @1', unit: 'ms', decimals: 2, ratioTo: [SINGLE] },
            { key: 'rps', label: `req/s @${CONNECTIONS}`, unit: '', decimals: 0, ratioTo: [SINGLE] },
            { key: 'p99', label: `p99 @${CONNECTIONS}`, unit: 'ms', decimals: 2, ratioTo: [SINGLE] },
          ],
        };
      } finally {
        await upstream?.stop();
      }
    },
  };
}

import { plainContenders } from '../contenders/catalog.ts';
import { PATHS } from '../lib/payloads.ts';
import { summarize } from '../lib/stats.ts';
import { measureRounds } from './rounds.ts';
import type { BenchOptions, ResultRow, Scenario } from './scenario.ts';

/** Rounds here are short: one connection settles its median within a few seconds. */
const durationOf = (o: BenchOptions): number => Math.min(o.durationS, 2);

/**
 * Latency a contender adds on one connection: its mean time per request minus direct's of the same round, so a
 * noisy round moves both numbers together. On one closed-loop connection the mean is exactly 1 / req/s, at
 * microsecond resolution whatever the load generator (autocannon reports latencies in whole milliseconds, so its
 * p50 here is 0 or 1 ms).
 */
export function createAddedLatencyScenario(): Scenario {
  const contenders = plainContenders();
  return {
    name: 'added-latency',
    title: 'Added latency, 101 B JSON, 1 connection',
    description: `GET ${PATHS.small} on one connection; mean = 1 / req/s; added = mean through the contender − mean direct, paired by round.`,
    contenders,
    estimateS: (o) => contenders.length * (Math.min(o.warmupS, 1) + o.rounds * durationOf(o) + 0.8) + 2,
    async run(ctx, started) {
      const { rounds, warmupS } = ctx.options;
      const samples = await measureRounds(ctx, started, {
        path: PATHS.small,
        connections: 1,
        durationS: durationOf(ctx.options),
        rounds,
        warmupS: Math.min(warmupS, 1),
      });
      const directResults = samples.get('direct')?.results ?? [];
      const rows: ResultRow[] = [];
      for (const c of started) {
        const s = samples.get(c.label)!;
        const added = s.results.map(
          (r, round) => meanUs(r.rps) - meanUs(directResults[round]?.rps ?? Number.NaN),
        );
        rows.push({
          label: c.label,
          status: 'ok',
          notes: [...new Set(s.notes)],
          metrics: {
            mean: summarize(s.results.map((r) => meanUs(r.rps))),
            added: summarize(c.label === 'direct' ? [] : added),
          },
        });
      }
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: [
          { key: 'mean', label: 'mean', unit: 'µs', decimals: 0, ratioTo: [] },
          { key: 'added', label: 'added mean', unit: 'µs', decimals: 0, ratioTo: ['node-floor'] },
        ],
      };
    },
  };
}

/** Mean time per request on one closed-loop connection. */
function meanUs(rps: number): number {
  return 1e6 / rps;
}

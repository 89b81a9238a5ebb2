import { plainContenders } from '../contenders/catalog.ts';
import { PATHS } from '../lib/payloads.ts';
import { summarize } from '../lib/stats.ts';
import { measureRounds } from './rounds.ts';
import type { BenchOptions, ResultRow, Scenario } from './scenario.ts';

/** Rounds here are short: one connection settles its median within a few seconds. */
const durationOf = (o: BenchOptions): number => Math.min(o.durationS, 2);

/**
 * Latency a contender adds on one connection: its p50 minus direct's p50 of the same round, so a noisy
 * round moves both numbers together.
 */
export function createAddedLatencyScenario(): Scenario {
  const contenders = plainContenders();
  return {
    name: 'added-latency',
    title: 'Added latency, 101 B JSON, 1 connection',
    description: `GET ${PATHS.small} on one connection; added = p50 through the contender − p50 direct, paired by round.`,
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
          (r, round) => (r.p50Ms - (directResults[round]?.p50Ms ?? Number.NaN)) * 1000,
        );
        rows.push({
          label: c.label,
          status: 'ok',
          notes: [...new Set(s.notes)],
          metrics: {
            p50: summarize(s.results.map((r) => r.p50Ms * 1000)),
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
          { key: 'p50', label: 'p50', unit: 'µs', decimals: 0, ratioTo: [] },
          { key: 'added', label: 'added p50', unit: 'µs', decimals: 0, ratioTo: ['node-floor'] },
        ],
      };
    },
  };
}

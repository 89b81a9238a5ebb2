import { portico } from '../contenders/catalog.ts';
import { PATHS } from '../lib/payloads.ts';
import { loadColumns, loadRows, measureRounds } from './rounds.ts';
import type { BenchOptions, Scenario } from './scenario.ts';

const SMALL_TABLE = 'portico-10-routes';
const LARGE_TABLE = 'portico-10000-routes';
const durationOf = (o: BenchOptions): number => Math.min(o.durationS, o.quick ? 3 : 4);

/**
 * Portico with 10 routes against Portico with 10,000: `/r<i>/**` routes ahead of the catch-all route that
 * serves the load, so a router that scans in order pays for every one of them.
 */
export function createRouteTableScenario(): Scenario {
  const contenders = [portico(SMALL_TABLE, 9), portico(LARGE_TABLE, 9999)];
  return {
    name: 'route-table',
    title: 'Route table: 10 vs 10,000 routes (Portico), 101 B JSON, 50 connections',
    description: 'The matching route is the last of the table; target: 10,000 routes within 5% of 10.',
    contenders,
    estimateS: (o) => contenders.length * (o.warmupS + o.rounds * durationOf(o) + 2) + 2,
    async run(ctx, started) {
      const { rounds, warmupS } = ctx.options;
      const samples = await measureRounds(ctx, started, {
        path: PATHS.small,
        connections: 50,
        durationS: durationOf(ctx.options),
        rounds,
        warmupS,
      });
      const rows = loadRows(started, samples, {});
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: loadColumns([SMALL_TABLE]),
      };
    },
  };
}

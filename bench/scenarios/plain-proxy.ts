import { plainContenders } from '../contenders/catalog.ts';
import { PATHS } from '../lib/payloads.ts';
import { treeMemoryBytes } from '../lib/rss.ts';
import { summarize } from '../lib/stats.ts';
import { loadMetrics, measureRounds } from './rounds.ts';
import type { ResultRow, Scenario } from './scenario.ts';

const CONNECTIONS = 50;

/** Plain proxying of one fixed document at 50 connections: throughput, latency and peak memory. */
export function createPlainProxyScenario(size: 'small' | 'large'): Scenario {
  const label = size === 'small' ? '101 B' : '16 KiB';
  const contenders = plainContenders(true);
  return {
    name: `plain-${size}`,
    title: `Plain proxy, ${label} JSON, ${CONNECTIONS} connections`,
    description: `GET ${PATHS[size]} through each contender at ${CONNECTIONS} keep-alive connections; peak RSS is VmHWM at the end of the scenario.`,
    contenders,
    estimateS: (o) => contenders.length * (o.warmupS + o.rounds * o.durationS + 0.7) + 3,
    async run(ctx, started) {
      const { rounds, durationS, warmupS } = ctx.options;
      const samples = await measureRounds(ctx, started, {
        path: PATHS[size],
        connections: CONNECTIONS,
        durationS,
        rounds,
        warmupS,
      });
      const rows: ResultRow[] = [];
      for (const c of started) {
        const s = samples.get(c.label)!;
        const metrics = {
          ...loadMetrics(s),
          ...(c.process === undefined || !c.process.alive()
            ? {}
            : { rss: summarize([(await treeMemoryBytes(c.process.pid, 'VmHWM')) / 2 ** 20]) }),
        };
        rows.push({ label: c.label, status: 'ok', metrics, notes: [...new Set(s.notes)] });
      }
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: true,
        rows,
        columns: [
          { key: 'rps', label: 'req/s', unit: '', decimals: 0, ratioTo: ['node-floor', 'direct'] },
          { key: 'p50', label: 'p50', unit: 'ms', decimals: 2, ratioTo: ['node-floor'] },
          { key: 'p99', label: 'p99', unit: 'ms', decimals: 2, ratioTo: ['node-floor'] },
          { key: 'cpu', label: 'CPU/req', unit: 'µs', decimals: 1, ratioTo: ['node-floor'] },
          { key: 'rss', label: 'peak RSS', unit: 'MB', decimals: 1, ratioTo: ['node-floor'] },
        ],
      };
    },
  };
}

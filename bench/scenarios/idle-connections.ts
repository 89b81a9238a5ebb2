import { setTimeout as sleep } from 'node:timers/promises';
import { plainContenders } from '../contenders/catalog.ts';
import { openIdleConnections } from '../lib/idle-connections.ts';
import { PATHS } from '../lib/payloads.ts';
import { treeMemoryBytes } from '../lib/rss.ts';
import { summarize } from '../lib/stats.ts';
import type { ResultRow, Scenario } from './scenario.ts';

const SETTLE_MS = 500;
const MB = 2 ** 20;

/**
 * Memory of idle keep-alive clients: RSS before, then N connections that each made one request and stay open.
 * Measured once per contender (memory is far less noisy than throughput), one contender at a time.
 */
export function createIdleConnectionsScenario(): Scenario {
  const contenders = plainContenders().filter((c) => c.label !== 'direct');
  return {
    name: 'idle-connections',
    title: 'Idle keep-alive client connections: memory',
    description: `After a 3 s warm-up load, RSS (VmRSS) is read; then each connection sends one GET ${PATHS.small} and stays open, and RSS is read again ${SETTLE_MS} ms after the last one.`,
    contenders,
    estimateS: (o) => contenders.length * (3 + o.idleConnections / 1000) + 2,
    async run(ctx, started) {
      const count = ctx.options.idleConnections;
      const rows: ResultRow[] = [];
      for (const c of started) {
        const pid = c.process?.pid ?? -1;
        const url = new URL(c.origin);
        // A load first, so "before" already includes the code, pools and young generation that serving requests
        // warms up (3 s: a node that trimmed its young generation while idle needs that long to grow it back).
        await ctx.load
          .run({ url: c.origin + PATHS.small, connections: 50, durationS: 3 })
          .catch(() => undefined);
        await sleep(SETTLE_MS);
        const before = (await treeMemoryBytes(pid, 'VmRSS')) / MB;
        ctx.log(`  ${c.label}: opening ${count} connections`);
        const idle = await openIdleConnections(url.hostname, Number(url.port), PATHS.small, count);
        await sleep(SETTLE_MS);
        const after = (await treeMemoryBytes(pid, 'VmRSS')) / MB;
        const open = idle.open();
        idle.close();
        const notes = idle.failed > 0 || open < count ? [`${open}/${count} connections held`] : [];
        ctx.log(`  ${c.label}: RSS ${before.toFixed(1)} → ${after.toFixed(1)} MB with ${open} open`);
        rows.push({
          label: c.label,
          status: 'ok',
          notes,
          metrics: {
            before: summarize([before]),
            after: summarize([after]),
            delta: summarize([after - before]),
            perConnection: summarize([((after - before) * 1024) / Math.max(open, 1)]),
          },
        });
      }
      return {
        name: this.name,
        title: `${this.title} (${count.toLocaleString('en-US')})`,
        description: this.description,
        chart: false,
        rows,
        columns: [
          { key: 'before', label: 'RSS before', unit: 'MB', decimals: 1, ratioTo: [] },
          { key: 'after', label: 'RSS with idle', unit: 'MB', decimals: 1, ratioTo: [] },
          { key: 'delta', label: 'added', unit: 'MB', decimals: 1, ratioTo: ['node-floor'] },
          { key: 'perConnection', label: 'per connection', unit: 'KiB', decimals: 2, ratioTo: [] },
        ],
      };
    },
  };
}

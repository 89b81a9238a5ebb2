import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import { loadColumns, loadRows, measureRounds } from './rounds.ts';
import type { BenchOptions, Scenario } from './scenario.ts';

const PLAIN = 'portico-plain';
const CACHED = 'portico-cache-hit';
const CONNECTIONS = 50;
const durationOf = (o: BenchOptions): number => o.durationS;

function cacheSpec(label: string, cached: boolean): ContenderSpec {
  return porticoWith(label, {
    config(s) {
      return Promise.resolve(
        [
          porticoHeadYaml(s.port, s.adminPort, { kind: 'embedded', path: s.storeDir }),
          'services:',
          `  bench: { instances: [ { url: ${JSON.stringify(s.upstreamOrigin)} } ] }`,
          'routes:',
          '  - name: bench',
          '    match: { path: "/**" }',
          '    service: bench',
          ...(cached ? ['    cache: { ttl: 10m }'] : []),
          '',
        ].join('\n'),
      );
    },
    probePath: undefined,
  });
}

/**
 * GET of the 101-byte document through a plain route and through a cached one, where every measured request
 * is a hit (the first request stores the answer). Target: a hit ≥ 2× plain proxying on req/s.
 */
export function createCacheScenario(): Scenario {
  const contenders = [cacheSpec(PLAIN, false), cacheSpec(CACHED, true)];
  return {
    name: 'cache',
    title: `Response cache: hit vs plain proxy (Portico), GET 101 B JSON, ${CONNECTIONS} connections`,
    description:
      `GET ${PATHS.small} on a plain route and on a route with \`cache: { ttl: 10m }\`, warmed so every measured ` +
      'request is a hit that never reaches the upstream. Target: cache hit ≥ 2× plain on req/s.',
    contenders,
    quick: false,
    estimateS: (o) => contenders.length * (Math.min(o.warmupS, 2) + o.rounds * durationOf(o) + 1.5) + 2,
    async run(ctx, started) {
      const { rounds, warmupS } = ctx.options;
      const notes: Record<string, string> = {};
      for (const c of started) {
        await (await fetch(c.origin + PATHS.small)).text();
        const second = await fetch(c.origin + PATHS.small);
        await second.text();
        const label = second.headers.get('portico-cache') ?? 'none';
        ctx.log(`  ${c.label}: GET ${PATHS.small} → ${second.status}, Portico-Cache: ${label}`);
        if (c.label === CACHED && label !== 'hit') notes[c.label] = `second GET was not a hit (${label})`;
      }
      const samples = await measureRounds(ctx, started, {
        path: PATHS.small,
        connections: CONNECTIONS,
        durationS: durationOf(ctx.options),
        rounds,
        warmupS: Math.min(warmupS, 2),
      });
      const rows = loadRows(started, samples, notes);
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: loadColumns([PLAIN]),
      };
    },
  };
}

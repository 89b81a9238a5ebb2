import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import { loadColumns, loadRows, measureRounds } from './rounds.ts';
import type { BenchOptions, Scenario } from './scenario.ts';

const PLAIN = 'portico-plain';
const GZIP = 'portico-gzip';
const BROTLI = 'portico-br';
const GZIP_CACHED = 'portico-gzip-cache-hit';
const CONNECTIONS = 50;
const durationOf = (o: BenchOptions): number => o.durationS;

function compressSpec(label: string, encodings: string | undefined, cached = false): ContenderSpec {
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
          ...(encodings === undefined ? [] : [`    compress: { encodings: [${encodings}] }`]),
          ...(cached ? ['    cache: { ttl: 10m }'] : []),
          '',
        ].join('\n'),
      );
    },
    probePath: undefined,
  });
}

/**
 * GET of the 16 KiB JSON document through a plain route and through routes that compress it (gzip, or br),
 * every request sending `Accept-Encoding: br, gzip`: what compressing each answer costs in req/s and CPU.
 * A fourth route adds the cache to gzip: every measured request is a hit for a gzip client.
 */
export function createCompressionScenario(): Scenario {
  const contenders = [
    compressSpec(PLAIN, undefined),
    compressSpec(GZIP, 'gzip'),
    compressSpec(BROTLI, 'br'),
    compressSpec(GZIP_CACHED, 'gzip', true),
  ];
  return {
    name: 'compression',
    title: `Compression: gzip and br vs plain (Portico), GET 16 KiB JSON, ${CONNECTIONS} connections`,
    description:
      `GET ${PATHS.large} with \`Accept-Encoding: br, gzip\` on a plain route and on routes with \`compress\` ` +
      '(gzip only, br only), streamed at the default levels: the cost of compressing every answer; and gzip ' +
      'with `cache: { ttl: 10m }`, warmed, so every measured request is a hit for a gzip client.',
    contenders,
    quick: false,
    estimateS: (o) => contenders.length * (Math.min(o.warmupS, 2) + o.rounds * durationOf(o) + 1.5) + 2,
    async run(ctx, started) {
      const { rounds, warmupS } = ctx.options;
      const notes: Record<string, string> = {};
      for (const c of started) {
        const res = await fetch(c.origin + PATHS.large, { headers: { 'accept-encoding': 'br, gzip' } });
        await res.arrayBuffer();
        const encoding = res.headers.get('content-encoding') ?? 'identity';
        ctx.log(`  ${c.label}: GET ${PATHS.large} → ${res.status}, Content-Encoding: ${encoding}`);
        const expected =
          c.label === GZIP || c.label === GZIP_CACHED ? 'gzip' : c.label === BROTLI ? 'br' : 'identity';
        if (encoding !== expected) notes[c.label] = `answer was ${encoding}, expected ${expected}`;
      }
      const samples = await measureRounds(ctx, started, {
        path: PATHS.large,
        headers: { 'accept-encoding': 'br, gzip' },
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

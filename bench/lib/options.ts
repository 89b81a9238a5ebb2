import { parseArgs } from 'node:util';
import type { BenchOptions } from '../scenarios/scenario.ts';

/**
 * Reads the command line; `--quick` is 1 round × 2 s, the default 5 rounds × 4 s. Rounds are short so that
 * the full line-up and every scenario fit in 15 minutes; on these noisy machines more rounds help the medians
 * far more than longer ones.
 */
export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      idle: { type: 'string' },
      'max-disturbance': { type: 'string' },
      retries: { type: 'string' },
      only: { type: 'string' },
      contenders: { type: 'string' },
      'load-generator': { type: 'string' },
      docs: { type: 'boolean' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`node bench/run.ts [--quick] [--rounds N] [--duration S] [--warmup S] [--idle N]
  [--max-disturbance PERCENT] [--retries N]
  [--only plain-small,plain-large,added-latency,route-table,idle-connections,policies,cache,compression,instances,
          registry-latency,aggregate,workers]
  [--contenders direct,node-floor,...] [--load-generator wrk|autocannon] [--docs | --no-docs]
A round during which other processes used more than --max-disturbance of the machine's CPU (default 10%) is
measured again, up to --retries times (default 2; 0 in quick mode), then kept and noted.
Environment: PORTICO_BENCH_ENTRY=dist/cli/main.js runs a build instead of src/cli/main.ts.`);
    process.exit(0);
  }
  const quick = values.quick;
  const list = (v: string | undefined): string[] | undefined =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const generator = values['load-generator'];
  if (generator !== undefined && generator !== 'wrk' && generator !== 'autocannon') {
    throw new Error(`--load-generator must be wrk or autocannon, not ${generator}`);
  }
  return {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 5)),
    durationS: Number(values.duration ?? (quick ? 2 : 4)),
    warmupS: Number(values.warmup ?? (quick ? 1 : 2)),
    maxDisturbance: Number(values['max-disturbance'] ?? 10) / 100,
    disturbedRetries: Number(values.retries ?? (quick ? 0 : 2)),
    idleConnections: Number(values.idle ?? (quick ? 2000 : 10_000)),
    only: list(values.only),
    contenders: list(values.contenders),
    loadGenerator: generator,
    // A quick run is indicative only, so it leaves the published table alone unless asked.
    docs: values.docs ?? !quick,
  };
}

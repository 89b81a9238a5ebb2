import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { porticoWith, PORTICO_ENTRY } from '../contenders/catalog.ts';
import { ContenderStartError } from '../contenders/contender.ts';
import type { ContenderSpec } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import { PATHS } from '../lib/payloads.ts';
import { treeMemoryBytes } from '../lib/rss.ts';
import { summarize } from '../lib/stats.ts';
import { loadColumns, loadMetrics, measureRounds } from './rounds.ts';
import type { BenchOptions, ResultRow, Scenario } from './scenario.ts';

const ONE = 'portico-1-worker';
const TWO = 'portico-2-workers';
const CONNECTIONS = 50;
const NOT_AVAILABLE = 'workers: not available yet';
const durationOf = (o: BenchOptions): number => o.durationS;

function configYaml(
  port: number,
  adminPort: number,
  storeDir: string,
  upstream: string,
  workers: number,
): string {
  return (
    porticoHeadYaml(port, adminPort, { kind: 'embedded', path: storeDir }) +
    `workers: ${workers}\n` +
    `services:\n  bench: { instances: [ { url: ${JSON.stringify(upstream)} } ] }\n` +
    'routes:\n  - { name: bench, match: { path: "/**" }, service: bench }\n'
  );
}

/**
 * Portico with `workers: 1` and `workers: 2`, unpinned so that the second worker can have the second core;
 * the load generator and the upstream stay on CPU 1 as everywhere else, so on a 2-core machine they share it
 * with one worker and the ratio understates the scaling.
 */
export function createWorkersScenario(): Scenario {
  let available = true;
  const spec = (label: string, workers: number): ContenderSpec =>
    porticoWith(label, {
      config(s) {
        if (!available) throw new ContenderStartError(label, NOT_AVAILABLE);
        return configYaml(s.port, s.adminPort, s.storeDir, s.upstreamOrigin, workers);
      },
      probePath: PATHS.small,
      pinned: false,
    });
  const contenders = [spec(ONE, 1), spec(TWO, 2)];
  return {
    name: 'workers',
    title: `Workers: 1 vs 2 gateway processes (Portico), 101 B JSON, ${CONNECTIONS} connections`,
    description:
      'Portico unpinned (both cores available to it); the load generator and the upstream pinned to CPU 1 as in every ' +
      'scenario, so with 2 workers on a 2-core machine one worker shares its core with them. Peak RSS is summed over ' +
      'the primary and its workers.',
    contenders,
    quick: false,
    estimateS: (o) => 3 + contenders.length * (Math.min(o.warmupS, 2) + o.rounds * durationOf(o) + 3),
    async setup(ctx) {
      // `portico validate` says whether this tree knows `workers` yet, without starting anything.
      const dir = join(ctx.tmpDir, 'workers-validate');
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'portico.yaml');
      await writeFile(file, configYaml(1, 2, join(dir, 'store'), ctx.upstream.origin, 2));
      try {
        await promisify(execFile)(process.execPath, [PORTICO_ENTRY, 'validate', '-c', file], {
          cwd: ctx.repoRoot,
          timeout: 30_000,
        });
      } catch (err) {
        available = false;
        const output = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
        ctx.log(
          `  ${NOT_AVAILABLE} (portico validate: ${output.trim().split('\n').slice(0, 2).join(' | ').slice(0, 200)})`,
        );
      }
    },
    async run(ctx, started) {
      const samples = await measureRounds(ctx, started, {
        path: PATHS.small,
        connections: CONNECTIONS,
        durationS: durationOf(ctx.options),
        rounds: ctx.options.rounds,
        warmupS: Math.min(ctx.options.warmupS, 2),
      });
      const rows: ResultRow[] = [];
      for (const c of started) {
        const s = samples.get(c.label)!;
        const alive = c.process !== undefined && c.process.alive();
        rows.push({
          label: c.label,
          status: 'ok',
          notes: [...new Set(s.notes)],
          metrics: {
            ...loadMetrics(s),
            ...(alive
              ? { rss: summarize([(await treeMemoryBytes(c.process!.pid, 'VmHWM')) / 2 ** 20]) }
              : {}),
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
          ...loadColumns([ONE]),
          { key: 'rss', label: 'peak RSS', unit: 'MB', decimals: 1, ratioTo: [ONE] },
        ],
      };
    },
  };
}

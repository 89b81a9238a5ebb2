import type { ContenderContext, ContenderSpec, RunningContender } from '../contenders/contender.ts';
import type { LoadGenerator } from '../lib/load-generator.ts';
import type { CpuList } from '../lib/processes.ts';
import type { Summary } from '../lib/stats.ts';

/** Command-line choices that shape every scenario. */
export interface BenchOptions {
  quick: boolean;
  rounds: number;
  durationS: number;
  warmupS: number;
  /** Share of the machine's CPU other processes may use during a round before it is measured again. */
  maxDisturbance: number;
  /** How many times a disturbed round is measured again before it is kept (and noted). */
  disturbedRetries: number;
  idleConnections: number;
  only: string[] | undefined;
  contenders: string[] | undefined;
  loadGenerator: 'wrk' | 'autocannon' | undefined;
  docs: boolean;
}

/** What every scenario receives: where to place processes, how to load them, and the run's options. */
export interface BenchContext extends ContenderContext {
  supportCpus: CpuList;
  load: LoadGenerator;
  options: BenchOptions;
  log(message: string): void;
}

/** One column of a result table. `ratioTo` names the rows that each value is divided by. */
export interface MetricColumn {
  key: string;
  label: string;
  unit: string;
  decimals: number;
  ratioTo: string[];
}

/** One contender's line in a scenario's table. */
export interface ResultRow {
  label: string;
  status: 'ok' | 'failed';
  error?: string;
  metrics: Record<string, Summary>;
  notes: string[];
}

/** A finished scenario, as printed, charted and stored in latest.json. */
export interface ScenarioResult {
  name: string;
  title: string;
  description: string;
  columns: MetricColumn[];
  rows: ResultRow[];
  /** Whether docs/benchmarks-chart.svg shows this scenario (req/s and p99 panels). */
  chart: boolean;
}

/**
 * A benchmark scenario. The runner calls `setup` (optional), starts every contender it lists (those that
 * fail to start become "failed" rows), hands the started ones to `run`, and stops them all afterwards.
 */
export interface Scenario {
  name: string;
  title: string;
  description: string;
  contenders: ContenderSpec[];
  setup?(ctx: BenchContext): Promise<void>;
  run(ctx: BenchContext, started: RunningContender[]): Promise<ScenarioResult>;
  /**
   * False for scenarios a quick run leaves out unless named with `--only` (the quick run must stay under
   * 3 minutes); included when absent.
   */
  quick?: boolean;
  /** Rough wall time in seconds, for the up-front estimate and the time budget. */
  estimateS(ctx: BenchOptions): number;
}

import type { RunningContender } from '../contenders/contender.ts';
import type { LoadResult } from '../lib/load-generator.ts';
import { markDisturbance, otherCpuShareSince } from '../lib/disturbance.ts';
import { treeCpuUs } from '../lib/rss.ts';
import { summarize } from '../lib/stats.ts';
import type { Summary } from '../lib/stats.ts';
import type { BenchContext, MetricColumn, ResultRow } from './scenario.ts';

/** Samples of one contender over the rounds; NaN marks a round that failed. */
export interface RoundSamples {
  results: LoadResult[];
  /** CPU time of the contender's process tree per request, per round (NaN without a process, e.g. `direct`). */
  cpuUsPerRequest: number[];
  /** Share of the machine's CPU that processes outside the bench used during each kept round (0.1 = 10%). */
  otherCpuShare: number[];
  /** Rounds measured again because other processes used more than `maxDisturbance` of the machine. */
  repeated: number;
  notes: string[];
}

/** What to load in each round. */
export interface RoundPlan {
  path: string;
  connections: number;
  durationS: number;
  rounds: number;
  warmupS: number;
  /** GET when absent. */
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const FAILED: LoadResult = { requests: 0, rps: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, errors: 0 };

/** A failed or error-ridden run would make a contender look fast; more than 1% errors voids the sample. */
const ERROR_BUDGET = 0.01;

async function measureOnce(
  ctx: BenchContext,
  contender: RunningContender,
  plan: RoundPlan,
  durationS: number,
  notes: string[],
): Promise<LoadResult> {
  if (contender.process !== undefined && !contender.process.alive()) {
    const last = contender.process.output().trim().split('\n').slice(-3).join(' | ');
    notes.push(`process exited${last === '' ? '' : `: ${last.slice(0, 300)}`}`);
    return FAILED;
  }
  try {
    const result = await ctx.load.run({
      url: contender.origin + plan.path,
      connections: plan.connections,
      durationS,
      ...(plan.method === undefined ? {} : { method: plan.method }),
      ...(plan.headers === undefined ? {} : { headers: plan.headers }),
      ...(plan.body === undefined ? {} : { body: plan.body }),
    });
    if (result.requests === 0 || result.errors > result.requests * ERROR_BUDGET) {
      notes.push(`${result.errors} errors in ${result.requests} requests`);
      return FAILED;
    }
    if (result.errors > 0) notes.push(`${result.errors} errors`);
    return result;
  } catch (err) {
    notes.push((err as Error).message.slice(0, 200));
    return FAILED;
  }
}

/**
 * Warms every contender up, then runs `rounds` rounds. Each round visits every contender once, starting one
 * further along the list than the round before, so slow drifts on a shared machine spread over all of them.
 */
export async function measureRounds(
  ctx: BenchContext,
  contenders: RunningContender[],
  plan: RoundPlan,
): Promise<Map<string, RoundSamples>> {
  const samples = new Map<string, RoundSamples>();
  for (const c of contenders) {
    samples.set(c.label, { results: [], cpuUsPerRequest: [], otherCpuShare: [], repeated: 0, notes: [] });
  }
  if (plan.warmupS > 0) {
    for (const c of contenders) {
      ctx.log(`  warm-up ${c.label} (${plan.warmupS}s)`);
      await measureOnce(ctx, c, plan, plan.warmupS, []);
    }
  }
  for (let round = 0; round < plan.rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      const entry = samples.get(c.label)!;
      const pid = c.process?.pid;
      for (let attempt = 0; ; attempt++) {
        const mark = await markDisturbance();
        const cpuBefore = pid === undefined ? Number.NaN : await treeCpuUs(pid);
        const result = await measureOnce(ctx, c, plan, plan.durationS, entry.notes);
        const cpu =
          pid === undefined || result.requests === 0
            ? Number.NaN
            : ((await treeCpuUs(pid)) - cpuBefore) / result.requests;
        const other = await otherCpuShareSince(mark);
        const line =
          `  round ${round + 1}/${plan.rounds} ${c.label.padEnd(20)} ${fmt(result.rps, 0)} req/s` +
          `  p50 ${fmt(result.p50Ms, 3)} ms  p99 ${fmt(result.p99Ms, 3)} ms  CPU ${fmt(cpu, 1)} µs/req` +
          `  other CPU ${fmt(other * 100, 0)}%`;
        if (other > ctx.options.maxDisturbance && attempt < ctx.options.disturbedRetries) {
          entry.repeated++;
          ctx.log(`${line}  disturbed: measuring again`);
          continue;
        }
        entry.results.push(result);
        entry.cpuUsPerRequest.push(Number.isFinite(result.rps) ? cpu : Number.NaN);
        entry.otherCpuShare.push(other);
        ctx.log(line);
        break;
      }
    }
  }
  for (const entry of samples.values()) {
    const note = disturbanceNote(entry, ctx.options.maxDisturbance);
    if (note !== undefined) entry.notes.push(note);
  }
  return samples;
}

/** Req/s, p50, p99 and CPU per request of one contender over its rounds, under the keys of {@link loadColumns}. */
export function loadMetrics(s: RoundSamples): Record<'rps' | 'p50' | 'p99' | 'cpu', Summary> {
  return {
    rps: summarize(s.results.map((r) => r.rps)),
    p50: summarize(s.results.map((r) => r.p50Ms)),
    p99: summarize(s.results.map((r) => r.p99Ms)),
    cpu: summarize(s.cpuUsPerRequest),
  };
}

/**
 * One row per started contender with its load metrics; a contender's preflight note (an answer that was not the
 * one the scenario set up, e.g. no cache hit) comes first, so a fast but wrong row is visible as such.
 */
export function loadRows(
  started: readonly RunningContender[],
  samples: Map<string, RoundSamples>,
  preflight: Readonly<Record<string, string>>,
): ResultRow[] {
  return started.map((c) => {
    const s = samples.get(c.label)!;
    const first = preflight[c.label];
    return {
      label: c.label,
      status: 'ok',
      notes: [...(first === undefined ? [] : [first]), ...new Set(s.notes)],
      metrics: loadMetrics(s),
    };
  });
}

/** The req/s, p50 and p99 columns, each divided by the rows named in `ratioTo`. */
export function loadColumns(ratioTo: string[]): MetricColumn[] {
  return [
    { key: 'rps', label: 'req/s', unit: '', decimals: 0, ratioTo },
    { key: 'p50', label: 'p50', unit: 'ms', decimals: 2, ratioTo },
    { key: 'p99', label: 'p99', unit: 'ms', decimals: 2, ratioTo },
  ];
}

/** A note for rounds that other processes disturbed: how many were repeated, and how many kept anyway. */
function disturbanceNote(entry: RoundSamples, max: number): string | undefined {
  const kept = entry.otherCpuShare.filter((share) => share > max).length;
  if (entry.repeated === 0 && kept === 0) return undefined;
  const worst = Math.max(...entry.otherCpuShare.filter(Number.isFinite));
  return `${entry.repeated} round(s) repeated, ${kept} kept disturbed (other processes up to ${fmt(worst * 100, 0)}% CPU)`;
}

function fmt(value: number, decimals: number): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : 'failed';
}

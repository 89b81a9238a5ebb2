import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContenderStartError } from './contenders/contender.ts';
import type { RunningContender } from './contenders/contender.ts';
import { createLoadGenerator } from './lib/load-generator.ts';
import { parseOptions } from './lib/options.ts';
import { createProcessGroup } from './lib/processes.ts';
import type { CpuList } from './lib/processes.ts';
import { chartSvg } from './lib/chart-svg.ts';
import { reportMarkdown, scenarioTable, updateDocs, writeOut } from './lib/report.ts';
import type { BenchReport } from './lib/report.ts';
import { summaryLine } from './lib/summary.ts';
import { startUpstream } from './lib/upstream.ts';
import { allScenarios } from './scenarios/index.ts';
import type { BenchContext, ResultRow, Scenario, ScenarioResult } from './scenarios/scenario.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const options = parseOptions(process.argv.slice(2));
/** Wall-time budgets from the brief: quick under 3 minutes, full under 15. */
const budgetS = options.quick ? 175 : 14 * 60 + 40;
const started = Date.now();
const group = createProcessGroup();
const log = (message: string): void => console.log(message);

let cleaningUp = false;
async function cleanup(tmpDir: string | undefined): Promise<void> {
  if (cleaningUp) return;
  cleaningUp = true;
  await group.stopAll();
  if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
}

let tmpDir: string | undefined;
process.on('exit', () => group.killAllNow());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    void cleanup(tmpDir).finally(() => process.exit(130));
  });
}
// The hard stop: whatever hangs, the run ends shortly after its budget and takes its children with it.
const hardStop = setTimeout(
  () => {
    console.error('bench: time limit reached, stopping');
    void cleanup(tmpDir).finally(() => process.exit(2));
  },
  (budgetS + (options.quick ? 30 : 15)) * 1000,
);
hardStop.unref();

function cpuModel(): string {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

function placementOf(): { contender: CpuList; support: CpuList; text: string } {
  const cpus = availableParallelism();
  if (cpus >= 2) {
    return {
      contender: '0',
      support: '1',
      text: 'each contender on CPU 0 (taskset -c 0); load generator and upstream on CPU 1 (taskset -c 1)',
    };
  }
  return { contender: undefined, support: undefined, text: `no pinning (only ${cpus} CPU)` };
}

async function runScenario(ctx: BenchContext, scenario: Scenario): Promise<ScenarioResult> {
  log(`\n== ${scenario.title}`);
  await scenario.setup?.(ctx);
  const wanted = scenario.contenders.filter(
    (c) => ctx.options.contenders === undefined || ctx.options.contenders.includes(c.label),
  );
  const running: RunningContender[] = [];
  const failed: ResultRow[] = [];
  try {
    for (const spec of wanted) {
      try {
        running.push(await spec.start(ctx));
      } catch (err) {
        const message =
          err instanceof ContenderStartError ? err.message : `${spec.label}: ${(err as Error).message}`;
        log(`  ${message}`);
        failed.push({ label: spec.label, status: 'failed', error: message, metrics: {}, notes: [] });
      }
    }
    let result: ScenarioResult;
    try {
      result = await scenario.run(ctx, running);
    } catch (err) {
      // One broken scenario must not cost the results of the others.
      const message = `scenario failed: ${(err as Error).message}`;
      log(`  ${message}`);
      const rows = running.map((c): ResultRow => ({
        label: c.label,
        status: 'failed',
        error: message,
        metrics: {},
        notes: [],
      }));
      result = {
        name: scenario.name,
        title: scenario.title,
        description: scenario.description,
        columns: [],
        rows,
        chart: false,
      };
    }
    // Keep the scenario's own order, failed contenders included.
    const rows = wanted
      .map(
        (spec) =>
          result.rows.find((r) => r.label === spec.label) ?? failed.find((r) => r.label === spec.label),
      )
      .filter((r): r is ResultRow => r !== undefined);
    return { ...result, rows };
  } finally {
    await Promise.all(running.map((c) => c.stop()));
  }
}

async function main(): Promise<void> {
  tmpDir = await mkdtemp(join(tmpdir(), 'portico-bench-'));
  const placement = placementOf();
  const upstream = await startUpstream(group, tmpDir, placement.support);
  const load = await createLoadGenerator(group, placement.support, tmpDir, options.loadGenerator);
  const scenarios = allScenarios().filter((s) =>
    options.only === undefined ? !options.quick || s.quick !== false : options.only.includes(s.name),
  );
  const estimate = scenarios.reduce((sum, s) => sum + s.estimateS(options), 0);
  const info = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mode: `${options.quick ? 'quick' : 'full'}: ${options.rounds} round(s) × ${options.durationS} s after ${options.warmupS} s warm-up, contenders alternated by round`,
    node: `Node ${process.version}`,
    machine: `${availableParallelism()} CPUs (nproc), ${cpuModel()}`,
    placement: placement.text,
    loadGenerator: `${load.version} (${load.name === 'wrk' ? 'one thread' : 'child process'})`,
    upstream: `${upstream.kind} at ${upstream.origin}`,
  };
  log(`Portico bench — ${info.mode}`);
  log(`node ${process.version}; ${info.machine}`);
  log(`placement: ${info.placement}`);
  log(`load generator: ${info.loadGenerator}`);
  log(`upstream: ${info.upstream}`);
  log(`estimated time: ${Math.round(estimate)} s (budget ${budgetS} s)`);

  const ctx: BenchContext = {
    group,
    tmpDir,
    upstream,
    cpus: placement.contender,
    supportCpus: placement.support,
    repoRoot,
    load,
    options,
    log,
  };
  const report: BenchReport = { info, scenarios: [], skipped: [] };
  for (const scenario of scenarios) {
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed + scenario.estimateS(options) > budgetS) {
      log(`\n== ${scenario.title}: skipped, it would overrun the ${budgetS} s budget`);
      report.skipped.push(scenario.name);
      continue;
    }
    if (!upstream.process.alive())
      throw new Error(`upstream exited: ${upstream.process.output().slice(-300)}`);
    const scenarioStart = Date.now();
    report.scenarios.push(await runScenario(ctx, scenario));
    log(
      `  (${Math.round((Date.now() - scenarioStart) / 1000)} s, estimated ${Math.round(scenario.estimateS(options))} s)`,
    );
  }

  log('\n');
  for (const s of report.scenarios) log(`${s.title}\n${scenarioTable(s)}\n`);
  if (report.skipped.length > 0) log(`skipped: ${report.skipped.join(', ')}`);
  log(summaryLine(report));

  const resultsFile = join(repoRoot, 'bench/results/latest.json');
  await writeOut(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${resultsFile}`);
  if (options.docs) {
    await writeOut(join(repoRoot, 'docs/benchmarks-chart.svg'), chartSvg(report));
    await updateDocs(join(repoRoot, 'docs/benchmarks.md'), reportMarkdown(report, 'benchmarks-chart.svg'));
    log('wrote docs/benchmarks-chart.svg and the results section of docs/benchmarks.md');
  } else {
    log('docs not updated (quick mode; pass --docs to update them)');
  }
  log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
}

try {
  await main();
  await cleanup(tmpDir);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  await cleanup(tmpDir);
  process.exitCode = 1;
}

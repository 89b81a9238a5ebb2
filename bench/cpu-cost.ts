import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { nodeFloor, porticoWith } from './contenders/catalog.ts';
import type { ContenderContext, ContenderSpec, RunningContender } from './contenders/contender.ts';
import { porticoConfigYaml, porticoHeadYaml, type BenchStore } from './contenders/portico-config.ts';
import { PATHS } from './lib/payloads.ts';
import { createProcessGroup } from './lib/processes.ts';
import { BENCH_REDIS_URL, deletePrefix, uniquePrefix } from './lib/redis-prefix.ts';
import { createRegistryClient, instanceIds } from './lib/registry-client.ts';
import { startUpstream } from './lib/upstream.ts';

// CPU time per request (and per registry call) of one process, read from /proc/<pid>/stat around a fixed
// number of requests: on a shared machine this is far steadier than requests/s, because time the process
// waits for a CPU another process holds is not counted. Contenders are alternated by round; medians are printed.

const HELP = `node bench/cpu-cost.ts [--requests N] [--rounds N] [--connections N] [--only requests,instances,registry]
  requests: CPU µs per proxied GET /small and /large, node-floor vs portico (both pinned to CPU 0)
  instances: CPU µs per proxied GET /small with 1 vs 10,000 registered instances (one origin), idle RSS
  registry: CPU µs per registration and heartbeat, and calls/s, embedded store and Redis
Environment: PORTICO_BENCH_ENTRY=dist/cli/main.js measures a build; PORTICO_BENCH_ROOT=DIR measures another
  checkout (e.g. a before/after pair).`;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string', default: 'requests,instances,registry' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const only = new Set(values.only.split(','));
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

/** utime + stime of a process, in microseconds. */
async function cpuUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb) / 1024;
}

/** Sends `count` GETs with `connections` in flight; resolves with the wall time. */
async function load(origin: string, path: string, count: number, connections: number): Promise<number> {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  let next = 0;
  const start = performance.now();
  async function worker(): Promise<void> {
    while (next < count) {
      next++;
      const res = await pool.request({ method: 'GET', path });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
    }
  }
  await Promise.all(Array.from({ length: connections }, worker));
  const ms = performance.now() - start;
  await pool.close();
  return ms;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const group = createProcessGroup();
const tmp = await mkdtemp(join(tmpdir(), 'portico-cpu-'));
process.on('exit', () => group.killAllNow());
try {
  const upstream = await startUpstream(group, tmp, '1');
  const ctx: ContenderContext = {
    group,
    tmpDir: tmp,
    upstream,
    cpus: '0',
    repoRoot: process.env.PORTICO_BENCH_ROOT ?? process.cwd(),
  };
  if (only.has('requests')) await measureRequests(ctx);
  if (only.has('instances')) await measureInstances(ctx);
  if (only.has('registry')) await measureRegistry(ctx);
} finally {
  await group.stopAll();
  await rm(tmp, { recursive: true, force: true });
}

async function measureRequests(ctx: ContenderContext): Promise<void> {
  const plainPortico = porticoWith('portico', {
    config: (s) =>
      porticoConfigYaml({
        port: s.port,
        adminPort: s.adminPort,
        upstreamOrigin: s.upstreamOrigin,
        storeDir: s.storeDir,
        extraRoutes: 0,
      }),
    probePath: PATHS.small,
  });
  const contenders: ContenderSpec[] = [nodeFloor, plainPortico];
  const running: RunningContender[] = [];
  for (const spec of contenders) running.push(await spec.start(ctx));
  for (const path of [PATHS.small, PATHS.large]) {
    const samples = new Map<string, number[]>(running.map((r) => [r.label, []]));
    const rates = new Map<string, number[]>(running.map((r) => [r.label, []]));
    for (const r of running) await load(r.origin, path, 2000, CONNECTIONS);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < running.length; i++) {
        const r = running[(i + round) % running.length]!;
        const pid = r.process!.pid;
        const before = await cpuUs(pid);
        const ms = await load(r.origin, path, REQUESTS, CONNECTIONS);
        const after = await cpuUs(pid);
        samples.get(r.label)!.push((after - before) / REQUESTS);
        rates.get(r.label)!.push(REQUESTS / (ms / 1000));
      }
    }
    const floor = median(samples.get('node-floor')!);
    for (const r of running) {
      const cpu = median(samples.get(r.label)!);
      console.log(
        `${path} ${r.label.padEnd(10)} CPU ${cpu.toFixed(1)} µs/req (${(cpu / floor).toFixed(2)}× floor; ` +
          `rounds ${samples
            .get(r.label)!
            .map((v) => v.toFixed(1))
            .join(
              ' ',
            )}), ${Math.round(median(rates.get(r.label)!))} req/s, RSS ${(await rssMb(r.process!.pid)).toFixed(1)} MB`,
      );
    }
  }
  for (const r of running) await r.stop();
}

async function measureInstances(ctx: ContenderContext): Promise<void> {
  const running: { r: RunningContender; count: number }[] = [];
  for (const count of [1, 10_000]) {
    const spec = porticoWith(`portico-${count}-instances`, {
      config: (s) =>
        porticoHeadYaml(s.port, s.adminPort, { kind: 'embedded', path: s.storeDir }) +
        `services:\n  reg: {}\nroutes:\n  - { name: r, match: { path: "/**" }, service: reg }\n`,
      probePath: undefined,
    });
    const r = await spec.start(ctx);
    const client = createRegistryClient(r.adminOrigin!, 32);
    await client.registerMany(
      'reg',
      instanceIds(count),
      { url: ctx.upstream.origin, version: '1.0.0', ttl: '1h' },
      32,
    );
    await client.close();
    // The node trims its young generation after 30 s of idleness (src/gateway/lifecycle/heap-trim.ts; 15 checks 2 s apart, so up to 32 s).
    await new Promise((resolve) => setTimeout(resolve, 40_000));
    console.log(`${r.label}: idle RSS ${(await rssMb(r.process!.pid)).toFixed(1)} MB`);
    running.push({ r, count });
  }
  const samples = new Map<string, number[]>(running.map(({ r }) => [r.label, []]));
  for (const { r } of running) await load(r.origin, PATHS.small, 2000, CONNECTIONS);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < running.length; i++) {
      const { r } = running[(i + round) % running.length]!;
      const before = await cpuUs(r.process!.pid);
      await load(r.origin, PATHS.small, REQUESTS, CONNECTIONS);
      samples.get(r.label)!.push(((await cpuUs(r.process!.pid)) - before) / REQUESTS);
    }
  }
  const one = median(samples.get(running[0]!.r.label)!);
  for (const { r } of running) {
    const cpu = median(samples.get(r.label)!);
    console.log(
      `${r.label} CPU ${cpu.toFixed(1)} µs/req (${(cpu / one).toFixed(2)}× one instance; rounds ${samples
        .get(r.label)!
        .map((v) => v.toFixed(1))
        .join(' ')}), RSS after load ${(await rssMb(r.process!.pid)).toFixed(1)} MB`,
    );
    await r.stop();
  }
}

async function measureRegistry(ctx: ContenderContext): Promise<void> {
  const count = Math.min(REQUESTS, 10_000);
  const prefix = uniquePrefix();
  const stores: [string, (dir: string) => BenchStore][] = [
    ['embedded', (dir) => ({ kind: 'embedded', path: dir })],
    ['redis', () => ({ kind: 'redis', url: BENCH_REDIS_URL, prefix })],
  ];
  for (const [name, store] of stores) {
    const spec = porticoWith(`portico-${name}`, {
      config: (s) =>
        porticoHeadYaml(s.port, s.adminPort, store(s.storeDir)) +
        `services:\n  reg: {}\nroutes:\n  - { name: r, match: { path: "/**" }, service: reg }\n`,
      probePath: undefined,
      afterStop: name === 'redis' ? () => deletePrefix(BENCH_REDIS_URL, prefix).then(() => {}) : undefined,
    });
    let r: RunningContender;
    try {
      r = await spec.start(ctx);
    } catch (err) {
      console.log(`registry ${name}: not measured (${String(err)})`);
      continue;
    }
    const pid = r.process!.pid;
    const client = createRegistryClient(r.adminOrigin!, 32);
    const ids = instanceIds(count);
    let before = await cpuUs(pid);
    const reg = await client.registerMany(
      'reg',
      ids,
      { url: ctx.upstream.origin, version: '1.0.0', ttl: '1h' },
      32,
    );
    const regCpu = ((await cpuUs(pid)) - before) / count;
    before = await cpuUs(pid);
    const hb = await client.heartbeatMany('reg', ids, 32);
    const hbCpu = ((await cpuUs(pid)) - before) / count;
    console.log(
      `registry ${name.padEnd(8)} register: ${Math.round(reg.perSecond)}/s, CPU ${regCpu.toFixed(0)} µs each` +
        `${reg.failed > 0 ? ` (${reg.failed} failed: ${reg.firstError})` : ''}; ` +
        `heartbeat: ${Math.round(hb.perSecond)}/s, CPU ${hbCpu.toFixed(0)} µs each` +
        `${hb.failed > 0 ? ` (${hb.failed} failed: ${hb.firstError})` : ''}; ` +
        `RSS ${(await rssMb(pid)).toFixed(1)} MB with ${count} instances`,
    );
    await client.close();
    await r.stop();
  }
}

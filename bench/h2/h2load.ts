/**
 * Standalone HTTP/2 run (not part of `npm run bench`): h2load (Debian's nghttp2-client) against Portico's h2c
 * listener, a minimal Node HTTP/2 proxy (the floor, `h2-floor.ts`) and nginx with HTTP/2 on its listener, all three
 * in front of the same node:http upstream and each in its own process. Prints req/s, mean and p99 latency (from
 * h2load's per-request log) and the CPU time each proxy process spent per request (user + system from
 * /proc/<pid>/stat over the run), then Portico's ratios to the floor and to nginx from the same run. On a shared
 * machine CPU per request is the steadier figure: time spent waiting for a core another process holds is not in it.
 *
 * With `--cpu-prof DIR` the floor and Portico write V8 CPU profiles into DIR/floor and DIR/portico (compare them
 * with `node bench/h2/profile-diff.ts`).
 *
 *   node bench/h2/h2load.ts [--requests 20000] [--clients 10] [--streams 10] [--rounds 2] [--cpu-prof DIR]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startPortico } from '../../test/helpers/portico-process.ts';
import { nginxArgs, nginxAvailable, nginxVersion, writeH2ProxyConfig } from '../lib/nginx.ts';
import { numberArg } from '../lib/number-arg.ts';
import { treeCpuUs } from '../lib/rss.ts';

const run = promisify(execFile);
const requests = numberArg('requests', 20_000);
const clients = numberArg('clients', 10);
const streams = numberArg('streams', 10);
const rounds = numberArg('rounds', 2);
const profIndex = process.argv.indexOf('--cpu-prof');
const profDir = profIndex < 0 ? undefined : process.argv[profIndex + 1];
const profArgs = (name: string): string[] =>
  profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(profDir, name)];

const upstream = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
const work = await mkdtemp(join(tmpdir(), 'portico-h2load-'));
const children: ChildProcess[] = [];

interface Contender {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
}

async function startFloor(): Promise<Contender> {
  const child = spawn(
    process.execPath,
    [...profArgs('floor'), join(import.meta.dirname, 'h2-floor.ts'), upstreamUrl],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { name: 'node http2 floor', port: Number(line.toString().trim()), pid: child.pid as number };
}

async function startNginx(): Promise<Contender | undefined> {
  if (!nginxAvailable()) return undefined;
  const port = await freePort();
  const dir = join(work, 'nginx');
  const conf = await writeH2ProxyConfig(dir, port, upstreamUrl);
  const child = spawn('nginx', nginxArgs(dir, conf), { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(true));
      socket.on('error', () => resolve(false));
      socket.on('connect', () => socket.destroy());
    });
    if (up) return { name: `${nginxVersion()} (h2c)`, port, pid: child.pid as number };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('nginx did not start');
}

const h2cPort = await freePort();
const portico = await startPortico(
  ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true, maxConcurrentStreams: 100 } }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  up: { instances: [{ url: "${upstreamUrl}" }] }
routes:
  - { name: all, match: { path: /** }, service: up }
`,
  profDir === undefined ? {} : { env: { NODE_OPTIONS: profArgs('portico').join(' ') } },
);

interface Outcome {
  reqPerS: number;
  meanMs: number;
  p99Ms: number;
  failed: number;
  cpuUsPerRequest: number;
}

async function h2load(target: Contender): Promise<Outcome> {
  const log = join(work, `h2load-${target.port}.log`);
  const cpuBefore = await treeCpuUs(target.pid);
  const { stdout } = await run(
    'h2load',
    [
      '-n',
      String(requests),
      '-c',
      String(clients),
      '-m',
      String(streams),
      '--log-file',
      log,
      `http://127.0.0.1:${target.port}/bench`,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const cpuUs = (await treeCpuUs(target.pid)) - cpuBefore;
  const reqPerS = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? 0);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? '0us';
  const meanMs = mean.endsWith('ms') ? Number(mean.slice(0, -2)) : Number(mean.slice(0, -2)) / 1000;
  const failed = Number(/(\d+) failed/.exec(stdout)?.[1] ?? 0);
  // Each line of h2load's log: start time (µs since the epoch), status, latency (µs).
  const latencies = (await readFile(log, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => Number(line.split('\t')[2]))
    .sort((a, b) => a - b);
  const p99Us = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
  return { reqPerS, meanMs, p99Ms: p99Us / 1000, failed, cpuUsPerRequest: cpuUs / requests };
}

try {
  const contenders: Contender[] = [await startFloor()];
  const nginx = await startNginx();
  if (nginx !== undefined) contenders.push(nginx);
  const porticoTarget: Contender = { name: 'portico (h2c)', port: h2cPort, pid: portico.child.pid as number };
  contenders.push(porticoTarget);
  // Warm every contender up, then alternate the measured rounds so that noise falls on all of them alike.
  for (const target of contenders) await h2load(target);
  const results = new Map<Contender, Outcome[]>(contenders.map((target) => [target, []]));
  for (let round = 0; round < rounds; round++)
    for (const target of contenders) results.get(target)?.push(await h2load(target));
  const best = (target: Contender): Outcome =>
    (results.get(target) ?? []).reduce((a, b) => (b.reqPerS > a.reqPerS ? b : a));
  // The least CPU per request of the rounds: preemption by other processes only ever adds to it.
  const leastCpu = (target: Contender): number =>
    Math.min(...(results.get(target) ?? []).map((outcome) => outcome.cpuUsPerRequest));
  console.log(`h2load -n ${requests} -c ${clients} -m ${streams} (h2c), best of ${rounds} rounds`);
  for (const target of contenders) {
    const o = best(target);
    console.log(
      `${target.name.padEnd(22)}: ${o.reqPerS.toFixed(0).padStart(6)} req/s, mean ${o.meanMs.toFixed(2)} ms, ` +
        `p99 ${o.p99Ms.toFixed(2)} ms, ${leastCpu(target).toFixed(0)} µs CPU/request, ${o.failed} failed`,
    );
  }
  const p = best(porticoTarget);
  for (const reference of contenders.filter((target) => target !== porticoTarget)) {
    const r = best(reference);
    console.log(
      `portico / ${reference.name}: ${(p.reqPerS / r.reqPerS).toFixed(2)}× req/s, ` +
        `${(leastCpu(porticoTarget) / leastCpu(reference)).toFixed(2)}× CPU per request`,
    );
  }
} finally {
  await portico.stop();
  for (const child of children) child.kill('SIGTERM');
  // A profile is written when its process exits: wait for the floor's.
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  upstream.close();
  await rm(work, { recursive: true, force: true });
}

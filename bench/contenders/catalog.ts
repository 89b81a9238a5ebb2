import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxArgs, nginxAvailable, writeProxyConfig } from '../lib/nginx.ts';
import { PATHS } from '../lib/payloads.ts';
import type { ManagedProcess } from '../lib/processes.ts';
import { freePort, getStatus, waitUntil } from '../lib/wait.ts';
import { ContenderStartError } from './contender.ts';
import type { ContenderSpec, RunningContender } from './contender.ts';
import { porticoConfigYaml } from './portico-config.ts';

/** The CLI entry, relative to the repository root; PORTICO_BENCH_ENTRY=dist/cli/main.js measures a build. */
export const PORTICO_ENTRY = process.env.PORTICO_BENCH_ENTRY ?? 'src/cli/main.ts';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** The most telling line of a dead process's output: its first error line, else its last lines. */
function failureSummary(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const error = lines.find((l) => /\b[A-Za-z]*Error\b|\berror\b/.test(l));
  return (error ?? lines.slice(-3).join(' | ')).slice(0, 300);
}

async function awaitReady(
  label: string,
  proc: ManagedProcess,
  readyUrl: string,
  timeoutMs: number,
): Promise<void> {
  const ok = await waitUntil(async () => !proc.alive() || (await getStatus(readyUrl)) === 200, timeoutMs);
  if (!ok || !proc.alive()) {
    const why = proc.alive() ? `not ready after ${timeoutMs} ms` : `exited ${await proc.exited}`;
    await proc.stop(500);
    throw new ContenderStartError(label, `${why}; ${failureSummary(proc.output())}`);
  }
}

function running(label: string, origin: string, proc: ManagedProcess): RunningContender {
  return { label, origin, process: proc, stop: () => proc.stop() };
}

/** Client → upstream, no proxy: the ceiling every contender is measured against. */
export const direct: ContenderSpec = {
  label: 'direct',
  async start(ctx) {
    return { label: 'direct', origin: ctx.upstream.origin, process: undefined, stop: async () => {} };
  },
};

function nodeScript(label: string, file: string): ContenderSpec {
  return {
    label,
    async start(ctx) {
      const port = await freePort();
      // The fourth argument is a folder of its own, for contenders that read their config from files.
      const dir = join(ctx.tmpDir, `${label}-${port}`);
      const args = [here(file), String(port), ctx.upstream.origin, dir];
      const proc = ctx.group.spawn(label, process.execPath, args, { cpus: ctx.cpus, cwd: ctx.repoRoot });
      const origin = `http://127.0.0.1:${port}`;
      await awaitReady(label, proc, origin + PATHS.small, 15_000);
      return running(label, origin, proc);
    },
  };
}

/** The Node floor: bare node:http + undici Pool. */
export const nodeFloor = nodeScript('node-floor', './node-floor.ts');
/** @fastify/http-proxy with defaults. */
export const fastifyHttpProxy = nodeScript('fastify-http-proxy', './fastify-http-proxy.ts');
/** node-http-proxy with a keep-alive agent. */
export const httpProxy = nodeScript('http-proxy', './http-proxy.ts');
/** fast-gateway 3.4.7 with one catch-all route. */
export const fastGateway = nodeScript('fast-gateway', './fast-gateway.ts');
/** express-gateway 1.16 with one proxy pipeline. */
export const expressGateway = nodeScript('express-gateway', './express-gateway.ts');

/** nginx as a reverse proxy with a keep-alive upstream pool, one worker. */
export const nginx: ContenderSpec = {
  label: 'nginx',
  async start(ctx) {
    if (!nginxAvailable()) throw new ContenderStartError('nginx', 'nginx is not installed');
    const port = await freePort();
    const dir = join(ctx.tmpDir, `nginx-proxy-${port}`);
    const conf = await writeProxyConfig(dir, port, ctx.upstream.origin);
    const proc = ctx.group.spawn('nginx', 'nginx', nginxArgs(dir, conf), { cpus: ctx.cpus });
    const origin = `http://127.0.0.1:${port}`;
    await awaitReady('nginx', proc, origin + PATHS.small, 10_000);
    return running('nginx', origin, proc);
  },
};

/** Where one Portico contender listens and keeps its files, handed to its config builder. */
export interface PorticoSetup {
  port: number;
  adminPort: number;
  upstreamOrigin: string;
  /** A folder of its own, for the config, contracts and the embedded store. */
  dir: string;
  storeDir: string;
}

/** How to start a Portico contender with a scenario's own config. */
export interface PorticoSpecOptions {
  config(setup: PorticoSetup): string | Promise<string>;
  /** A GET through the gateway that must answer 200 before measuring; `undefined` skips the check. */
  probePath?: string | undefined;
  /** Pin to the contender CPU like every other contender (default); false leaves placement to the kernel. */
  pinned?: boolean;
  readyTimeoutMs?: number;
  /** Runs after the process has stopped, e.g. to delete the Redis keys it wrote. */
  afterStop?(): Promise<void>;
}

/** Portico from this repository, started the way users start it, on a config the scenario writes. */
export function porticoWith(label: string, options: PorticoSpecOptions): ContenderSpec {
  return {
    label,
    async start(ctx) {
      const port = await freePort();
      const adminPort = await freePort();
      const dir = join(ctx.tmpDir, `${label}-${port}`);
      await mkdir(dir, { recursive: true });
      const configFile = join(dir, 'portico.yaml');
      const setup = {
        port,
        adminPort,
        upstreamOrigin: ctx.upstream.origin,
        dir,
        storeDir: join(dir, 'store'),
      };
      await writeFile(configFile, await options.config(setup));
      const proc = ctx.group.spawn(label, process.execPath, [PORTICO_ENTRY, 'start', '-c', configFile], {
        cpus: options.pinned === false ? undefined : ctx.cpus,
        cwd: ctx.repoRoot,
      });
      const origin = `http://127.0.0.1:${port}`;
      const adminOrigin = `http://127.0.0.1:${adminPort}`;
      await awaitReady(label, proc, `${adminOrigin}/readyz`, options.readyTimeoutMs ?? 30_000);
      const probe = options.probePath;
      if (probe !== undefined && (await getStatus(origin + probe)) !== 200) {
        await proc.stop(500);
        throw new ContenderStartError(label, `ready, but GET ${probe} through it did not answer 200`);
      }
      return {
        label,
        origin,
        adminOrigin,
        process: proc,
        async stop() {
          await proc.stop();
          await options.afterStop?.();
        },
      };
    },
  };
}

/**
 * Portico on the plain bench config. `extraRoutes` adds `/r<i>/**` routes ahead of the bench route to
 * measure the cost of a large route table.
 */
export function portico(label = 'portico', extraRoutes = 0): ContenderSpec {
  return porticoWith(label, {
    config: (s) =>
      porticoConfigYaml({
        port: s.port,
        adminPort: s.adminPort,
        upstreamOrigin: s.upstreamOrigin,
        storeDir: s.storeDir,
        extraRoutes,
      }),
    probePath: PATHS.small,
    readyTimeoutMs: extraRoutes > 1000 ? 60_000 : 30_000,
  });
}

/**
 * The plain-proxy line-up, in table order. express-gateway is only in the throughput tables (`slowPeers`): it
 * is the slowest reference by far, and its latency and memory lines would cost the full run's time budget.
 */
export function plainContenders(slowPeers = false): ContenderSpec[] {
  if (!slowPeers) return [direct, nodeFloor, fastifyHttpProxy, fastGateway, httpProxy, nginx, portico()];
  return [direct, nodeFloor, fastifyHttpProxy, fastGateway, httpProxy, expressGateway, nginx, portico()];
}

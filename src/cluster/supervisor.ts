import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues } from 'prom-client';
import type { MetricValue } from 'prom-client';
import { watchConfigFile } from '../config/watch-config-file.ts';
import type { Logger } from '../observability/logger.ts';
import { createLocalRateLimiter } from '../security/local-rate-limiter.ts';
import { answerRateLimitBatch, type RateLimitBatch } from '../security/cluster-rate-limiter.ts';
import type { ClusterStatus, WireReloadResult, WorkerStatus } from './cluster-member.ts';
import { createIpcPeer, type IpcChannel, type IpcPeer } from './ipc.ts';

/** Options of {@link runSupervisor}. */
export interface SupervisorOptions {
  readonly configFile: string;
  readonly workers: number;
  readonly logger: Logger;
  /** The config's `shutdownTimeout`: workers get this long to drain, plus a margin, before they are killed. */
  readonly shutdownTimeoutMs: number;
  /** Reload every worker when the config file changes (default true); the file is watched here only. */
  readonly watchConfig?: boolean;
  /** Delay before restarting a worker after its `crashes`-th crash in a row (default 100 ms doubling, ≤ 10 s). */
  readonly restartDelayMs?: (crashes: number) => number;
}

/** A worker that lived this long before it crashed starts its backoff over. */
const STABLE_AFTER_MS = 10_000;
/** Beyond `shutdownTimeout`: time for pools, the store and the admin listener to close. */
const SHUTDOWN_MARGIN_MS = 5_000;

/**
 * Per-worker views of state every worker shares (the registry, health): summing them would count each
 * instance once per worker, so the scrape shows the worst (or, for health, the least healthy) view.
 * Everything else (counters, histograms, active requests, memory) is summed over the workers.
 */
const AGGREGATORS: Readonly<Record<string, 'max' | 'min'>> = {
  portico_upstream_instance_healthy: 'min',
  portico_upstream_instances: 'max',
  portico_upstream_panic_mode: 'max',
  portico_upstream_breaker_state: 'max',
};

interface Member {
  readonly worker: Worker;
  readonly peer: IpcPeer;
  readonly forkedAt: number;
  ready: boolean;
}

/**
 * The primary of a `workers: N` node: forks the workers (each runs the whole gateway; node:cluster shares the
 * listening ports), restarts a worker that dies, holds the node-wide rate-limit buckets, answers node-wide
 * metrics, fans reloads out (SIGHUP, file change, or an admin call on any worker) and drains every worker on
 * SIGTERM/SIGINT. Resolves with the exit code once all workers are gone.
 *
 * @example
 * process.exitCode = await runSupervisor({ configFile, workers: 2, logger, shutdownTimeoutMs: 30_000 });
 */
export async function runSupervisor(options: SupervisorOptions): Promise<number> {
  const { logger } = options;
  const restartDelayMs = options.restartDelayMs ?? ((crashes) => Math.min(10_000, 100 * 2 ** (crashes - 1)));
  const limiter = createLocalRateLimiter({ now: Date.now });
  const members = new Map<number, Member>();
  const metrics = new Registry();
  const restarts = new Counter({
    name: 'portico_worker_restarts_total',
    help: 'Workers restarted by the primary after they exited unexpectedly.',
    registers: [metrics],
  });
  new Gauge({
    name: 'portico_workers',
    help: 'Workers running and ready to serve.',
    registers: [metrics],
    collect() {
      this.set(readyMembers().length);
    },
  });
  let crashes = 0;
  let stopping = false;
  /** Stays true while every worker that stopped during shutdown exited with code 0. */
  let clean = true;
  const restartTimers = new Set<NodeJS.Timeout>();
  let allExited: (() => void) | undefined;

  function readyMembers(): Member[] {
    return [...members.values()].filter((m) => m.ready && m.worker.isConnected());
  }

  function fork(): void {
    const worker = cluster.fork();
    const peer = createIpcPeer(workerChannel(worker));
    const member: Member = { worker, peer, forkedAt: Date.now(), ready: false };
    members.set(worker.id, member);
    peer.handle('ready', () => {
      member.ready = true;
      logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker ready');
      return true;
    });
    peer.handle('rate-limit', (batch) => answerRateLimitBatch(limiter, batch as RateLimitBatch));
    peer.handle('reload-others', (origin) => reloadWorkers(origin as number));
    peer.handle('metrics', () => nodeMetrics());
    peer.handle('status', () => status());
    worker.once('exit', (code, signal) => onExit(member, code, signal));
  }

  function onExit(member: Member, code: number | null, signal: string | null): void {
    members.delete(member.worker.id);
    member.peer.close('the worker exited');
    if (stopping) {
      if (code !== 0 || signal !== null) clean = false;
      if (members.size === 0) allExited?.();
      return;
    }
    crashes = Date.now() - member.forkedAt > STABLE_AFTER_MS ? 1 : crashes + 1;
    const delayMs = restartDelayMs(crashes);
    restarts.inc();
    logger.error(
      { worker: member.worker.id, pid: member.worker.process.pid, code, signal, restartInMs: delayMs },
      'worker exited unexpectedly; restarting it',
    );
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!stopping) fork();
    }, delayMs);
    restartTimers.add(timer);
  }

  async function reloadWorkers(except?: number): Promise<WireReloadResult> {
    const targets = readyMembers().filter((m) => m.worker.id !== except);
    const results = await Promise.all(
      targets.map((m) =>
        m.peer
          .request<WireReloadResult>('reload', undefined, 60_000)
          .catch((err: unknown): WireReloadResult => ({
            ok: false,
            issues: [
              { file: options.configFile, path: '', message: `worker ${m.worker.id}: ${String(err)}` },
            ],
          })),
      ),
    );
    return results.find((r) => !r.ok) ?? { ok: true };
  }

  function reloadAll(trigger: string): void {
    void reloadWorkers().then((result) => {
      if (result.ok)
        logger.info({ trigger, workers: readyMembers().length }, 'config reloaded on every worker');
      else
        logger.error({ trigger, issues: result.issues }, 'config reload rejected; the running config stays');
    });
  }

  async function nodeMetrics(): Promise<string> {
    const perWorker = await Promise.all(
      readyMembers().map((m) =>
        m.peer.request<MetricObjectWithValues<MetricValue<string>>[]>('collect-metrics', undefined, 5000),
      ),
    );
    const all = perWorker.map((list) =>
      list.map((metric) => {
        const aggregator = AGGREGATORS[metric.name];
        return aggregator === undefined ? metric : { ...metric, aggregator };
      }),
    );
    all.push(await metrics.getMetricsAsJSON());
    return AggregatorRegistry.aggregate(all).metrics();
  }

  async function status(): Promise<ClusterStatus> {
    const workers = await Promise.all(
      readyMembers().map((m) => m.peer.request<WorkerStatus>('status', undefined, 5000)),
    );
    workers.sort((a, b) => a.id - b.id);
    return { workers, restarts: (await restarts.get()).values[0]?.value ?? 0 };
  }

  const watcher =
    (options.watchConfig ?? true)
      ? watchConfigFile(options.configFile, () => reloadAll('file'), logger)
      : undefined;

  for (let i = 0; i < options.workers; i++) fork();
  logger.info({ workers: options.workers, pid: process.pid }, 'portico primary started');

  return new Promise<number>((resolve) => {
    const hup = (): void => reloadAll('SIGHUP');
    const stop = (signal: string): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', hup);
      stopping = true;
      watcher?.close();
      for (const timer of restartTimers) clearTimeout(timer);
      logger.info({ signal, workers: members.size }, 'signal received; draining every worker');
      // Ctrl-C already reached the workers (same process group); a second signal changes nothing for them.
      for (const member of members.values()) member.worker.process.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        clean = false;
        logger.error({ workers: members.size }, 'workers did not stop in time; killing them');
        for (const member of members.values()) member.worker.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS);
      const finish = (): void => {
        clearTimeout(killTimer);
        logger.info({ clean }, 'portico primary stopped');
        resolve(clean ? 0 : 1);
      };
      if (members.size === 0) finish();
      else allExited = finish;
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', hup);
  });
}

function workerChannel(worker: Worker): IpcChannel {
  return {
    send(message, onError) {
      if (!worker.isConnected()) {
        onError(new Error(`worker ${worker.id} is not connected`));
        return;
      }
      worker.send(message as object, undefined, onError);
    },
    on: (event, listener) => worker.on(event, listener),
    off: (event, listener) => worker.off(event, listener),
  };
}

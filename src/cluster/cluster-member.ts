import cluster from 'node:cluster';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../admin/admin-route.ts';
import { sendJson } from '../admin/json-body.ts';
import { ConfigError, type ConfigIssue } from '../config/config-error.ts';
import type { ReloadResult } from '../config/config-error.ts';
import {
  createClusterRateLimiter,
  type ClusterRateLimiter,
  type RateLimitAnswers,
  type RateLimitBatch,
} from '../security/cluster-rate-limiter.ts';
import { createIpcPeer, parentChannel, type IpcPeer } from './ipc.ts';

/** The parts of a running gateway that the primary asks about. */
export interface LocalWorker {
  /** Reloads this worker only (validate, compile, swap). */
  reload(): Promise<ReloadResult>;
  readonly metrics: MetricsRegistry;
  /** Requests answered by this worker's gateway listener since it started. */
  requests(): number;
}

/** A worker's view of one worker's state, as `GET /v1/cluster` lists it. */
export interface WorkerStatus {
  readonly id: number;
  readonly pid: number;
  readonly requests: number;
  readonly uptimeSeconds: number;
}

/** What `GET /v1/cluster` answers. */
export interface ClusterStatus {
  readonly workers: readonly WorkerStatus[];
  readonly restarts: number;
}

/** A reload outcome on the wire (a ConfigError does not survive JSON). */
export type WireReloadResult = { readonly ok: true } | { readonly ok: false; readonly issues: ConfigIssue[] };

/**
 * This process as one worker of a `workers: N` node: how the gateway reaches the primary. Pass it to
 * `startGateway({ cluster })`.
 */
export interface ClusterMember {
  readonly workerId: number;
  /**
   * The node-wide rate limiter (buckets held by the primary): the gateway makes it its node state's local
   * limiter, where the rate-limit stage finds it.
   */
  readonly rateLimiter: ClusterRateLimiter;
  /**
   * Reload for the whole node: this worker validates and applies the file first (an invalid file is answered
   * here, untouched elsewhere), then the primary has every other worker reload too.
   */
  reloadAll(): Promise<ReloadResult>;
  /** Wires the primary's questions to this gateway; returns the admin routes that answer node-wide. */
  attach(local: LocalWorker): AdminRoute[];
  /** Tells the primary this worker serves (it then counts in metrics, status and reload fan-out). */
  ready(): Promise<void>;
  /** After the drain: stops answering the primary and closes the channel, so the process can exit. */
  leave(): void;
}

/** Options of {@link createClusterMember}. */
export interface ClusterMemberOptions {
  readonly workerId: number;
  readonly peer: IpcPeer;
  /** Called by `leave()` after the peer closed. */
  readonly onLeave?: () => void;
}

const startedAt = Date.now();

/**
 * The worker side of the cluster protocol (see docs/adr/0003-workers.md).
 *
 * @example
 * const member = createClusterMember({ workerId: cluster.worker.id, peer: createIpcPeer(parentChannel()) });
 * const gateway = await startGateway({ configFile, watchConfig: false, cluster: member });
 */
export function createClusterMember(options: ClusterMemberOptions): ClusterMember {
  const { peer, workerId } = options;
  let local: LocalWorker | undefined;
  const limiter: ClusterRateLimiter = createClusterRateLimiter({
    send: (batch: RateLimitBatch) => peer.request<RateLimitAnswers>('rate-limit', batch, 2000),
  });

  async function reloadHere(): Promise<ReloadResult> {
    if (local === undefined) throw new Error('the worker is not attached to a gateway');
    return local.reload();
  }

  return {
    workerId,
    rateLimiter: limiter,
    async reloadAll() {
      const here = await reloadHere();
      if (!here.ok) return here;
      const others = await peer.request<WireReloadResult>('reload-others', workerId, 60_000);
      return others.ok ? here : { ok: false, error: new ConfigError(others.issues) };
    },
    async ready() {
      await peer.request('ready', undefined, 5000);
    },
    leave() {
      peer.close('the worker is leaving');
      options.onLeave?.();
    },
    attach(gateway) {
      local = gateway;
      peer.handle('reload', async () => toWire(await reloadHere()));
      peer.handle('collect-metrics', () => gateway.metrics.getMetricsAsJSON());
      peer.handle('status', (): WorkerStatus => ({
        id: workerId,
        pid: process.pid,
        requests: gateway.requests(),
        uptimeSeconds: (Date.now() - startedAt) / 1000,
      }));
      return [
        {
          method: 'GET',
          path: '/metrics',
          async handler(_req, res) {
            const text = await peer.request<string>('metrics', undefined, 5000);
            res.writeHead(200, { 'content-type': gateway.metrics.contentType });
            res.end(text);
          },
        },
        {
          method: 'GET',
          path: '/v1/cluster',
          async handler(_req, res) {
            sendJson(res, 200, await peer.request<ClusterStatus>('status', undefined, 5000));
          },
        },
      ];
    },
  };
}

/** The wire form of a reload outcome. */
export function toWire(result: ReloadResult): WireReloadResult {
  return result.ok ? { ok: true } : { ok: false, issues: result.error.issues };
}

/**
 * Joins the cluster as a worker (call in a `cluster.fork()`ed process). If the primary goes away, the worker
 * drains and exits as on SIGTERM rather than serving on alone.
 *
 * @example
 * const member = joinCluster();
 * const gateway = await startGateway({ configFile, watchConfig: false, cluster: member });
 * await member.ready();
 */
export function joinCluster(): ClusterMember {
  const channel = parentChannel();
  if (channel === undefined) throw new Error('joinCluster needs an IPC channel to the cluster primary');
  const onDisconnect = (): void => void process.kill(process.pid, 'SIGTERM');
  process.once('disconnect', onDisconnect);
  return createClusterMember({
    workerId: cluster.worker?.id ?? 0,
    peer: createIpcPeer(channel),
    onLeave() {
      process.off('disconnect', onDisconnect);
      if (process.connected) process.disconnect();
    },
  });
}

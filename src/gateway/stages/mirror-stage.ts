import type { ServerResponse } from 'node:http';
import type { Agent, Dispatcher } from 'undici';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import type { MirrorStats } from '../../policies/mirror-stats.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { StageFactory } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import { hasBody, readBody } from './validate-stage.ts';

const kMirror = Symbol('portico.mirror');
type MirroredResponse = ServerResponse & { [kMirror]?: MirrorCall };

/** What a route's mirror needs, compiled once. */
interface MirrorTarget {
  readonly agent: Agent;
  readonly service: ServiceRuntime;
  readonly stats: MirrorStats;
  readonly maxConcurrent: number;
  readonly timeoutMs: number;
  inflight: number;
}

/**
 * Shadow traffic (transform phase, after the route's transform, so the copy is the request the service
 * gets): a share of the route's requests is copied to another service, whose answers are read and dropped.
 * The copy goes out through a separate agent at the same time as the real request and nothing waits
 * for it; copies in flight are bounded per route. A body is copied only when its declared length is within
 * `maxBodySize`: it is read first (the proxy then sends the same bytes), which is the one cost a copied
 * request with a body pays. Status classes and durations of both sides are compared (metrics).
 */
export function createMirrorStageFactory(random: () => number = Math.random): StageFactory {
  return {
    name: 'mirror',
    phase: 'transform',
    create(route, context) {
      const config = route.mirror;
      if (config === undefined || config.percent === 0) return undefined;
      const service = context.services?.get(config.service);
      if (service === undefined) return undefined;
      const target: MirrorTarget = {
        // Copies go through an agent of their own (the node state's), not the instances' pools: they never take
        // a connection the real traffic could use, and shutdown, which waits for the pools' requests, does not
        // wait for a copy to a hanging mirror (the agent is destroyed with the node state).
        agent: context.state.mirrorAgent(),
        service,
        stats: context.state.mirrorStats(route.name),
        maxConcurrent: config.maxConcurrent,
        timeoutMs: parseDurationMs(config.timeout),
        inflight: 0,
      };
      const share = config.percent / 100;
      const maxBodyBytes = parseSizeBytes(config.maxBodySize);

      return function mirror(ctx, next) {
        // A WebSocket upgrade is not copied: there is no request-answer pair to compare.
        if (ctx.upgradeHead !== undefined || (share < 1 && random() >= share)) return next(ctx);
        if (target.inflight >= target.maxConcurrent) {
          target.stats.dropped++;
          return next(ctx);
        }
        const req = ctx.req;
        if (ctx.body !== undefined || !hasBody(req)) {
          send(ctx, target);
          return next(ctx);
        }
        const declared = Number(req.headers['content-length'] ?? -1);
        if (req.headers['transfer-encoding'] !== undefined || declared < 0 || declared > maxBodyBytes) {
          target.stats.skipped++;
          return next(ctx);
        }
        return readBody(ctx, maxBodyBytes).then((body) => {
          ctx.body = body;
          send(ctx, target);
          return next(ctx);
        });
      };
    },
  };
}

/** The stage as registered in stages/index.ts. */
export const mirrorStage: StageFactory = createMirrorStageFactory();

function send(ctx: RequestContext, target: MirrorTarget): void {
  const service = target.service;
  const instance = service.instances.pick(ctx.clientIp);
  if (instance === undefined) {
    target.stats.failed++;
    return;
  }
  const req = ctx.req;
  const body = ctx.body;
  const headers = buildUpstreamHeaders(req, {
    peer: req.socket.remoteAddress ?? '',
    fromTrustedProxy: ctx.fromTrustedProxy,
    requestId: ctx.requestId,
    upstreamHost: instance.url.host,
    contentLength: body === undefined ? -1 : body.length,
    extra: ctx.upstreamHeaders,
    edit: ctx.requestHeaderEdit,
  });
  headers.push('portico-mirror', '1');
  const path = instance.pathPrefix + upstreamPathOf(ctx);
  const options: Dispatcher.RequestOptions = {
    origin: instance.url.origin,
    path: ctx.query === '' ? path : `${path}?${ctx.query}`,
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    headers,
    body: body === undefined || body.length === 0 ? null : body,
    headersTimeout: target.timeoutMs,
    bodyTimeout: target.timeoutMs,
  };
  const call = new MirrorCall(target, ctx.startedAt);
  const res = ctx.res as MirroredResponse;
  res[kMirror] = call;
  res.once('finish', onPrimaryFinish);
  target.inflight++;
  target.stats.sent++;
  target.agent.request(options).then(
    async (answer) => {
      // Read and dropped; past undici's dump limit the connection is closed rather than read on.
      await answer.body.dump();
      call.mirrorDone(answer.statusCode);
    },
    () => call.mirrorDone(0),
  );
}

function onPrimaryFinish(this: MirroredResponse): void {
  this[kMirror]?.primaryDone(this.statusCode);
}

/** One copied request: compares the two sides once both are over. */
class MirrorCall {
  readonly #target: MirrorTarget;
  readonly #primaryStartedAt: number;
  readonly #mirrorStartedAt = performance.now();
  #primaryStatus = -1;
  #primarySeconds = 0;
  #mirrorStatus = -1;
  #mirrorSeconds = 0;

  constructor(target: MirrorTarget, primaryStartedAt: number) {
    this.#target = target;
    this.#primaryStartedAt = primaryStartedAt;
  }

  primaryDone(status: number): void {
    this.#primaryStatus = status;
    this.#primarySeconds = (performance.now() - this.#primaryStartedAt) / 1000;
    this.#compare();
  }

  /** `status` 0: the copy failed (connection, timeout). */
  mirrorDone(status: number): void {
    this.#target.inflight--;
    this.#mirrorSeconds = (performance.now() - this.#mirrorStartedAt) / 1000;
    if (status === 0) this.#target.stats.failed++;
    this.#mirrorStatus = status;
    this.#compare();
  }

  #compare(): void {
    if (this.#primaryStatus < 0 || this.#mirrorStatus <= 0) return;
    const stats = this.#target.stats;
    if (Math.floor(this.#primaryStatus / 100) === Math.floor(this.#mirrorStatus / 100)) stats.sameStatus++;
    else stats.differentStatus++;
    stats.compared++;
    stats.primarySeconds += this.#primarySeconds;
    stats.mirrorSeconds += this.#mirrorSeconds;
  }
}

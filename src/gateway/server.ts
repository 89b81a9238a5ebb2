import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { logRequest, type Refusals } from '../observability/access-log.ts';
import type { Logger } from '../observability/logger.ts';
import type { OtlpTracer } from '../observability/otlp-tracer.ts';
import { sendError, sendProblem } from '../errors/problem.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { ErrorCode } from '../errors/catalog.ts';
import { resolveClientIp } from './forwarding/upstream-headers.ts';
import { isTrustedPeer, requestIdOf } from './forwarding/request-identity.ts';
import { RequestContext } from './pipeline/request-context.ts';
import { normalizePath } from './router/normalize-path.ts';
import { checkFraming } from '../security/framing.ts';
import type { Runtime } from './runtime/compile-runtime.ts';
import { proxyUpgrade } from './services/websocket.ts';

export interface GatewayServerOptions {
  /** The current runtime table; read once per request. */
  readonly runtime: () => Runtime;
  readonly logger: Logger;
  readonly accessLog: boolean;
  readonly maxHeaderSizeBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Span export; undefined (the default) when tracing is off. */
  readonly tracer?: OtlpTracer | undefined;
  /** Counts and logs requests refused before routing (observability/access-log.ts). */
  readonly refusals?: Refusals | undefined;
}

export interface GatewayServer {
  readonly server: Server;
  /** Requests whose response has not ended yet. */
  readonly inflight: () => number;
}

const kContext = Symbol('portico.context');
type TrackedResponse = ServerResponse & { [kContext]?: RequestContext };

/**
 * The client-facing listener: normalises the path once, matches a route, builds the request context and
 * runs the route's compiled handler. Node's strict parser stays on (`insecureHTTPParser: false`).
 */
export function createGatewayServer(options: GatewayServerOptions): GatewayServer {
  const { logger, accessLog, tracer, refusals } = options;
  let inflight = 0;

  function onResponseClose(this: TrackedResponse): void {
    inflight--;
    const ctx = this[kContext];
    if (ctx === undefined) return;
    this[kContext] = undefined;
    if (!this.writableFinished) ctx.exchange?.clientGone();
    const seconds = (performance.now() - ctx.startedAt) / 1e3;
    const status = this.writableFinished ? this.statusCode : 499;
    ctx.route.stats.record(ctx.req.method ?? 'GET', status, seconds);
    if (tracer !== undefined) tracer.record(ctx, status);
    if (accessLog) logRequest(logger, ctx, status, seconds);
  }

  function onUntrackedClose(): void {
    inflight--;
  }

  /** Answers before any route ran; `close` drops the connection (its framing or headers are suspect). */
  function refuse(res: ServerResponse, code: ErrorCode, detail: string, close: boolean): void {
    res.once('close', onUntrackedClose);
    if (close) res.shouldKeepAlive = false;
    refusals?.refused(res.req, code);
    sendProblem(res, code, detail);
  }

  function fail(ctx: RequestContext, err: unknown): void {
    if (!(err instanceof PorticoError)) logger.error({ err, requestId: ctx.requestId }, 'request failed');
    sendError(ctx.res, err, { 'x-request-id': ctx.requestId });
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    inflight++;
    const runtime = options.runtime();
    if (req.rawHeaders.length > runtime.headerCountLimit * 2) {
      return refuse(res, 'headers_too_large', `more than ${runtime.headerCountLimit} header lines`, true);
    }
    const framingProblem = checkFraming(req);
    if (framingProblem !== undefined) return refuse(res, 'bad_request', framingProblem, true);
    const target = normalizePath(req.url ?? '');
    if (target === undefined)
      return refuse(res, 'bad_request', 'the request target is not a valid path', false);
    const match = runtime.router.find(
      routingMethod(req, runtime),
      req.headers.host,
      target.path,
      req.headers,
    );
    if (match === undefined) {
      return refuse(res, 'route_not_found', `no route for ${req.method} ${target.path}`, false);
    }
    const peer = req.socket.remoteAddress ?? '';
    const trusted = isTrustedPeer(req.socket, peer, runtime.trustedProxies);
    const clientIp = resolveClientIp(peer, trusted, req.headers['x-forwarded-for'], runtime.trustedProxies);
    const requestId = requestIdOf(req);
    const route = match.entry.value;
    const ctx = new RequestContext(
      req,
      res,
      route,
      match.params,
      target.path,
      target.query,
      clientIp,
      trusted,
      requestId,
      performance.now(),
    );
    (res as TrackedResponse)[kContext] = ctx;
    // `on`, not `once`: 'close' fires once per response, and `once` would allocate a wrapper per request.
    res.on('close', onResponseClose);
    try {
      const pending = route.handler(ctx);
      if (pending !== undefined) pending.catch((err: unknown) => fail(ctx, err));
    } catch (err) {
      fail(ctx, err);
    }
  }

  const server = createServer(
    {
      insecureHTTPParser: false,
      maxHeaderSize: options.maxHeaderSizeBytes,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Node enforces headersTimeout/requestTimeout on this sweep (30 s by default): a slow client would
      // otherwise hold its socket up to 30 s past its deadline.
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs),
      requireHostHeader: true,
      joinDuplicateHeaders: false,
    },
    handleRequest,
  );
  // Node silently drops header lines past maxHeadersCount; let one more through so the count check above sees it.
  server.maxHeadersCount = 1001;
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    proxyUpgrade(options.runtime(), req, socket, head, logger);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    refusals?.clientError(err, socket as Socket, status);
    const reason =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return { server, inflight: () => inflight };
}

/**
 * A CORS preflight is routed by the method it asks about, so the route's CORS stage answers it even when the
 * route does not accept OPTIONS itself.
 */
function routingMethod(req: IncomingMessage, runtime: Runtime): string {
  const method = req.method ?? 'GET';
  if (method !== 'OPTIONS' || runtime.config.cors === undefined) return method;
  const asked = req.headers['access-control-request-method'];
  return typeof asked === 'string' ? asked : method;
}

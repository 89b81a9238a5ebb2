import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorCatalog, type ErrorCode } from '../errors/catalog.ts';
import { problemCodeOf } from '../errors/problem.ts';
import type { Logger } from './logger.ts';
import type { RouteStats, RouteStatsTable } from './route-stats.ts';
import { spanIdOf, traceIdOf, traceparentOf } from './trace-context.ts';

/** What the access log reads of a request's context (observability does not import the gateway). */
export interface LoggedRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: { readonly name: string };
  readonly path: string;
  readonly clientIp: string;
  readonly requestId: string;
  readonly consumer: string | undefined;
  readonly upstream: string | undefined;
  readonly upstreamMs: number;
  readonly connection: Socket;
  readonly bytesReadAtStart: number;
  readonly bytesWrittenAtStart: number;
}

/** The route label of requests refused before any route matched (bounded, unlike their paths). */
export const NO_ROUTE = '_none';

/** Longest path written for a refused request: its target was never normalised and may be hostile. */
const MAX_LOGGED_PATH = 256;

const round = (ms: number): number => Math.round(ms * 1e3) / 1e3;

/**
 * Writes the access log line of a routed request. `gatewayMs` is the time spent in Portico itself (total
 * minus the upstream tries), `code` is set only when the gateway produced the answer; `bytesOut` is what was
 * written to the client (headers included) and `bytesIn` the request body (see {@link bytesInOf}).
 */
export function logRequest(logger: Logger, ctx: LoggedRequest, status: number, seconds: number): void {
  const traceparent = traceparentOf(ctx.req);
  const durationMs = seconds * 1e3;
  const socket = ctx.connection;
  logger.info({
    msg: 'request',
    method: ctx.req.method,
    path: ctx.path,
    route: ctx.route.name,
    status,
    code: problemCodeOf(ctx.res),
    durationMs: round(durationMs),
    upstreamMs: ctx.upstream === undefined ? undefined : round(ctx.upstreamMs),
    gatewayMs: round(durationMs - ctx.upstreamMs),
    upstream: ctx.upstream,
    consumer: ctx.consumer,
    bytesIn: bytesInOf(ctx),
    bytesOut: socket.bytesWritten - ctx.bytesWrittenAtStart,
    userAgent: ctx.req.headers['user-agent'],
    requestId: ctx.requestId,
    traceId: traceIdOf(traceparent),
    spanId: spanIdOf(traceparent),
    client: ctx.clientIp,
  });
}

/**
 * The request body's size: its Content-Length when declared (exact, and free); a chunked body's bytes read
 * from the connection while the request was in flight otherwise (what arrived with the headers is missed:
 * counting every chunk would cost a listener per request).
 */
function bytesInOf(ctx: LoggedRequest): number {
  const declared = ctx.req.headers['content-length'];
  if (declared !== undefined) return Number(declared);
  return ctx.connection.bytesRead - ctx.bytesReadAtStart;
}

/** Counts and logs requests the gateway refused before routing; see {@link createRefusals}. */
export interface Refusals {
  /** A request answered by `refuse()` (bad framing, too many headers, bad target, no route). */
  refused(req: IncomingMessage, code: ErrorCode): void;
  /** A request Node's parser rejected (400 malformed, 408 too slow, 431 headers too large). */
  clientError(err: NodeJS.ErrnoException, socket: Socket, status: number): void;
}

/**
 * Refusals are counted in `portico_http_requests_total` under the route `_none` (their paths are
 * unbounded, so never a label) and, with the access log on, logged like routed requests.
 */
export function createRefusals(stats: RouteStatsTable, logger: Logger, accessLog: boolean): Refusals {
  let none: RouteStats | undefined;
  const record = (method: string, status: number): void => {
    none ??= stats.for(NO_ROUTE);
    none.record(method, status, 0);
  };
  return {
    refused(req, code) {
      const status = errorCatalog[code].status;
      record(req.method ?? 'GET', status);
      if (!accessLog) return;
      const url = req.url ?? '';
      logger.info({
        msg: 'request',
        method: req.method,
        path: url.length > MAX_LOGGED_PATH ? `${url.slice(0, MAX_LOGGED_PATH)}…` : url,
        route: NO_ROUTE,
        status,
        code,
        userAgent: req.headers['user-agent'],
        client: req.socket.remoteAddress,
      });
    },
    clientError(err, socket, status) {
      record('OTHER', status);
      if (!accessLog) return;
      logger.info({
        msg: 'request',
        route: NO_ROUTE,
        status,
        // 408 has no catalog code: Node's parser answers it as a bare status line.
        code: status === 431 ? 'headers_too_large' : status === 400 ? 'bad_request' : undefined,
        error: err.code,
        client: socket.remoteAddress,
      });
    },
  };
}

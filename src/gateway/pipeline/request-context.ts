import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RouteConfig } from '../../config/schema.ts';
import type { RouteStats } from '../../observability/route-stats.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { HeaderEdit } from '../../policies/header-edit.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';
import { grpcFramingOf, type GrpcFraming } from '../../http/grpc-framing.ts';

/**
 * What a request reads of its compiled route. The route's handler is left out (see runtime/compiled-route.ts):
 * it takes the context, so naming it here would make the context and the route types import each other.
 */
export interface RequestRoute {
  readonly name: string;
  readonly config: RouteConfig;
  readonly service: ServiceRuntime;
  /** Builds the upstream path (prefix stripped, rewritten) from the normalised path and params. */
  readonly upstreamPath: (path: string, params: Readonly<Record<string, string>>) => string;
  readonly preserveHost: boolean;
  readonly websocket: boolean;
  /** Overall deadline in ms, or 0 for none. */
  readonly deadlineMs: number;
  readonly stats: RouteStats;
}

/**
 * Per-request state shared by the stages and the terminal service. One object per request, with every
 * field set in the constructor so V8 keeps a single shape.
 */
export class RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: RequestRoute;
  readonly params: Readonly<Record<string, string>>;
  /** The normalised request path (see src/paths/normalize-path.ts). */
  readonly path: string;
  /** The raw query string without `?` ('' when absent); a stage may remove a parameter (an API key). */
  query: string;
  /** The client address: the peer, or the first untrusted hop of X-Forwarded-For behind a trusted proxy. */
  readonly clientIp: string;
  /** Whether the peer is a trusted proxy (its forwarding headers are honoured). */
  readonly fromTrustedProxy: boolean;
  readonly requestId: string;
  /** performance.now() at arrival (ms), for the access log and the latency histogram; a double, no BigInt to allocate. */
  readonly startedAt: number;
  /** The instance that served the request, once picked (access log). */
  upstream: string | undefined = undefined;
  /** Consumer id set by authentication stages. */
  consumer: string | undefined = undefined;
  /** Scopes of the authenticated consumer (authentication stages). */
  scopes: ReadonlySet<string> | undefined = undefined;
  /**
   * Verified identity headers as a flat [name, value, …] list, appended to the upstream request; a client's
   * copies of these names are always dropped (forwarding/upstream-headers.ts).
   */
  upstreamHeaders: readonly string[] | undefined = undefined;
  /** The route's request header transform, values filled for this request (transform stage). */
  requestHeaderEdit: HeaderEdit | undefined = undefined;
  /**
   * The instances to pick from when a stage narrowed them (version selection, canary split); the route's
   * service instances otherwise.
   */
  instances: InstanceSet | undefined = undefined;
  /** Whether the answer carries `Portico-Version` with the version of the instance that served it. */
  versioned = false;
  /** The major the version stage chose, when it chose one (per-version transforms). */
  versionMajor: number | undefined = undefined;
  /** The major the consumer is pinned to, when its pin chose the version (shown in `Portico-Version`). */
  versionPin: string | undefined = undefined;
  /** The path sent upstream (prefix stripped, rewritten), built once by `upstreamPathOf`. */
  upstreamPath: string | undefined = undefined;
  /** The upstream exchange in progress, told when the client goes away so it aborts the upstream request. */
  exchange: { clientGone(): void } | undefined = undefined;
  /**
   * The whole request body when a stage that needs it (request validation, the only stage that buffers) read
   * it; the proxy then sends these bytes instead of streaming the request, and may replay them.
   */
  body: Buffer | undefined = undefined;
  /** For an Upgrade request: the bytes the client sent after its head, relayed once the upgrade succeeds. */
  upgradeHead: Buffer | undefined = undefined;
  /** Milliseconds spent in upstream tries (sent to answered or failed), summed over retries (access log). */
  upstreamMs = 0;
  /** The client connection (kept: `req.socket` is gone once the response closes) and its byte counters at arrival, so the access log can tell this request's share. */
  readonly connection: Socket;
  /** Set by the listener only when the access log is on: `bytesWritten` copies the socket's write queue. */
  bytesReadAtStart = 0;
  bytesWrittenAtStart = 0;
  /** How many stages of the route's chain called `next` (composeStages refuses a second call). */
  stagesPassed = 0;
  /** The client speaks HTTP/2 (Node's compatibility request and response objects). */
  readonly http2: boolean;
  /** A gRPC call (content type `application/grpc…`), and in which framing; undefined for other requests. */
  readonly grpc: GrpcFraming | undefined;
  /** The caller's own deadline in ms (`grpc-timeout`), 0 for none; the proxy keeps the earlier of it and the route's. */
  deadlineMs = 0;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: RequestRoute,
    params: Readonly<Record<string, string>>,
    path: string,
    query: string,
    clientIp: string,
    fromTrustedProxy: boolean,
    requestId: string,
    startedAt: number,
  ) {
    this.req = req;
    this.res = res;
    this.route = route;
    this.params = params;
    this.path = path;
    this.query = query;
    this.clientIp = clientIp;
    this.fromTrustedProxy = fromTrustedProxy;
    this.requestId = requestId;
    this.startedAt = startedAt;
    this.connection = req.socket;
    this.http2 = req.httpVersionMajor === 2;
    this.grpc = grpcFramingOf(req.headers['content-type']);
  }
}

/** The path the upstream receives, built once per request whoever asks first (validation, the proxy's tries). */
export function upstreamPathOf(ctx: RequestContext): string {
  return (ctx.upstreamPath ??= ctx.route.upstreamPath(ctx.path, ctx.params));
}

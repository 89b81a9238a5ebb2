import {
  createServer,
  ServerResponse,
  type IncomingMessage,
  type Server,
  type ServerOptions,
} from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import {
  createSecureServer as createHttp2SecureServer,
  createServer as createHttp2Server,
  type Http2Server,
  type Http2Session,
  type Settings as Http2Settings,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { logRequest, type Refusals } from '../observability/access-log.ts';
import type { Logger } from '../observability/logger.ts';
import type { OtlpTracer } from '../observability/otlp-tracer.ts';
import { sendError, sendProblem } from '../errors/problem.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { PluginFailedError } from './plugins/plugin-stages.ts';
import type { ErrorCode } from '../errors/catalog.ts';
import { resolveClientIp } from './forwarding/upstream-headers.ts';
import { isTrustedPeer, requestIdOf } from './forwarding/request-identity.ts';
import { RequestContext } from './pipeline/request-context.ts';
import { normalizePath } from '../paths/normalize-path.ts';
import { checkFraming } from '../security/framing.ts';
import type { Runtime } from './runtime/compile-runtime.ts';
import { ConnectionGuard } from './net/connection-guard.ts';
import { closeAfterAnswer } from './net/lingering-close.ts';
import { forwardClientCertificate } from './tls/client-cert-header.ts';
import { grpcTimeoutMs } from './grpc/grpc-timeout.ts';
import { guardHttp2Session, type Http2FloodKind, type Http2FloodLimits } from './net/http2-flood-guard.ts';

export interface GatewayServerOptions {
  /** The current runtime table; read once per request. */
  readonly runtime: () => Runtime;
  readonly logger: Logger;
  readonly accessLog: boolean;
  readonly maxHeaderSizeBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** Span export; undefined (the default) when tracing is off. */
  readonly tracer?: OtlpTracer | undefined;
  /** Counts and logs requests refused before routing (observability/access-log.ts). */
  readonly refusals?: Refusals | undefined;
  /** The client listeners, in config order; one plain listener when absent. */
  readonly listeners?: readonly ListenerSpec[] | undefined;
}

/** How one client listener differs from the others; they all share the one intake below. */
export interface ListenerSpec {
  /** TLS options (certificates, SNI, ALPN, client certificates) of an HTTPS listener; plain HTTP when absent. */
  readonly tls?: HttpsServerOptions | undefined;
  /** Strict-Transport-Security value set on every answer of a TLS listener. */
  readonly hsts?: string | undefined;
  /**
   * Set on a plain listener that answers every request with 308 to the same target on https: the port put in
   * the Location (0 or 443 puts none).
   */
  readonly redirectToHttpsPort?: number | undefined;
  /** A plain listener's answers to ACME HTTP-01 challenges (RFC 8555 §8.3): the key authorization of a token. */
  readonly acmeChallenge?: ((token: string) => string | Promise<string | undefined> | undefined) | undefined;
  /** A TLS listener that sends the verified client certificate upstream in `Client-Cert` (RFC 9440). */
  readonly forwardClientCertificate?: boolean | undefined;
  /**
   * HTTP/2 on this listener: by ALPN on a TLS listener, with prior knowledge (next to HTTP/1.1) on a plain one.
   * HTTP/1.1 only when absent.
   */
  readonly http2?: Http2ListenerSpec | undefined;
}

/** The HTTP/2 settings a listener announces and the floods it refuses. */
export interface Http2ListenerSpec {
  readonly settings: Pick<Http2Settings, 'maxConcurrentStreams' | 'maxHeaderListSize' | 'initialWindowSize'>;
  readonly flood: Http2FloodLimits;
}

export interface GatewayServer {
  /** The first listener's server. */
  readonly server: Server;
  /** One server per listener, in the order of `listeners`. */
  readonly servers: readonly Server[];
  /** Requests whose response has not ended yet. */
  readonly inflight: () => number;
}

const kContext = Symbol('portico.context');
const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/';
type TrackedResponse = ServerResponse & { [kContext]?: RequestContext };
/** Set on a connection once a request on it asked to close it: later pipelined requests are not run. */
const kLastRequestSeen = Symbol('portico.lastRequestSeen');
/** Set on a connection whose remaining bytes did not parse: the answer owed is written after the others. */
const kParseFailure = Symbol('portico.parseFailure');
type ClientSocket = Socket & {
  [kLastRequestSeen]?: boolean;
  [kParseFailure]?: string;
  /** Node's: the answer currently written on this connection. */
  _httpMessage?: ServerResponse | null;
};

/**
 * The client-facing listener: normalises the path once, matches a route, builds the request context and
 * runs the route's compiled handler. Node's strict parser stays on (`insecureHTTPParser: false`).
 */
export function createGatewayServer(options: GatewayServerOptions): GatewayServer {
  const { logger, accessLog, tracer, refusals } = options;
  let inflight = 0;
  const guard = new ConnectionGuard({
    headersTimeoutMs: options.headersTimeoutMs,
    maxConnectionsPerClient: options.maxConnectionsPerClient,
    isExempt: (peer) => {
      const proxies = options.runtime().trustedProxies;
      return !proxies.empty && proxies.has(peer);
    },
  });

  function onResponseClose(this: TrackedResponse): void {
    inflight--;
    if (this.req.httpVersionMajor !== 2) afterAnswer(this.req.socket as ClientSocket | null);
    const ctx = this[kContext];
    if (ctx === undefined) return;
    this[kContext] = undefined;
    // Node's HTTP/2 compatibility response reports writableFinished on a stream the client reset (RST_STREAM,
    // e.g. a cancelled gRPC call): whether the answer was ended is what tells there.
    const answered = this.req.httpVersionMajor === 2 ? this.writableEnded : this.writableFinished;
    if (!answered) ctx.exchange?.clientGone();
    const seconds = (performance.now() - ctx.startedAt) / 1e3;
    // A relayed upgrade never finishes its response: its 101 went out on the socket.
    const status = answered || this.statusCode === 101 ? this.statusCode : 499;
    ctx.route.stats.record(ctx.req.method ?? 'GET', status, seconds);
    if (tracer !== undefined) tracer.record(ctx, status);
    if (accessLog) logRequest(logger, ctx, status, seconds);
  }

  function onUntrackedClose(this: ServerResponse): void {
    inflight--;
    if (this.req.httpVersionMajor !== 2) afterAnswer(this.req.socket as ClientSocket | null);
  }

  /** Once every answer owed on a connection is out, a parse failure behind them gets its own answer. */
  function afterAnswer(socket: ClientSocket | null): void {
    // A destroyed connection has left its request already.
    if (socket === null) return;
    guard.answered(socket);
    const failure = socket[kParseFailure];
    if (failure !== undefined && socket._httpMessage == null) answerParseFailure(socket, failure);
  }

  /**
   * Answers before any route ran. `close` drops the connection without reading on (its framing or
   * headers are suspect); otherwise an unread body is drained or lingered on (lingering-close.ts).
   */
  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    code: ErrorCode,
    detail: string,
    close: boolean,
    headers?: Record<string, string>,
  ): void {
    res.once('close', onUntrackedClose);
    // An HTTP/2 refusal ends its stream only; the connection's other streams go on.
    if (close && req.httpVersionMajor !== 2) {
      res.shouldKeepAlive = false;
      markLast(req.socket as ClientSocket);
    } else closeAfterAnswer(req, res);
    refusals?.refused(req, code);
    sendProblem(res, code, detail, undefined, headers);
  }

  function fail(ctx: RequestContext, err: unknown): void {
    if (err instanceof PluginFailedError)
      logger.error({ err: err.cause, plugin: err.plugin, requestId: ctx.requestId }, 'plugin failed');
    else if (!(err instanceof PorticoError))
      logger.error({ err, requestId: ctx.requestId }, 'request failed');
    if (!ctx.res.headersSent) closeAfterAnswer(ctx.req, ctx.res);
    sendError(ctx.res, err, { 'x-request-id': ctx.requestId });
  }

  /**
   * The one intake of every request: checks, routing and the request context, then the route's stage chain
   * and terminal service. An Upgrade request (`upgradeHead` set) runs the same chain ending in the route's
   * WebSocket relay instead of the proxy.
   */
  function handleRequest(req: IncomingMessage, res: ServerResponse, upgradeHead?: Buffer): void {
    const socket = req.socket as ClientSocket;
    if (req.httpVersionMajor !== 1 && (res as { stream?: unknown }).stream === undefined) {
      // llhttp parses any one-digit version: `HTTP/2.0` on an HTTP/1.1 connection is no HTTP/2 request (those come
      // through the HTTP/2 layer, with a stream) and must not take HTTP/2's paths; it is a broken request.
      markLast(socket);
      return answerParseFailure(socket, VERSION_REFUSED);
    }
    guard.headReceived(socket);
    inflight++;
    if (req.httpVersionMajor === 2) {
      // Node's compatibility layer: `:authority` stands for Host (RFC 9113 §8.3.1); stages and the proxy read Host.
      req.headers.host ??= req.headers[':authority'] as string | undefined;
    } else {
      if (socket[kLastRequestSeen] === true) {
        // Pipelined after a request that closes the connection: never run, never answered.
        res.once('close', onUntrackedClose);
        return;
      }
      if (!res.shouldKeepAlive) markLast(socket);
    }
    const runtime = options.runtime();
    if (req.rawHeaders.length > runtime.headerCountLimit * 2) {
      return refuse(
        req,
        res,
        'headers_too_large',
        `more than ${runtime.headerCountLimit} header lines`,
        true,
      );
    }
    const framingProblem = checkFraming(req);
    if (framingProblem !== undefined) return refuse(req, res, 'bad_request', framingProblem, true);
    const target = normalizePath(req.url ?? '');
    if (target === undefined)
      return refuse(req, res, 'bad_request', 'the request target is not a valid path', false);
    const method = routingMethod(req, runtime);
    const match = runtime.router.find(method, req.headers.host, target.path, req.headers);
    if (match === undefined) return refuseUnrouted(req, res, runtime, method, target.path);
    if (method === 'TRACE' && match.entry.match.methods?.includes('TRACE') !== true) {
      // TRACE echoes the request, credentials included (cross-site tracing): only where a route names it.
      return refuse(req, res, 'method_not_allowed', 'TRACE is not allowed', false, {
        allow: allowedWithoutTrace(runtime, req, target.path),
      });
    }
    const peer = req.socket.remoteAddress ?? '';
    const trusted = isTrustedPeer(req.socket, peer, runtime.trustedProxies);
    const clientIp = resolveClientIp(peer, trusted, req.headers['x-forwarded-for'], runtime.trustedProxies);
    const requestId = requestIdOf(req);
    const route = match.entry.value;
    const handler = upgradeHead === undefined ? route.handler : route.upgradeHandler;
    if (handler === undefined)
      return refuse(
        req,
        res,
        'route_not_found',
        `route "${route.name}" does not take WebSocket upgrades`,
        true,
      );
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
    if (upgradeHead !== undefined) ctx.upgradeHead = upgradeHead;
    if (ctx.grpc !== undefined) ctx.deadlineMs = grpcTimeoutMs(req.headers['grpc-timeout']);
    if (accessLog) {
      ctx.bytesReadAtStart = socket.bytesRead;
      ctx.bytesWrittenAtStart = socket.bytesWritten;
    }
    (res as TrackedResponse)[kContext] = ctx;
    // `on`, not `once`: 'close' fires once per response, and `once` would allocate a wrapper per request.
    res.on('close', onResponseClose);
    try {
      const pending = handler(ctx);
      if (pending !== undefined) pending.catch((err: unknown) => fail(ctx, err));
    } catch (err) {
      fail(ctx, err);
    }
  }

  /** 405 with `Allow` when routes serve the path with other methods (RFC 9110 §15.5.6), else 404. */
  function refuseUnrouted(
    req: IncomingMessage,
    res: ServerResponse,
    runtime: Runtime,
    method: string,
    path: string,
  ): void {
    const allowed = runtime.router.allowedMethods(req.headers.host, path, req.headers);
    if (allowed === undefined || allowed.length === 0)
      return refuse(req, res, 'route_not_found', `no route for ${req.method} ${path}`, false);
    return refuse(req, res, 'method_not_allowed', `${method} is not allowed on ${path}`, false, {
      allow: allowed.join(', '),
    });
  }

  /** A redirect listener's answer: 308 to the same host, path and query on https (RFC 9110 §15.4.9). */
  function redirectToHttps(req: IncomingMessage, res: ServerResponse, port: number): void {
    guard.headReceived(req.socket);
    inflight++;
    const host = hostnameOf(req.headers.host);
    if (host === undefined)
      return refuse(req, res, 'bad_request', 'the Host header is missing or invalid', true);
    res.once('close', onUntrackedClose);
    closeAfterAnswer(req, res);
    const authority = port === 0 || port === 443 ? host : `${host}:${port}`;
    res.writeHead(308, { location: `https://${authority}${req.url ?? '/'}`, 'content-length': '0' });
    res.end();
  }

  /** Answers a pending HTTP-01 token; false (nothing written) for any other request. */
  /**
   * Answers an HTTP-01 token; false when the request is not one. A token this process does not know is looked up
   * in the ACME storage (another node may be ordering): then `otherwise` handles the request when it is unknown.
   */
  function answerChallenge(
    req: IncomingMessage,
    res: ServerResponse,
    challenge: (token: string) => string | Promise<string | undefined> | undefined,
    otherwise: (req: IncomingMessage, res: ServerResponse) => void,
  ): boolean {
    const url = req.url;
    if (url === undefined || !url.startsWith(ACME_CHALLENGE_PATH)) return false;
    const answer = challenge(url.slice(ACME_CHALLENGE_PATH.length));
    if (answer === undefined) return false;
    if (typeof answer === 'string') writeChallengeAnswer(req, res, answer);
    else
      answer.then(
        (found) => (found === undefined ? otherwise(req, res) : writeChallengeAnswer(req, res, found)),
        () => otherwise(req, res),
      );
    return true;
  }

  function writeChallengeAnswer(req: IncomingMessage, res: ServerResponse, answer: string): void {
    guard.headReceived(req.socket);
    inflight++;
    res.once('close', onUntrackedClose);
    closeAfterAnswer(req, res);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(answer.length),
    });
    res.end(answer);
  }

  const httpOptions: ServerOptions = {
    insecureHTTPParser: false,
    maxHeaderSize: options.maxHeaderSizeBytes,
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Node enforces headersTimeout/requestTimeout on this sweep (30 s by default): a slow client would
    // otherwise hold its socket up to 30 s past its deadline.
    connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs),
    // checkFraming refuses a missing Host with one problem+json answer; Node's own refusal came on top.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
  };

  function createListener(spec: ListenerSpec): Server {
    const redirectPort = spec.redirectToHttpsPort;
    const hsts = spec.hsts;
    let onRequest: (req: IncomingMessage, res: ServerResponse, upgradeHead?: Buffer) => void = handleRequest;
    const challenge = spec.acmeChallenge;
    if (challenge !== undefined) {
      const inner = redirectPort === undefined ? handleRequest : undefined;
      const otherwise = (req: IncomingMessage, res: ServerResponse): void => {
        if (inner !== undefined) inner(req, res);
        else redirectToHttps(req, res, redirectPort as number);
      };
      onRequest = function handleWithChallenges(req, res, upgradeHead) {
        if (upgradeHead === undefined && answerChallenge(req, res, challenge, otherwise)) return;
        if (inner !== undefined) inner(req, res, upgradeHead);
        else redirectToHttps(req, res, redirectPort as number);
      };
    } else if (redirectPort !== undefined) {
      onRequest = function redirectRequest(req, res) {
        redirectToHttps(req, res, redirectPort);
      };
    } else if (hsts !== undefined) {
      onRequest = function handleSecureRequest(req, res, upgradeHead) {
        res.setHeader('strict-transport-security', hsts);
        handleRequest(req, res, upgradeHead);
      };
    }
    const h2 = spec.http2;
    let server: Server;
    if (spec.tls === undefined) {
      server = createServer(httpOptions, onRequest);
      if (h2 !== undefined) acceptPriorKnowledge(server, h2, onRequest);
    } else if (h2 !== undefined) {
      // HTTP/1.1 connections of this server run Node's HTTP/1.1 connection code with the same options
      // (allowHTTP1): one server, one intake, whichever protocol ALPN picked.
      server = createHttp2SecureServer(
        {
          ...httpOptions,
          ...spec.tls,
          ...http2Options(h2),
          ALPNProtocols: ['h2', 'http/1.1'],
          allowHTTP1: true,
          handshakeTimeout: options.headersTimeoutMs,
        },
        onRequest as unknown as Parameters<typeof createHttp2SecureServer>[1],
      ) as unknown as Server;
      trackHttp2Sessions(server, h2);
      acceptExtendedConnect(server as unknown as Http2Server, 'secureConnection', onRequest);
      if ((spec.tls.ALPNProtocols as readonly string[] | undefined)?.includes('acme-tls/1'))
        // node:http2 replaces the ALPN list with h2 and http/1.1; the TLS server reads the wire-format list from
        // this property at every connection, so acme-tls/1 (TLS-ALPN-01, docs/tls.md) is put back here. A CA
        // validating only needs the handshake; http2 then drops the connection as an unknown protocol.
        (server as unknown as { ALPNProtocols: Buffer }).ALPNProtocols = Buffer.from(
          '\x02h2\x08http/1.1\x0aacme-tls/1',
          'latin1',
        );
    } else {
      // An https.Server is an http.Server with TLS in front: the same intake, parser limits and guards.
      server = createHttpsServer(
        // The handshake counts against the head deadline: a client that stalls it holds no socket longer.
        { ...httpOptions, ...spec.tls, handshakeTimeout: options.headersTimeoutMs },
        onRequest,
      ) as unknown as Server;
    }
    // Node silently drops header lines past maxHeadersCount; let one more through so the count check above sees it.
    server.maxHeadersCount = 1001;
    server.maxConnections = options.maxConnections;
    guard.attach(server, spec.tls === undefined ? 'connection' : 'secureConnection');
    if (spec.tls !== undefined && h2 !== undefined) server.on('secureConnection', markMultiplexed);
    if (spec.forwardClientCertificate === true) server.on('secureConnection', forwardClientCertificate);
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', destroyOnError);
      // A response bound to the raw socket, so stages answer an upgrade (401, 429, …) like any request.
      const res = new ServerResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false;
      res.once('finish', closeUpgradeSocket);
      onRequest(req, res, head);
    });
    server.on('clientError', onClientError);
    return server;
  }

  function markMultiplexed(socket: TLSSocket): void {
    if (socket.alpnProtocol === 'h2') guard.multiplexed(socket);
  }

  function http2Options(h2: Http2ListenerSpec): object {
    return {
      settings: { ...h2.settings, enablePush: false },
      // Pseudo-headers count as pairs too; the header count itself is checked at intake (431).
      maxHeaderListPairs: options.runtime().headerCountLimit + 8,
      maxSessionRejectedStreams: 100,
      maxSessionInvalidFrames: 100,
    };
  }

  /**
   * WebSocket over HTTP/2 (RFC 8441): the listener announces SETTINGS_ENABLE_CONNECT_PROTOCOL while some route
   * takes WebSockets (read per connection, so a reload that adds or removes the last one counts for the next
   * connections), and an extended CONNECT with `:protocol: websocket` enters the intake as the GET with
   * `Upgrade: websocket` it stands for, running the route's upgrade chain. Any other CONNECT is routed as such
   * (Portico is no forward proxy: 404 or 405). Returns the announcing step, for a caller that hands connections
   * to the server itself; with `event` it runs before Node builds each session.
   */
  function acceptExtendedConnect(
    server: Http2Server,
    event: 'secureConnection' | undefined,
    onRequest: (req: IncomingMessage, res: ServerResponse, upgradeHead?: Buffer) => void,
  ): () => void {
    let announced = false;
    const announce = (): void => {
      const wanted = takesWebSockets(options.runtime());
      if (wanted === announced) return;
      announced = wanted;
      server.updateSettings({ enableConnectProtocol: wanted });
    };
    if (event !== undefined) server.prependListener(event, announce);
    server.on('connect', function onConnect(req: IncomingMessage, res: ServerResponse) {
      if (req.headers[':protocol'] === 'websocket') {
        req.method = 'GET';
        req.headers.upgrade = 'websocket';
        onRequest(req, res, EXTENDED_CONNECT_HEAD);
      } else onRequest(req, res);
    });
    return announce;
  }

  function onFlood(kind: Http2FloodKind, session: Http2Session): void {
    logger.warn({ peer: session.socket?.remoteAddress, flood: kind }, 'HTTP/2 flood: connection sent away');
  }

  /**
   * Guards every HTTP/2 session of `server` and gives the server the connection-closing methods the gateway's
   * drain uses: GOAWAY to every session (open streams finish), then destroy what is left.
   */
  function trackHttp2Sessions(
    server: Server | ReturnType<typeof createHttp2Server>,
    h2: Http2ListenerSpec,
  ): void {
    const sessions = new Set<Http2Session>();
    const sockets = new Set<Socket>();
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      guardHttp2Session(session, h2.flood, onFlood);
      session.setTimeout(options.keepAliveTimeoutMs, closeIdleSession);
    });
    const http = server as Server;
    if (http.closeAllConnections !== undefined) return;
    // The TLS server of HTTP/2 lacks closeAllConnections: it tracks its sockets itself.
    server.on('secureConnection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const closeIdle = http.closeIdleConnections?.bind(http);
    http.closeIdleConnections = () => {
      closeIdle?.();
      for (const session of sessions) if (!session.closed) session.close();
    };
    http.closeAllConnections = () => {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    };
  }

  /**
   * h2c with prior knowledge (RFC 9113 §3.3) next to HTTP/1.1 on one plain port: the first bytes tell them
   * apart. A connection opening with the HTTP/2 preface goes to an HTTP/2 server that runs the same intake.
   */
  function acceptPriorKnowledge(
    server: Server,
    h2: Http2ListenerSpec,
    onRequest: (req: IncomingMessage, res: ServerResponse, upgradeHead?: Buffer) => void,
  ): void {
    const h2c = createHttp2Server(
      http2Options(h2),
      onRequest as unknown as Parameters<typeof createHttp2Server>[1],
    );
    trackHttp2Sessions(h2c, h2);
    const announce = acceptExtendedConnect(h2c, undefined, onRequest);
    const sessionsOfH2c = h2c as unknown as Server;
    const [http1] = server.listeners('connection') as ((socket: Socket) => void)[];
    if (http1 === undefined) throw new Error('node:http server without its connection listener');
    server.removeListener('connection', http1);
    server.on('connection', function sniffPreface(socket: Socket) {
      readPrefaceStart(socket, (isHttp2) => {
        if (isHttp2) {
          guard.multiplexed(socket);
          // node:http accepts half-open sockets; an HTTP/2 session ends only when its socket closes, so a client's
          // FIN would leave the session and its streams (a WebSocket, a slow answer) open until cut.
          socket.allowHalfOpen = false;
          announce();
          h2c.emit('connection', socket);
        } else {
          http1.call(server, socket);
          socket.resume();
        }
      });
    });
    const closeIdle = server.closeIdleConnections.bind(server);
    const closeAll = server.closeAllConnections.bind(server);
    server.closeIdleConnections = () => {
      closeIdle();
      sessionsOfH2c.closeIdleConnections();
    };
    server.closeAllConnections = () => {
      closeAll();
      sessionsOfH2c.closeAllConnections();
    };
  }

  function onClientError(err: NodeJS.ErrnoException, socket: ClientSocket): void {
    if (socket[kParseFailure] !== undefined) return;
    // After a request that closes the connection, what follows is never read: its answers go out first.
    if (!socket.writable || socket[kLastRequestSeen] === true) {
      if (socket._httpMessage == null) socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    refusals?.clientError(err, socket as Socket, status);
    const reason =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    const answer = `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
    markLast(socket);
    const current = socket._httpMessage;
    if (current == null) return answerParseFailure(socket, answer);
    if (current.req.complete) {
      // The bad bytes follow whole requests: those are answered first, in order; this answer comes last.
      socket[kParseFailure] = answer;
      socket.pause();
    } else if (!current.headersSent) answerParseFailure(socket, answer);
    // The request being answered is the broken one and its answer has begun: only a cut tells the client.
    else socket.destroy();
  }

  const servers = (options.listeners ?? [{}]).map(createListener);
  return { server: servers[0] as Server, servers, inflight: () => inflight };
}

/** The answer to an HTTP/1.x connection's request that claims another major version. */
const VERSION_REFUSED = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/** The bytes a WebSocket client sent after its handshake: none on HTTP/2, where they come as DATA frames. */
const EXTENDED_CONNECT_HEAD = Buffer.alloc(0);

const webSocketRoutes = new WeakMap<Runtime, boolean>();

/** Whether a route of this table takes WebSocket upgrades; worked out once per table. */
function takesWebSockets(runtime: Runtime): boolean {
  let takes = webSocketRoutes.get(runtime);
  if (takes === undefined) {
    takes = runtime.routes.some((route) => route.websocket);
    webSocketRoutes.set(runtime, takes);
  }
  return takes;
}

/** An HTTP/2 connection without streams for keepAliveTimeout gets GOAWAY (streams still open finish first). */
function closeIdleSession(this: Http2Session): void {
  if (!this.closed) this.close();
}

/** `PRI * HTTP/2.0`: the first bytes of the HTTP/2 connection preface. */
const PREFACE_START = Buffer.from('PRI ');

/**
 * Reads until the first bytes tell whether the connection opens with the HTTP/2 preface, puts them back, and
 * calls `decide`. The socket is left paused: HTTP/2 reads it from the handle, HTTP/1.1 resumes it.
 */
function readPrefaceStart(socket: Socket, decide: (isHttp2: boolean) => void): void {
  let seen: Buffer | undefined;
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, PREFACE_START.length);
    const isPrefix = seen.subarray(0, length).equals(PREFACE_START.subarray(0, length));
    if (isPrefix && length < PREFACE_START.length) return;
    socket.off('data', onData);
    socket.pause();
    socket.unshift(seen);
    decide(isPrefix);
  };
  socket.on('data', onData);
}

function destroyOnError(this: Socket): void {
  this.destroy();
}

/** An upgrade answered without switching protocols: nothing else is read on that socket. */
function closeUpgradeSocket(this: ServerResponse): void {
  this.socket?.destroySoon();
}

/** No later request on this connection runs: the answers owed go out, then it closes. */
function markLast(socket: ClientSocket): void {
  socket[kLastRequestSeen] = true;
}

function answerParseFailure(socket: ClientSocket, answer: string): void {
  socket[kParseFailure] = undefined;
  socket.end(answer);
  socket.destroySoon();
}

/** The `Allow` of a TRACE refusal: the methods routes take on this path, or GET and HEAD. */
function allowedWithoutTrace(runtime: Runtime, req: IncomingMessage, path: string): string {
  const allowed = runtime.router.allowedMethods(req.headers.host, path, req.headers) ?? [];
  return allowed.length > 0 ? allowed.join(', ') : 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
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

/** The host of a Host header without its port, or undefined when it is not a plain name or address. */
function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$/.exec(host);
  return m?.[1];
}

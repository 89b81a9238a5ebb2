import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { constants as h2, type Http2ServerResponse } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { sendProblem } from '../../errors/problem.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import { isTlsFailure } from '../upstream/upstream-tls.ts';
import { isHopByHop } from '../../http/hop-by-hop.ts';
import { hashKeyOf } from './hash-key.ts';
import type { ProxyObserver } from './proxy.ts';

/** Hop-by-hop headers of a refused upgrade's answer that the gateway's own framing replaces. */
const framingHeaders = new Set(['connection', 'transfer-encoding', 'keep-alive', 'content-length']);

/** RFC 6455 §1.3: the GUID the accept value of a handshake is derived with. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The terminal service of an HTTP/1.1 Upgrade (WebSocket) on a `websocket: true` route. The request came
 * through the same intake and stage chain as any other (authentication, scopes, rate limits, versions,
 * canary splits, CORS), so the instance is picked from what the stages narrowed. The handshake goes to the
 * instance over http or https with the registry's guarded address lookup and the usual forwarding and
 * identity headers; on 101 both sockets are piped together, and passive health hears of every outcome.
 * Upgrades are rare next to plain requests, so this path favours clarity over the proxy's allocation
 * discipline.
 *
 * An HTTP/2 client opens a WebSocket with an extended CONNECT (RFC 8441): the intake runs it as the GET it stands
 * for, and the relay opens an HTTP/1.1 upgrade to the instance with a key of its own. The instance's 101 becomes a
 * 200 on the client's stream, whose DATA frames then carry the WebSocket frames both ways (RFC 8441 §5).
 */
export function createWebSocketRelay(service: ServiceRuntime, observer: ProxyObserver): Handler {
  return function relayWebSocket(ctx: RequestContext): void {
    const instances = ctx.instances ?? service.instances;
    const instance = instances.pick(hashKeyOf(service.hashKey, ctx));
    if (instance === undefined) {
      throw new PorticoError(
        instances.all.length === 0 ? 'service_not_found' : 'no_healthy_instance',
        `service "${service.name}" has no available instance`,
      );
    }
    ctx.upstream = instance.origin;
    new UpgradeRelay(ctx, service, instance, observer).start();
  };
}

class UpgradeRelay {
  readonly #ctx: RequestContext;
  readonly #service: ServiceRuntime;
  readonly #instance: Instance;
  readonly #observer: ProxyObserver;
  #released = false;
  /** The handshake key the relay chose for an instance behind an HTTP/2 client. */
  #key: string | undefined;

  constructor(ctx: RequestContext, service: ServiceRuntime, instance: Instance, observer: ProxyObserver) {
    this.#ctx = ctx;
    this.#service = service;
    this.#instance = instance;
    this.#observer = observer;
  }

  start(): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    const instance = this.#instance;
    const headers = buildUpstreamHeaders(req, {
      peer: req.socket.remoteAddress ?? '',
      fromTrustedProxy: ctx.fromTrustedProxy,
      requestId: ctx.requestId,
      upstreamHost: ctx.route.preserveHost ? (req.headers.host ?? instance.url.host) : instance.url.host,
      contentLength: -1,
      extra: ctx.upstreamHeaders,
      edit: ctx.requestHeaderEdit,
    });
    headers.push('connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
    if (req.httpVersionMajor === 2) {
      // RFC 8441 §5: an extended CONNECT carries no key; the gateway is the HTTP/1.1 client of this handshake.
      this.#key = randomBytes(16).toString('base64');
      headers.push('sec-websocket-key', this.#key);
    }
    const path = instance.pathPrefix + upstreamPathOf(ctx);
    const secure = instance.url.protocol === 'https:';
    const options = {
      host: instance.url.hostname.replace(/^\[|\]$/g, ''),
      port: instance.url.port === '' ? (secure ? 443 : 80) : Number(instance.url.port),
      method: req.method ?? 'GET',
      path: ctx.query === '' ? path : `${path}?${ctx.query}`,
      headers,
      timeout: this.#service.connectTimeoutMs,
      // The registry's allow-list holds for upgrades too (DNS rebinding).
      ...(instance.lookup === undefined ? {} : { lookup: instance.lookup }),
      // The service's CA, client certificate and server name, as the proxy's pool uses them (wss).
      ...instance.tls,
    };
    const upstreamReq = secure ? httpsRequest(options) : httpRequest(options);
    instance.inflight++;
    upstreamReq.on('timeout', () =>
      upstreamReq.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    upstreamReq.on('upgrade', (res: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) =>
      this.#switch(upstreamReq, res, upstreamSocket, upstreamHead),
    );
    upstreamReq.on('response', (res: IncomingMessage) => this.#relayRefusal(res));
    upstreamReq.on('error', (err: NodeJS.ErrnoException) => this.#fail(err));
    upstreamReq.end();
  }

  /** The instance switched protocols: answer 101 with its headers and pipe both ways. */
  #switch(
    upstreamReq: ClientRequest,
    res: IncomingMessage,
    upstreamSocket: Socket,
    upstreamHead: Buffer,
  ): void {
    upstreamReq.setTimeout(0);
    this.#observer.upstreamResponse?.(this.#service.name, this.#instance, 101);
    if (this.#key !== undefined) return this.#switchStream(res, upstreamSocket, upstreamHead, this.#key);
    const clientRes = this.#ctx.res;
    const socket = clientRes.socket as Socket;
    clientRes.statusCode = 101;
    let head = `HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < res.rawHeaders.length; i += 2)
      head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
    socket.write(`${head}\r\n`);
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    const clientHead = this.#ctx.upgradeHead;
    if (clientHead !== undefined && clientHead.length > 0) upstreamSocket.write(clientHead);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('close', () => {
      upstreamSocket.destroy();
      this.#release();
    });
    upstreamSocket.on('close', () => {
      socket.destroy();
      this.#release();
    });
    upstreamSocket.pipe(socket).pipe(upstreamSocket);
  }

  /**
   * The instance switched protocols for an HTTP/2 client: 200 on its stream (without the HTTP/1.1 handshake's
   * connection headers and accept value), then the stream and the instance's socket are piped together. END_STREAM
   * and a FIN stand for each other, a reset for a cut connection (RFC 8441 §4).
   */
  #switchStream(res: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer, key: string): void {
    const accept = createHash('sha1')
      .update(key + WEBSOCKET_GUID)
      .digest('base64');
    if (res.headers['sec-websocket-accept'] !== accept) {
      upstreamSocket.destroy();
      this.#release();
      this.#observer.upstreamError(
        this.#service.name,
        this.#instance,
        'bad_response',
        new Error('the instance answered the WebSocket handshake with a wrong Sec-WebSocket-Accept'),
        this.#ctx.requestId,
      );
      return sendProblem(this.#ctx.res, 'upstream_bad_response', 'invalid WebSocket handshake', undefined, {
        'x-request-id': this.#ctx.requestId,
      });
    }
    const clientRes = this.#ctx.res as unknown as Http2ServerResponse;
    const headers: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = res.rawHeaders[i] as string;
      if (!isHopByHop(name) && name.toLowerCase() !== 'sec-websocket-accept')
        headers.push(name, res.rawHeaders[i + 1] as string);
    }
    clientRes.writeHead(200, headers);
    const stream = clientRes.stream;
    if (upstreamHead.length > 0) stream.write(upstreamHead);
    upstreamSocket.on('error', () => {
      if (!stream.closed) stream.close(h2.NGHTTP2_CANCEL);
    });
    stream.on('close', () => {
      upstreamSocket.destroy();
      this.#release();
    });
    upstreamSocket.on('close', () => {
      if (!stream.closed) stream.close(h2.NGHTTP2_CANCEL);
      this.#release();
    });
    upstreamSocket.pipe(stream);
    this.#ctx.req.pipe(upstreamSocket);
  }

  /** The instance refused the upgrade: its answer goes to the client as a normal response. */
  #relayRefusal(res: IncomingMessage): void {
    this.#observer.upstreamResponse?.(this.#service.name, this.#instance, res.statusCode ?? 502);
    const clientRes = this.#ctx.res;
    const headers: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = res.rawHeaders[i] as string;
      if (!framingHeaders.has(name.toLowerCase())) headers.push(name, res.rawHeaders[i + 1] as string);
    }
    clientRes.writeHead(res.statusCode ?? 502, headers);
    res.pipe(clientRes);
    res.on('end', () => this.#release());
  }

  #fail(err: NodeJS.ErrnoException): void {
    this.#release();
    const timedOut = err.code === 'ETIMEDOUT';
    const tlsFailure = isTlsFailure(err.code);
    this.#observer.upstreamError(
      this.#service.name,
      this.#instance,
      timedOut ? 'timeout' : 'connect',
      err,
      this.#ctx.requestId,
    );
    sendProblem(
      this.#ctx.res,
      timedOut ? 'upstream_connect_timeout' : tlsFailure ? 'upstream_tls_error' : 'upstream_unavailable',
      undefined,
      undefined,
      {
        'x-request-id': this.#ctx.requestId,
      },
    );
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#instance.inflight--;
  }
}

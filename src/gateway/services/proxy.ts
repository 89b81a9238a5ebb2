import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { sendProblem } from '../../errors/problem.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { ErrorCode } from '../../errors/catalog.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { toClientHeaders } from '../forwarding/response-headers.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import { createBodyLimiter } from './body-limit.ts';
import { hashKeyOf } from './hash-key.ts';

/** Reports upstream failures (metrics, passive health); set once by the gateway. */
export interface ProxyObserver {
  upstreamError(service: string, instance: Instance, kind: UpstreamErrorKind): void;
}
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'bad_response' | 'client_abort';

export interface ProxyOptions {
  readonly bodyLimitBytes: number;
  readonly observer: ProxyObserver;
}

const kExchange = Symbol('portico.exchange');
type ResponseWithExchange = ServerResponse & { [kExchange]?: ProxyExchange };

/**
 * The terminal service of a proxied route: picks an instance, streams the request to it through the
 * instance's undici pool and streams the answer back. It uses undici's low-level `dispatch` with one handler
 * object per request (no Readable wrappers, no per-request closures), and raw header lists both ways.
 */
export function createProxyHandler(service: ServiceRuntime, options: ProxyOptions): Handler {
  return function proxyToService(ctx: RequestContext) {
    const instance = service.instances.pick(hashKeyOf(service.hashKey, ctx));
    if (instance === undefined) {
      throw new PorticoError(
        service.instances.all.length === 0 ? 'service_not_found' : 'no_healthy_instance',
        `service "${service.name}" has no available instance`,
      );
    }
    const req = ctx.req;
    const declared = req.headers['content-length'];
    const contentLength = declared === undefined ? -1 : Number(declared);
    if (contentLength > options.bodyLimitBytes) {
      throw new PorticoError('payload_too_large', `body exceeds ${options.bodyLimitBytes} bytes`);
    }
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const exchange = new ProxyExchange(ctx, instance, service, options.observer);
    ctx.upstream = instance.id;
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (chunked) body = req.pipe(createBodyLimiter(options.bodyLimitBytes));
    else if (contentLength > 0) body = req;
    const basePath = instance.url.pathname;
    const path = ctx.route.upstreamPath(ctx.path, ctx.params);
    const fullPath = basePath === '/' ? path : basePath.replace(/\/$/, '') + path;
    instance.inflight++;
    instance.pool.dispatch(
      {
        path: ctx.query === '' ? fullPath : `${fullPath}?${ctx.query}`,
        method: req.method as Dispatcher.HttpMethod,
        headers: buildUpstreamHeaders(req, {
          peer: req.socket.remoteAddress ?? '',
          fromTrustedProxy: ctx.fromTrustedProxy,
          requestId: ctx.requestId,
          upstreamHost: ctx.route.preserveHost ? (req.headers.host ?? instance.url.host) : instance.url.host,
          contentLength: chunked ? -1 : contentLength,
        }),
        body,
        headersTimeout: service.requestTimeoutMs,
        bodyTimeout: service.idleTimeoutMs,
        reset: false,
      },
      exchange,
    );
  };
}

function onClientResponseDrain(this: ResponseWithExchange): void {
  this[kExchange]?.resumeUpstream();
}

/** One proxied request: undici's (legacy, unwrapped and therefore fastest) dispatch handler. */
class ProxyExchange implements Dispatcher.DispatchHandler {
  readonly #ctx: RequestContext;
  readonly #res: ResponseWithExchange;
  readonly #instance: Instance;
  readonly #service: ServiceRuntime;
  readonly #observer: ProxyObserver;
  #abort: ((err?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #done = false;
  #clientGone = false;

  constructor(ctx: RequestContext, instance: Instance, service: ServiceRuntime, observer: ProxyObserver) {
    this.#ctx = ctx;
    this.#res = ctx.res;
    this.#instance = instance;
    this.#service = service;
    this.#observer = observer;
    this.#res[kExchange] = this;
    ctx.exchange = this;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new PorticoError('bad_request', 'client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx answers (100 Continue, 103 Early Hints) are consumed here; Node answers Expect itself.
    if (statusCode < 200) return true;
    this.#resume = resume;
    this.#res.writeHead(statusCode, statusText, toClientHeaders(rawHeaders, this.#ctx.requestId));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', onClientResponseDrain);
    return false;
  }

  onComplete(): void {
    this.#finish();
    this.#res.end();
  }

  onError(err: Error): void {
    this.#finish();
    if (this.#clientGone) {
      this.#observer.upstreamError(this.#service.name, this.#instance, 'client_abort');
      return;
    }
    const { code, kind } = classify(err);
    if (kind !== undefined) this.#observer.upstreamError(this.#service.name, this.#instance, kind);
    if (code === 'bad_request' || code === 'payload_too_large') this.#closeAfterAnswer();
    sendProblem(this.#res, code, describe(code, this.#service.name));
  }

  clientGone(): void {
    if (this.#done) return;
    this.#clientGone = true;
    this.#abort?.(new PorticoError('bad_request', 'client closed the connection'));
  }

  resumeUpstream(): void {
    this.#resume?.();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#instance.inflight--;
    this.#res[kExchange] = undefined;
    this.#ctx.exchange = undefined;
  }

  /** The rest of an unread request body would be taken as the next request: close instead. */
  #closeAfterAnswer(): void {
    this.#res.shouldKeepAlive = false;
    const req: IncomingMessage = this.#ctx.req;
    req.resume();
  }
}

function classify(err: Error): { code: ErrorCode; kind: UpstreamErrorKind | undefined } {
  if (err instanceof PorticoError) return { code: err.code, kind: undefined };
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { code: 'upstream_timeout', kind: 'connect' };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { code: 'upstream_timeout', kind: 'timeout' };
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return { code: 'upstream_unavailable', kind: 'connect' };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { code: 'upstream_unavailable', kind: 'reset' };
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return { code: 'bad_request', kind: undefined };
    default:
      return { code: 'upstream_bad_response', kind: 'bad_response' };
  }
}

function describe(code: ErrorCode, service: string): string {
  switch (code) {
    case 'upstream_timeout':
      return `an instance of "${service}" did not answer in time`;
    case 'upstream_unavailable':
      return `an instance of "${service}" could not be reached`;
    case 'upstream_bad_response':
      return `an instance of "${service}" sent an invalid response`;
    case 'payload_too_large':
      return 'the request body is larger than allowed';
    default:
      return 'the request could not be forwarded';
  }
}

import type { ServerResponse } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import type { ErrorCode } from '../../errors/catalog.ts';
import { sendProblem } from '../../errors/problem.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import {
  classifyError,
  type UpstreamErrorKind,
  type UpstreamFailure,
} from '../../resilience/upstream-failure.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { toClientHeaders } from '../forwarding/response-headers.ts';
import { writeHttp2Head } from '../forwarding/http2-response-head.ts';
import { closeAfterAnswer } from '../net/lingering-close.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import { createBodyLimiter } from './body-limit.ts';
import { addUpstreamTrailers, type UpstreamTrailers } from '../forwarding/response-trailers.ts';
import { writeGrpcHead } from '../grpc/grpc-head.ts';
import { Base64Decoder, GrpcWebAnswer, grpcWebRequestEdit } from '../grpc/grpc-web.ts';
import { isRetryableGrpcHead } from '../grpc/replayable-body.ts';
import { chainHeaderEdits } from '../../policies/header-edit.ts';
import type { FallbackAnswer } from './fallback.ts';

/** Reports upstream failures (metrics, passive health); set once by the gateway. */
export interface ProxyObserver {
  /** A try failed; `err` is the cause (for the log, never for the client). */
  upstreamError(
    service: string,
    instance: Instance,
    kind: UpstreamErrorKind,
    err?: Error,
    requestId?: string,
  ): void;
  /** A try got its response head (status 200 or more): passive health counts 5xx and clears failure streaks. */
  upstreamResponse?(service: string, instance: Instance, statusCode: number): void;
}

export interface ProxyOptions {
  readonly bodyLimitBytes: number;
  readonly observer: ProxyObserver;
  /** The route's overall deadline in ms, all tries included (0 or absent = none). */
  readonly deadlineMs?: number | undefined;
  /** The route's static answer when no instance can take the request. */
  readonly fallback?: FallbackAnswer | undefined;
}

export type RequestBody = Dispatcher.DispatchOptions['body'];

/**
 * What wraps a try with policies (the guarded exchange): it decides whether a failed try is tried again, holds
 * the try's breaker and owns the request's end. A try without an owner answers for itself.
 */
export interface TryOwner {
  readonly body: RequestBody;
  readonly contentLength: number;
  /** A status answer arrived: true when it is to be dropped and retried (the decision is taken now). */
  retriesStatus(status: number): boolean;
  /** The try failed before anything reached the client: true when it is to be retried. */
  retriesFailure(failure: UpstreamFailure): boolean;
  /** The try that a retry was decided for has ended: wait the backoff, then make the next try. */
  retry(): void;
  /** The try ended: the breaker's verdict (undefined = none). */
  settle(success: boolean | undefined): void;
  /** The request is answered (or abandoned): release what it held. */
  finish(): void;
}

const kTry = Symbol('portico.upstream-try');
type ResponseWithTry = ServerResponse & { [kTry]?: UpstreamTry };

/**
 * undici times response headers with its coarse fast timers (about 1 s resolution), so `request: 200ms`
 * would fire after about a second; below this bound the try keeps its own exact timer as well.
 */
const coarseTimerBoundMs = 3_000;

function onTryTimeout(upstreamTry: UpstreamTry): void {
  upstreamTry.timedOut();
}

function onClientResponseDrain(this: ResponseWithTry): void {
  this[kTry]?.resumeUpstream();
}

/**
 * The request's length as sent upstream: the buffered body's (a stage read it), else the declared one, -1 when
 * chunked or unknown. Refuses a declared length over the limit.
 */
export function upstreamContentLength(ctx: RequestContext, limitBytes: number): number {
  const headers = ctx.req.headers;
  const declared = headers['content-length'];
  const contentLength = declared === undefined ? -1 : Number(declared);
  if (contentLength > limitBytes) {
    throw new PorticoError('payload_too_large', `body exceeds ${limitBytes} bytes`);
  }
  const buffered = ctx.body;
  if (buffered !== undefined) return buffered.length;
  // gRPC-Web text: base64 in, binary frames out, so the upstream length differs from the client's.
  if (ctx.grpc === 'grpc-web-text') return -1;
  return headers['transfer-encoding'] === undefined ? contentLength : -1;
}

/** The body sent upstream: the bytes a stage buffered, else the client's stream (chunked ones bounded). */
export function upstreamBody(ctx: RequestContext, contentLength: number, limitBytes: number): RequestBody {
  const buffered = ctx.body;
  if (buffered !== undefined) return buffered.length === 0 ? null : buffered;
  const req = ctx.req;
  const grpc = ctx.grpc;
  if (grpc === 'grpc-web' || grpc === 'grpc-web-text') {
    // Once per request: the upstream head of a gRPC-Web call is a gRPC one (grpc/grpc-web.ts).
    ctx.requestHeaderEdit = chainHeaderEdits(
      ctx.requestHeaderEdit,
      grpcWebRequestEdit(req.headers['content-type'] as string),
    );
    if (grpc === 'grpc-web-text')
      return req.headers['content-length'] === '0' || streamEndedWithHeaders(req)
        ? null
        : req.pipe(new Base64Decoder());
  }
  // An HTTP/2 body has no Transfer-Encoding: without Content-Length it streams until its last DATA frame.
  const streamed =
    req.headers['transfer-encoding'] !== undefined ||
    (ctx.http2 && contentLength === -1 && !streamEndedWithHeaders(req));
  // gRPC streams are long-lived message sequences: limits.bodySize would cap a whole stream, not a message.
  if (streamed) return grpc === undefined ? req.pipe(createBodyLimiter(limitBytes)) : req;
  return contentLength > 0 ? req : null;
}

/** Whether an HTTP/2 request came without a body (END_STREAM on its HEADERS frame). */
function streamEndedWithHeaders(req: RequestContext['req']): boolean {
  return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === true;
}

/**
 * One try of a proxied request: undici's (legacy, unwrapped and therefore fastest) dispatch handler, which
 * streams the request to one instance through its pool and the answer back, with raw header lists both ways
 * and backpressure through undici's `resume`. It makes exactly one try; retries, deadline, bulkhead and
 * breaker accounting wrap it (`GuardedExchange`, its `TryOwner`). Without an owner it is the whole exchange:
 * one object per request on the plain path.
 */
export class UpstreamTry implements Dispatcher.DispatchHandler {
  /** Set from the answer's Content-Length by toClientHeaders. */
  upstreamContentLength = -1;
  readonly #ctx: RequestContext;
  readonly #res: ResponseWithTry;
  readonly #service: ServiceRuntime;
  readonly #observer: ProxyObserver;
  readonly #owner: TryOwner | undefined;
  readonly #body: RequestBody;
  readonly #contentLength: number;
  #instance: Instance | undefined = undefined;
  #abort: ((err?: Error) => void) | undefined = undefined;
  /** Why the try is to be aborted as soon as it connects (the client left, the deadline passed). */
  #abortWith: Error | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #done = false;
  #clientGone = false;
  #tryTimer: NodeJS.Timeout | undefined = undefined;
  /** The status of the answer, 0 before its head arrived. */
  #status = 0;
  /** The answer is being read and dropped because the owner retries it. */
  #discarding = false;
  /** performance.now() when the try was sent; 0 once it ended. */
  #startedAt = 0;
  /** The translation of a gRPC-Web call's answer (gRPC-Web calls only). */
  readonly #grpcWeb: GrpcWebAnswer | undefined;

  constructor(ctx: RequestContext, service: ServiceRuntime, options: ProxyOptions, owner?: TryOwner) {
    this.#ctx = ctx;
    this.#res = ctx.res;
    this.#service = service;
    this.#observer = options.observer;
    this.#owner = owner;
    if (owner === undefined) {
      this.#contentLength = upstreamContentLength(ctx, options.bodyLimitBytes);
      this.#body = upstreamBody(ctx, this.#contentLength, options.bodyLimitBytes);
      ctx.exchange = this;
    } else {
      this.#contentLength = owner.contentLength;
      this.#body = owner.body;
    }
    this.#grpcWeb =
      ctx.grpc === 'grpc-web' || ctx.grpc === 'grpc-web-text'
        ? new GrpcWebAnswer(ctx.grpc === 'grpc-web-text')
        : undefined;
    this.#res[kTry] = this;
  }

  /** The instance this try went to. */
  get instance(): Instance | undefined {
    return this.#instance;
  }

  /** Sends the try to `instance`. */
  dispatch(instance: Instance): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    this.#instance = instance;
    ctx.upstream = instance.id;
    this.#startedAt = performance.now();
    const fullPath = instance.pathPrefix + upstreamPathOf(ctx);
    instance.inflight++;
    instance.awaiting++;
    // gRPC calls to HTTP/2 instances share one multiplexed session; everything else goes through undici.
    const dispatcher =
      ctx.grpc !== undefined && instance.protocol !== 'http1' ? instance.http2 : instance.pool;
    dispatcher.dispatch(
      {
        path: ctx.query === '' ? fullPath : `${fullPath}?${ctx.query}`,
        method: req.method as Dispatcher.HttpMethod,
        headers: buildUpstreamHeaders(req, {
          peer: req.socket.remoteAddress ?? '',
          fromTrustedProxy: ctx.fromTrustedProxy,
          requestId: ctx.requestId,
          upstreamHost: ctx.route.preserveHost ? (req.headers.host ?? instance.url.host) : instance.url.host,
          contentLength: this.#contentLength,
          extra: ctx.upstreamHeaders,
          edit: ctx.requestHeaderEdit,
        }),
        body: this.#body,
        headersTimeout: this.#service.requestTimeoutMs,
        bodyTimeout: this.#service.idleTimeoutMs,
        reset: false,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#abortWith !== undefined) return abort(this.#abortWith);
    const timeoutMs = this.#service.requestTimeoutMs;
    if (timeoutMs > 0 && timeoutMs < coarseTimerBoundMs)
      this.#tryTimer = setTimeout(onTryTimeout, timeoutMs, this);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx answers (100 Continue, 103 Early Hints) are consumed here; Node answers Expect itself.
    if (statusCode < 200) return true;
    const instance = this.#instance as Instance;
    if (this.#status === 0) instance.awaiting--;
    this.#observer.upstreamResponse?.(this.#service.name, instance, statusCode);
    if (this.#tryTimer !== undefined) this.#clearTryTimer();
    this.#resume = resume;
    this.#status = statusCode;
    if (this.#owner !== undefined && this.#owner.retriesStatus(this.#retryStatus(statusCode, rawHeaders))) {
      // The answer is read to its end and dropped, which keeps the connection reusable.
      this.#discarding = true;
      return true;
    }
    const headers = toClientHeaders(rawHeaders, this.#ctx.requestId, this);
    if (this.#ctx.versioned && instance.version !== undefined)
      headers.push('portico-version', versionHeader(instance.version, this.#ctx.versionPin));
    if (this.#grpcWeb !== undefined) this.#grpcWeb.head(headers);
    // HTTP/2 has no reason phrase (RFC 9113 §8.3.2).
    if (this.#ctx.http2) {
      if (this.#ctx.grpc === 'grpc') writeGrpcHead(this.#res, statusCode, headers);
      else
        writeHttp2Head(
          this.#res,
          statusCode,
          headers,
          instance.protocol !== 'http1' || this.upstreamContentLength < 0,
        );
    } else this.#res.writeHead(statusCode, statusText, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#discarding) return true;
    if (this.#grpcWeb !== undefined) chunk = this.#grpcWeb.data(chunk);
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', onClientResponseDrain);
    return false;
  }

  onComplete(trailers?: UpstreamTrailers | null): void {
    if (this.#discarding) {
      this.#endTry(false);
      return (this.#owner as TryOwner).retry();
    }
    this.#endTry(this.#status < 500);
    this.#finish();
    // gRPC-Web: the trailers travel as the answer's last frame.
    if (this.#grpcWeb !== undefined) return void this.#res.end(this.#grpcWeb.end(trailers));
    // Trailers (gRPC's status) reach HTTP/2 clients; Node drops them on an HTTP/1.1 answer with a length.
    if (trailers != null && this.#ctx.http2) addUpstreamTrailers(this.#res, trailers);
    this.#res.end();
  }

  onError(err: Error): void {
    if (this.#clientGone) {
      this.#endTry(undefined);
      this.#finish();
      this.#observer.upstreamError(this.#service.name, this.#instance as Instance, 'client_abort');
      return;
    }
    const discarding = this.#discarding;
    const failure = classifyError(err);
    this.#endTry(failure.breaker === 'failure' ? false : undefined);
    if (failure.kind !== undefined) {
      this.#observer.upstreamError(
        this.#service.name,
        this.#instance as Instance,
        failure.kind,
        err,
        this.#ctx.requestId,
      );
    }
    const owner = this.#owner;
    if (owner !== undefined && !this.#res.headersSent) {
      // A dropped answer that failed while being read: the retry it was dropped for still goes ahead, unless
      // the gateway itself ended the try (the deadline passed).
      if (discarding ? failure.kind !== undefined : owner.retriesFailure(failure)) return owner.retry();
    }
    this.#finish();
    const code: ErrorCode = failure.code;
    if (code === 'bad_request' || code === 'payload_too_large') this.#closeAfterAnswer();
    sendProblem(this.#res, code, describe(code, this.#service.name));
  }

  /** The client went away: the upstream request is aborted (now, or as soon as it connects). */
  clientGone(): void {
    if (this.#done) return;
    this.#clientGone = true;
    this.abortWith(new PorticoError('bad_request', 'client closed the connection'));
  }

  /** Ends the try with `err` (now, or as soon as it connects); onError follows. */
  abortWith(err: Error): void {
    if (this.#done) return;
    if (this.#abort !== undefined) return this.#abort(err);
    this.#abortWith = err;
  }

  timedOut(): void {
    this.#tryTimer = undefined;
    if (!this.#done) this.#abort?.(new undiciErrors.HeadersTimeoutError());
  }

  resumeUpstream(): void {
    this.#resume?.();
  }

  /** Ends the try: its timer, its share of the instance's load, its breaker verdict (undefined = none). */
  #endTry(success: boolean | undefined): void {
    this.#done = true;
    this.#discarding = false;
    if (this.#tryTimer !== undefined) this.#clearTryTimer();
    if (this.#startedAt !== 0) {
      this.#ctx.upstreamMs += performance.now() - this.#startedAt;
      this.#startedAt = 0;
    }
    this.#abort = undefined;
    this.#resume = undefined;
    const instance = this.#instance;
    if (instance !== undefined) {
      instance.inflight--;
      // No response head came for this try: it stops waiting now.
      if (this.#status === 0) instance.awaiting--;
    }
    this.#owner?.settle(success);
  }

  /** The request is answered by this try. */
  #finish(): void {
    if (this.#res[kTry] === this) this.#res[kTry] = undefined;
    if (this.#owner === undefined) this.#ctx.exchange = undefined;
    else this.#owner.finish();
  }

  /** A gRPC failure before any message (Trailers-Only UNAVAILABLE…) counts as a 503 for `retries.on`. */
  #retryStatus(statusCode: number, rawHeaders: Buffer[]): number {
    if (this.#ctx.grpc === undefined) return statusCode;
    const codes = this.#service.config.retries?.grpcStatuses ?? [14];
    return isRetryableGrpcHead(rawHeaders, codes) ? 503 : statusCode;
  }

  #clearTryTimer(): void {
    clearTimeout(this.#tryTimer);
    this.#tryTimer = undefined;
  }

  /** The rest of an unread request body must not be taken as the next request: drain or linger, then close. */
  #closeAfterAnswer(): void {
    if (!this.#res.headersSent) closeAfterAnswer(this.#ctx.req, this.#res);
  }
}

/** `Portico-Version`: the version that served, and `; pinned=MAJOR` when the consumer's pin chose it. */
function versionHeader(version: string, pin: string | undefined): string {
  return pin === undefined ? version : `${version}; pinned=${pin}`;
}

/** The detail of a problem answered for a failed try. */
export function describe(code: ErrorCode, service: string): string {
  switch (code) {
    case 'upstream_timeout':
      return `an instance of "${service}" did not answer in time`;
    case 'upstream_connect_timeout':
      return `no connection to an instance of "${service}" could be opened in time`;
    case 'upstream_idle_timeout':
      return `an instance of "${service}" stopped sending its answer`;
    case 'upstream_unavailable':
      return `an instance of "${service}" could not be reached`;
    case 'upstream_tls_error':
      return `the TLS handshake with an instance of "${service}" failed (its certificate was not accepted)`;
    case 'upstream_bad_response':
      return `an instance of "${service}" sent an invalid response`;
    case 'payload_too_large':
      return 'the request body is larger than allowed';
    default:
      return 'the request could not be forwarded';
  }
}

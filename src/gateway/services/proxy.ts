import type { ServerResponse } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { sendProblem } from '../../errors/problem.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { ErrorCode } from '../../errors/catalog.ts';
import type { CircuitBreaker } from '../../resilience/circuit-breaker.ts';
import type { TryFailure } from '../../resilience/retry-policy.ts';
import { tryFailureOf } from '../../resilience/try-failure.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { toClientHeaders } from '../forwarding/response-headers.ts';
import { writeGrpcHead } from '../grpc/grpc-head.ts';
import { Base64Decoder, GrpcWebAnswer, grpcWebRequestEdit } from '../grpc/grpc-web.ts';
import { chainHeaderEdits } from '../../policies/header-edit.ts';
import { GRPC_REPLAY_LIMIT_BYTES, isRetryableGrpcHead, ReplayableBody } from '../grpc/replayable-body.ts';
import { addUpstreamTrailers, type UpstreamTrailers } from '../forwarding/response-trailers.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';
import { createBodyLimiter } from './body-limit.ts';
import type { FallbackAnswer } from './fallback.ts';
import { hashKeyOf } from './hash-key.ts';
import type { ServiceResilience } from './service-resilience.ts';
import { closeAfterAnswer } from '../net/lingering-close.ts';
import { isTlsFailure } from '../upstream/upstream-tls.ts';

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
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'bad_response' | 'client_abort';

export interface ProxyOptions {
  readonly bodyLimitBytes: number;
  readonly observer: ProxyObserver;
  /** The route's overall deadline in ms, all tries included (0 or absent = none). */
  readonly deadlineMs?: number | undefined;
  /** The route's static answer when no instance can take the request. */
  readonly fallback?: FallbackAnswer | undefined;
}

const kExchange = Symbol('portico.exchange');
type ResponseWithExchange = ServerResponse & { [kExchange]?: ProxyExchange };

/**
 * The terminal service of a proxied route: picks an instance, streams the request to it through the
 * instance's undici pool and streams the answer back. It uses undici's low-level `dispatch` with one handler
 * object per request (no Readable wrappers, no per-request closures), and raw header lists both ways.
 *
 * A service with retries, breakers or a bulkhead, or a route with a deadline, gets the guarded handler,
 * chosen here once: routes without them pay nothing for them.
 */
export function createProxyHandler(service: ServiceRuntime, options: ProxyOptions): Handler {
  const deadlineMs = options.deadlineMs ?? 0;
  const resilience = service.resilience;
  if (resilience !== undefined || deadlineMs > 0) {
    return function proxyWithPolicies(ctx: RequestContext) {
      const callerMs = ctx.deadlineMs;
      const effectiveMs = callerMs > 0 && (deadlineMs === 0 || callerMs < deadlineMs) ? callerMs : deadlineMs;
      new ProxyExchange(ctx, service, options, resilience, effectiveMs).begin();
    };
  }
  return function proxyToService(ctx: RequestContext) {
    // A caller's deadline (grpc-timeout) takes the guarded path for this request only.
    if (ctx.deadlineMs > 0)
      return new ProxyExchange(ctx, service, options, undefined, ctx.deadlineMs).begin();
    const instances = ctx.instances ?? service.instances;
    const instance = instances.pick(hashKeyOf(service.hashKey, ctx));
    if (instance === undefined)
      return answerWithoutInstance(ctx, instances, service, options.fallback, false);
    new ProxyExchange(ctx, service, options, undefined, 0).dispatch(instance);
  };
}

/** No instance can take the request: the route's fallback, or 503. */
function answerWithoutInstance(
  ctx: RequestContext,
  instances: InstanceSet,
  service: ServiceRuntime,
  fallback: FallbackAnswer | undefined,
  breakersOpen: boolean,
): void {
  if (fallback !== undefined) return fallback.send(ctx.res, ctx.requestId);
  throw noInstanceError(instances, service, breakersOpen);
}

/** circuit_open when breakers refused every instance, else service_not_found or no_healthy_instance. */
function noInstanceError(
  instances: InstanceSet,
  service: ServiceRuntime,
  breakersOpen: boolean,
): PorticoError {
  if (breakersOpen)
    return new PorticoError('circuit_open', `the circuit breaker of "${service.name}" is open`);
  return new PorticoError(
    instances.all.length === 0 ? 'service_not_found' : 'no_healthy_instance',
    `service "${service.name}" has no available instance`,
  );
}

/**
 * undici times response headers with its coarse fast timers (about 1 s resolution), so `request: 200ms`
 * would fire after about a second; below this bound the exchange keeps its own exact timer as well.
 */
const coarseTimerBoundMs = 3_000;

function onTryTimeout(exchange: ProxyExchange): void {
  exchange.tryTimedOut();
}

function onDeadline(exchange: ProxyExchange): void {
  exchange.deadlinePassed();
}

function onBackoffEnd(exchange: ProxyExchange): void {
  exchange.retryNow();
}

function onClientResponseDrain(this: ResponseWithExchange): void {
  this[kExchange]?.resumeUpstream();
}

/**
 * One proxied request: undici's (legacy, unwrapped and therefore fastest) dispatch handler. Without
 * resilience it makes exactly one try. With it, the same object makes every try in turn: a try that fails
 * before anything reached the client (connect failure, reset before the answer, a retryable status, whose
 * body is read and dropped) is tried again on another instance after a backoff, while the retry budget,
 * the attempts and the route's deadline allow.
 */
class ProxyExchange implements Dispatcher.DispatchHandler {
  /** Set from the answer's Content-Length by toClientHeaders. */
  upstreamContentLength = -1;
  readonly #ctx: RequestContext;
  readonly #res: ResponseWithExchange;
  readonly #service: ServiceRuntime;
  readonly #options: ProxyOptions;
  readonly #observer: ProxyObserver;
  readonly #resilience: ServiceResilience | undefined;
  #body: Dispatcher.DispatchOptions['body'];
  /** A gRPC call's body kept for retries (services with retries only). */
  #replayable: ReplayableBody | undefined = undefined;
  /** The translation of a gRPC-Web call's answer (gRPC-Web calls only). */
  #grpcWeb: GrpcWebAnswer | undefined = undefined;
  readonly #contentLength: number;
  #instance: Instance | undefined = undefined;
  /** The instance of the try before the current one (retries avoid both). */
  #previous: Instance | undefined = undefined;
  #abort: ((err?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #done = false;
  #clientGone = false;
  #tryTimer: NodeJS.Timeout | undefined = undefined;
  // Resilience state, untouched on the plain path.
  #deadlineMs: number;
  #deadlineAt = 0;
  #deadlineTimer: NodeJS.Timeout | undefined = undefined;
  #backoffTimer: NodeJS.Timeout | undefined = undefined;
  #retries = 0;
  /** The status of the current try, 0 before its head arrived. */
  #status = 0;
  /** The current try's answer is being read and dropped because it will be retried. */
  #discarding = false;
  #tryBreaker: CircuitBreaker | undefined = undefined;
  /** performance.now() when the current try was sent; 0 between tries. */
  #tryStartedAt = 0;
  #holdsBulkhead = false;
  #queued = false;
  #lastFailure: ErrorCode = 'upstream_unavailable';

  constructor(
    ctx: RequestContext,
    service: ServiceRuntime,
    options: ProxyOptions,
    resilience: ServiceResilience | undefined,
    deadlineMs: number,
  ) {
    const req = ctx.req;
    const declared = req.headers['content-length'];
    const contentLength = declared === undefined ? -1 : Number(declared);
    if (contentLength > options.bodyLimitBytes) {
      throw new PorticoError('payload_too_large', `body exceeds ${options.bodyLimitBytes} bytes`);
    }
    // An HTTP/2 body has no Transfer-Encoding: without Content-Length it streams until its last DATA frame.
    const chunked =
      req.headers['transfer-encoding'] !== undefined ||
      (ctx.http2 && contentLength === -1 && !streamEndedWithHeaders(req));
    this.#ctx = ctx;
    this.#res = ctx.res;
    this.#service = service;
    this.#options = options;
    this.#observer = options.observer;
    this.#resilience = resilience;
    this.#deadlineMs = deadlineMs;
    const buffered = ctx.body;
    if (buffered !== undefined) {
      // A stage read the whole body (request validation): the bytes go up with their own length.
      this.#contentLength = buffered.length;
      this.#body = buffered.length === 0 ? null : buffered;
    } else if (ctx.grpc === 'grpc-web-text') {
      // Base64 in, binary frames out: the upstream length differs from the client's.
      this.#contentLength = -1;
      this.#body = contentLength === 0 ? null : req.pipe(new Base64Decoder());
    } else {
      this.#contentLength = chunked ? -1 : contentLength;
      // gRPC streams are long-lived message sequences: limits.bodySize would cap a whole stream, not a message.
      if (chunked && ctx.grpc !== undefined && resilience?.retry !== undefined) {
        this.#replayable = new ReplayableBody(req, GRPC_REPLAY_LIMIT_BYTES);
        this.#body = this.#replayable.body;
      } else if (chunked)
        this.#body = ctx.grpc !== undefined ? req : req.pipe(createBodyLimiter(options.bodyLimitBytes));
      else if (contentLength > 0) this.#body = req;
      else this.#body = null;
    }
    if (ctx.grpc === 'grpc-web' || ctx.grpc === 'grpc-web-text') {
      this.#grpcWeb = new GrpcWebAnswer(ctx.grpc === 'grpc-web-text');
      ctx.requestHeaderEdit = chainHeaderEdits(
        ctx.requestHeaderEdit,
        grpcWebRequestEdit(req.headers['content-type'] as string),
      );
    }
    this.#res[kExchange] = this;
    ctx.exchange = this;
  }

  /** The guarded path: deadline and bulkhead first, then the first try. */
  begin(): void {
    if (this.#deadlineMs > 0) {
      this.#deadlineAt = Date.now() + this.#deadlineMs;
      this.#deadlineTimer = setTimeout(onDeadline, this.#deadlineMs, this);
    }
    const resilience = this.#resilience;
    if (resilience !== undefined) {
      const bulkhead = resilience.bulkhead;
      if (bulkhead !== undefined) {
        if (!bulkhead.tryAcquire()) {
          if (!bulkhead.enqueue(this)) {
            return this.#fail('overloaded', `"${this.#service.name}" is at its concurrency limit`);
          }
          this.#queued = true;
          return;
        }
        this.#holdsBulkhead = true;
      }
      resilience.retry?.recordCall();
    }
    this.#tryNext();
  }

  /** A bulkhead slot freed up for this queued request. */
  granted(): void {
    this.#queued = false;
    this.#holdsBulkhead = true;
    if (this.#done) return this.#resilience?.bulkhead?.release();
    this.#resilience?.retry?.recordCall();
    this.#tryNext();
  }

  /** Sends one try to `instance`. */
  dispatch(instance: Instance): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    this.#instance = instance;
    this.#status = 0;
    ctx.upstream = instance.id;
    this.#tryStartedAt = performance.now();
    const fullPath = instance.pathPrefix + upstreamPathOf(ctx);
    instance.inflight++;
    instance.awaiting++;
    instance.pool.dispatch(
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
    if (this.#clientGone) return abort(new PorticoError('bad_request', 'client closed the connection'));
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
    // A gRPC failure before any message (Trailers-Only UNAVAILABLE…) counts as a 503 for `retries.on`.
    const retryStatus =
      this.#replayable !== undefined &&
      isRetryableGrpcHead(rawHeaders, this.#service.config.retries?.grpcStatuses ?? [14])
        ? 503
        : statusCode;
    if (this.#resilience?.retry !== undefined && this.#mayRetry('status', retryStatus)) {
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
      else this.#res.writeHead(statusCode, headers);
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
      this.#discarding = false;
      this.#endTry(false);
      return this.#backoff();
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
    const { code, kind } = classifyUpstreamError(err);
    this.#endTry(kind === undefined ? undefined : false);
    if (kind !== undefined)
      this.#observer.upstreamError(
        this.#service.name,
        this.#instance as Instance,
        kind,
        err,
        this.#ctx.requestId,
      );
    if (this.#discarding) {
      // The dropped answer failed while being read; the retry it was dropped for still goes ahead.
      this.#discarding = false;
      return this.#backoff();
    }
    if (this.#resilience?.retry !== undefined && !this.#res.headersSent) {
      this.#lastFailure = code;
      const failure = tryFailureOf((err as { code?: string }).code);
      if (kind !== undefined && this.#mayRetry(failure, 0)) return this.#backoff();
    }
    this.#finish();
    if (code === 'bad_request' || code === 'payload_too_large') this.#closeAfterAnswer();
    sendProblem(this.#res, code, describe(code, this.#service.name));
  }

  clientGone(): void {
    if (this.#done) return;
    this.#clientGone = true;
    if (this.#abort !== undefined)
      return this.#abort(new PorticoError('bad_request', 'client closed the connection'));
    // Between tries or queued: no upstream request to abort.
    if (this.#backoffTimer !== undefined || this.#queued) this.#finish();
  }

  tryTimedOut(): void {
    this.#tryTimer = undefined;
    if (!this.#done) this.#abort?.(new undiciErrors.HeadersTimeoutError());
  }

  deadlinePassed(): void {
    this.#deadlineTimer = undefined;
    if (this.#done) return;
    const error = new PorticoError(
      'deadline_exceeded',
      `no answer within the route's ${this.#deadlineMs}ms deadline`,
    );
    if (this.#abort !== undefined) return this.#abort(error);
    this.#fail('deadline_exceeded', error.detail as string);
  }

  resumeUpstream(): void {
    this.#resume?.();
  }

  retryNow(): void {
    this.#backoffTimer = undefined;
    if (this.#done) return;
    if (this.#replayable !== undefined) this.#body = this.#replayable.replay();
    this.#retries++;
    this.#tryNext();
  }

  /** Picks an instance (another one than the last try's when there is one) and dispatches to it. */
  #tryNext(): void {
    const ctx = this.#ctx;
    const service = this.#service;
    const instances = ctx.instances ?? service.instances;
    const key = hashKeyOf(service.hashKey, ctx);
    const avoid = this.#instance;
    const resilience = this.#resilience;
    const instance =
      resilience === undefined
        ? instances.pick(key, avoid)
        : resilience.pick(instances, key, avoid, this.#previous);
    if (instance === undefined || instance === null) {
      if (this.#retries > 0) return this.#fail(this.#lastFailure, describe(this.#lastFailure, service.name));
      return this.#refuse(instance === null, instances);
    }
    this.#tryBreaker = resilience?.breakerOf(instance);
    this.#previous = avoid;
    this.dispatch(instance);
  }

  /** Whether the failed try may be retried now; takes the retry from the budget when it says yes. */
  #mayRetry(failure: TryFailure, status: number): boolean {
    const policy = this.#resilience?.retry;
    if (policy === undefined || this.#clientGone) return false;
    // A streamed body is gone once sent; a body a stage already buffered (validation) can be sent again.
    const replayable =
      this.#body === null || Buffer.isBuffer(this.#body) || this.#replayable?.replayable === true;
    // A gRPC call is a POST, retried only on the gRPC statuses or failures that say it was not processed.
    const method = this.#replayable === undefined ? (this.#ctx.req.method ?? 'GET') : 'GET';
    if (!replayable || !policy.allowsMethod(method)) return false;
    if (failure === 'status' && !policy.retriesStatus(status)) return false;
    if (this.#retries >= policy.attempts) return false;
    if (this.#deadlineAt !== 0 && Date.now() + policy.delayMs(this.#retries) >= this.#deadlineAt)
      return false;
    return policy.shouldRetry(this.#retries, failure, status);
  }

  #backoff(): void {
    const delay = (this.#resilience?.retry as NonNullable<ServiceResilience['retry']>).delayMs(this.#retries);
    this.#backoffTimer = setTimeout(onBackoffEnd, delay, this);
  }

  /** Ends one try: its timer, its share of the instance's load, its breaker verdict (undefined = none). */
  #endTry(success: boolean | undefined): void {
    if (this.#tryTimer !== undefined) this.#clearTryTimer();
    if (this.#tryStartedAt !== 0) {
      this.#ctx.upstreamMs += performance.now() - this.#tryStartedAt;
      this.#tryStartedAt = 0;
    }
    this.#abort = undefined;
    this.#resume = undefined;
    const instance = this.#instance;
    if (instance !== undefined) {
      instance.inflight--;
      // No response head came for this try: it stops waiting now.
      if (this.#status === 0) instance.awaiting--;
    }
    const breaker = this.#tryBreaker;
    if (breaker !== undefined) {
      this.#tryBreaker = undefined;
      if (success === undefined) breaker.release();
      else breaker.record(success);
    }
  }

  /** Ends the request: releases what it held. */
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#res[kExchange] = undefined;
    this.#ctx.exchange = undefined;
    if (this.#resilience === undefined && this.#deadlineTimer === undefined) return;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    if (this.#backoffTimer !== undefined) clearTimeout(this.#backoffTimer);
    this.#deadlineTimer = undefined;
    this.#backoffTimer = undefined;
    const resilience = this.#resilience;
    if (resilience === undefined) return;
    if (this.#queued) {
      this.#queued = false;
      resilience.bulkhead?.cancel(this);
    }
    if (this.#holdsBulkhead) {
      this.#holdsBulkhead = false;
      resilience.bulkhead?.release();
    }
  }

  /** No try can be made: the fallback, or 503 (circuit_open when breakers refused, else no instance). */
  #refuse(breakersOpen: boolean, instances?: InstanceSet): void {
    const ctx = this.#ctx;
    const fallback = this.#options.fallback;
    if (fallback !== undefined) {
      this.#finish();
      return fallback.send(ctx.res, ctx.requestId);
    }
    const error = noInstanceError(
      instances ?? ctx.instances ?? this.#service.instances,
      this.#service,
      breakersOpen,
    );
    this.#fail(error.code, error.detail as string);
  }

  /** Answers a problem the gateway decided itself (no try in flight). */
  #fail(code: ErrorCode, detail: string): void {
    this.#finish();
    if (this.#body !== null) this.#closeAfterAnswer();
    sendProblem(this.#res, code, detail, undefined, { 'x-request-id': this.#ctx.requestId });
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

/** Maps an undici / socket error of a try to the problem code answered and the kind counted in metrics. */
export function classifyUpstreamError(err: Error): { code: ErrorCode; kind: UpstreamErrorKind | undefined } {
  if (err instanceof PorticoError) return { code: err.code, kind: undefined };
  const errorCode = (err as { code?: string }).code;
  if (isTlsFailure(errorCode)) return { code: 'upstream_tls_error', kind: 'connect' };
  switch (errorCode) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { code: 'upstream_connect_timeout', kind: 'connect' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { code: 'upstream_timeout', kind: 'timeout' };
    case 'UND_ERR_BODY_TIMEOUT':
      return { code: 'upstream_idle_timeout', kind: 'timeout' };
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

/** Whether an HTTP/2 request came without a body (END_STREAM on its HEADERS frame). */
function streamEndedWithHeaders(req: RequestContext['req']): boolean {
  return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === true;
}

function describe(code: ErrorCode, service: string): string {
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

/** `Portico-Version`: the version that served, and `; pinned=MAJOR` when the consumer's pin chose it. */
function versionHeader(version: string, pin: string | undefined): string {
  return pin === undefined ? version : `${version}; pinned=${pin}`;
}

import type { Readable } from 'node:stream';
import type { ErrorCode } from '../../errors/catalog.ts';
import { sendProblem } from '../../errors/problem.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { CircuitBreaker } from '../../resilience/circuit-breaker.ts';
import { nextRetryDelayMs, noRetry, statusAnswer } from '../../resilience/retry-loop.ts';
import type { RetryPolicy } from '../../resilience/retry-policy.ts';
import type { UpstreamFailure } from '../../resilience/upstream-failure.ts';
import { closeAfterAnswer } from '../net/lingering-close.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';
import { GRPC_REPLAY_LIMIT_BYTES, ReplayableBody } from '../grpc/replayable-body.ts';
import { hashKeyOf } from './hash-key.ts';
import { noInstanceError } from './no-instance.ts';
import type { ServiceResilience } from './service-resilience.ts';
import {
  describe,
  upstreamBody,
  upstreamContentLength,
  UpstreamTry,
  type ProxyOptions,
  type RequestBody,
  type TryOwner,
} from './upstream-try.ts';

function onDeadline(exchange: GuardedExchange): void {
  exchange.deadlinePassed();
}

function onBackoffEnd(exchange: GuardedExchange): void {
  exchange.retryNow();
}

/**
 * The policies around a proxied request's tries, outermost first: the route's deadline, the service's
 * bulkhead, retries (backoff, budget, another instance each time) and the instance breakers. Each try is an
 * {@link UpstreamTry}, which streams and reports back through {@link TryOwner}; the retry decision is the one
 * of `src/resilience/retry-loop.ts`, driven by timers instead of awaits (no promise per request). Only routes
 * with a deadline or services with retries, breakers or a bulkhead get one (chosen at compile time).
 */
export class GuardedExchange implements TryOwner {
  /** The body of the next try: a gRPC call's is replayed from its recording for each retry. */
  body: RequestBody;
  /** A gRPC call's body kept for retries (services with retries only). */
  readonly #replayable: ReplayableBody | undefined;
  readonly contentLength: number;
  readonly #ctx: RequestContext;
  readonly #service: ServiceRuntime;
  readonly #options: ProxyOptions;
  readonly #resilience: ServiceResilience | undefined;
  readonly #policy: RetryPolicy | undefined;
  readonly #deadlineMs: number;
  #deadlineAt = 0;
  #deadlineTimer: NodeJS.Timeout | undefined = undefined;
  #backoffTimer: NodeJS.Timeout | undefined = undefined;
  #retries = 0;
  /** The backoff decided for the retry that follows the current try. */
  #delayMs = 0;
  /** The try in flight; undefined while queued, between tries and once done. */
  #current: UpstreamTry | undefined = undefined;
  /** The instances of the last try and of the one before (a retry avoids both). */
  #last: Instance | undefined = undefined;
  #previous: Instance | undefined = undefined;
  #breaker: CircuitBreaker | undefined = undefined;
  #holdsBulkhead = false;
  #queued = false;
  #done = false;
  #clientGone = false;
  #lastFailure: ErrorCode = 'upstream_unavailable';

  constructor(
    ctx: RequestContext,
    service: ServiceRuntime,
    options: ProxyOptions,
    resilience: ServiceResilience | undefined,
    deadlineMs: number,
  ) {
    this.contentLength = upstreamContentLength(ctx, options.bodyLimitBytes);
    const body = upstreamBody(ctx, this.contentLength, options.bodyLimitBytes);
    // A gRPC call streams, but a failure before any answer may still send it again (grpc/replayable-body.ts).
    this.#replayable =
      ctx.grpc !== undefined && resilience?.retry !== undefined && body !== null && !Buffer.isBuffer(body)
        ? new ReplayableBody(body as Readable, GRPC_REPLAY_LIMIT_BYTES)
        : undefined;
    this.body = this.#replayable === undefined ? body : this.#replayable.body;
    this.#ctx = ctx;
    this.#service = service;
    this.#options = options;
    this.#resilience = resilience;
    this.#policy = resilience?.retry;
    this.#deadlineMs = deadlineMs;
    ctx.exchange = this;
  }

  /** Deadline and bulkhead first, then the first try. */
  begin(): void {
    if (this.#deadlineMs > 0) {
      this.#deadlineAt = Date.now() + this.#deadlineMs;
      this.#deadlineTimer = setTimeout(onDeadline, this.#deadlineMs, this);
    }
    const bulkhead = this.#resilience?.bulkhead;
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
    this.#policy?.recordCall();
    this.#tryNext();
  }

  /** A bulkhead slot freed up for this queued request. */
  granted(): void {
    this.#queued = false;
    this.#holdsBulkhead = true;
    if (this.#done) return this.#release();
    this.#policy?.recordCall();
    this.#tryNext();
  }

  clientGone(): void {
    if (this.#done) return;
    this.#clientGone = true;
    if (this.#current !== undefined) return this.#current.clientGone();
    // Between tries or queued: no upstream request to abort.
    this.finish();
  }

  deadlinePassed(): void {
    this.#deadlineTimer = undefined;
    if (this.#done) return;
    const detail = `no answer within the route's ${this.#deadlineMs}ms deadline`;
    if (this.#current !== undefined)
      return this.#current.abortWith(new PorticoError('deadline_exceeded', detail));
    this.#fail('deadline_exceeded', detail);
  }

  retryNow(): void {
    this.#backoffTimer = undefined;
    if (this.#done) return;
    this.#retries++;
    if (this.#replayable !== undefined) this.body = this.#replayable.replay();
    this.#tryNext();
  }

  retriesStatus(status: number): boolean {
    return this.#decide(statusAnswer, status);
  }

  retriesFailure(failure: UpstreamFailure): boolean {
    this.#lastFailure = failure.code;
    return this.#decide(failure, 0);
  }

  retry(): void {
    this.#current = undefined;
    this.#backoffTimer = setTimeout(onBackoffEnd, this.#delayMs, this);
  }

  settle(success: boolean | undefined): void {
    const breaker = this.#breaker;
    if (breaker === undefined) return;
    this.#breaker = undefined;
    if (success === undefined) breaker.release();
    else breaker.record(success);
  }

  /** Ends the request: releases what it held. */
  finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#current = undefined;
    this.#ctx.exchange = undefined;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    if (this.#backoffTimer !== undefined) clearTimeout(this.#backoffTimer);
    this.#deadlineTimer = undefined;
    this.#backoffTimer = undefined;
    if (this.#queued) {
      this.#queued = false;
      this.#resilience?.bulkhead?.cancel(this);
    }
    this.#release();
  }

  #release(): void {
    if (!this.#holdsBulkhead) return;
    this.#holdsBulkhead = false;
    this.#resilience?.bulkhead?.release();
  }

  /** Whether the failed try is retried; keeps the backoff when it is (the budget is charged then). */
  #decide(failure: UpstreamFailure, status: number): boolean {
    const policy = this.#policy;
    if (policy === undefined || this.#clientGone) return false;
    // A streamed body is gone once sent; a body a stage already buffered (validation) can be sent again.
    const body = this.body;
    const replayable = this.#replayable;
    if (replayable === undefined ? body !== null && !Buffer.isBuffer(body) : !replayable.replayable)
      return false;
    const deadlineAt = this.#deadlineAt;
    const delayMs = nextRetryDelayMs(
      policy,
      this.#retries,
      // A gRPC call is a POST, retried only on the gRPC statuses or failures that say it was not processed.
      replayable === undefined ? (this.#ctx.req.method ?? 'GET') : 'GET',
      failure,
      status,
      deadlineAt,
      deadlineAt === 0 ? 0 : Date.now(),
    );
    if (delayMs === noRetry) return false;
    this.#delayMs = delayMs;
    return true;
  }

  /** Picks an instance (another one than the last tries' when there is one) and sends a try to it. */
  #tryNext(): void {
    const ctx = this.#ctx;
    const service = this.#service;
    const instances = ctx.instances ?? service.instances;
    const key = hashKeyOf(service.hashKey, ctx);
    const avoid = this.#last;
    const resilience = this.#resilience;
    const instance =
      resilience === undefined
        ? instances.pick(key, avoid)
        : resilience.pick(instances, key, avoid, this.#previous);
    if (instance === undefined || instance === null) {
      if (this.#retries > 0) return this.#fail(this.#lastFailure, describe(this.#lastFailure, service.name));
      return this.#refuse(instance === null, instances);
    }
    this.#breaker = resilience?.breakerOf(instance);
    this.#previous = avoid;
    this.#last = instance;
    const upstreamTry = new UpstreamTry(ctx, service, this.#options, this);
    this.#current = upstreamTry;
    upstreamTry.dispatch(instance);
  }

  /** No try can be made: the fallback, or 503 (circuit_open when breakers refused, else no instance). */
  #refuse(breakersOpen: boolean, instances: InstanceSet): void {
    const fallback = this.#options.fallback;
    if (fallback !== undefined) {
      this.finish();
      return fallback.send(this.#ctx.res, this.#ctx.requestId);
    }
    const error = noInstanceError(instances, this.#service, breakersOpen);
    this.#fail(error.code, error.detail as string);
  }

  /** Answers a problem the gateway decided itself (no try in flight). */
  #fail(code: ErrorCode, detail: string): void {
    this.finish();
    const ctx = this.#ctx;
    if (this.body !== null && !ctx.res.headersSent) closeAfterAnswer(ctx.req, ctx.res);
    sendProblem(ctx.res, code, detail, undefined, { 'x-request-id': ctx.requestId });
  }
}

import type { Dispatcher } from 'undici';
import type { AggregateConfig } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { sendProblem } from '../../errors/problem.ts';
import { appendTraceHeaders } from '../../observability/trace-context.ts';
import {
  CallError,
  compileAggregatePlan,
  runAggregate,
  type AggregateCallSpec,
  type PlannedCall,
} from '../../resilience/aggregate-plan.ts';
import { retryLoop, sleep, type TryResult } from '../../resilience/retry-loop.ts';
import { classifyError } from '../../resilience/upstream-failure.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import type { ProxyObserver } from './proxy.ts';

/** Largest answer of one call that is buffered and parsed. */
const maxCallBodyBytes = 4 * 1024 * 1024;

interface CompiledCall extends AggregateCallSpec {
  readonly runtime: ServiceRuntime;
  readonly timeoutMs: number;
}

/**
 * The terminal service of an aggregate route: runs its calls (in parallel, each after the call it needs),
 * through the same balancing, breakers, bulkheads and retries as proxied requests, and answers one JSON
 * object keyed by call. A failed optional call leaves its key null, is listed under `errors`, and the
 * answer carries `Portico-Partial: true`; a failed required call answers 502 `aggregate_failed` naming it.
 * The caller's identity (Authorization, the identity headers set by authentication) goes with every call.
 *
 * @example
 * const handler = createAggregateHandler(config.aggregates[0], services, observer);
 */
export function createAggregateHandler(
  config: AggregateConfig,
  services: ReadonlyMap<string, ServiceRuntime>,
  observer: ProxyObserver,
): Handler {
  const calls: Record<string, CompiledCall> = {};
  for (const [name, call] of Object.entries(config.calls)) {
    const runtime = services.get(call.service);
    if (runtime === undefined)
      throw new Error(`aggregate "${config.name}" calls unknown service "${call.service}"`);
    calls[name] = {
      ...call,
      runtime,
      timeoutMs: call.timeout === undefined ? runtime.requestTimeoutMs : parseDurationMs(call.timeout),
    };
  }
  let plan;
  try {
    plan = compileAggregatePlan(calls);
  } catch (err) {
    throw new Error(`aggregate "${config.name}": ${(err as Error).message}`, { cause: err });
  }
  const name = config.name;
  return async function aggregate(ctx: RequestContext) {
    const controller = new AbortController();
    ctx.exchange = { clientGone: () => controller.abort(new Error('client closed the connection')) };
    const headers = callHeaders(ctx);
    const outcome = await runAggregate(
      plan,
      ctx.params,
      (call, path, signal) => invoke(call, path, headers, signal, observer),
      controller.signal,
    );
    ctx.exchange = undefined;
    const res = ctx.res;
    if (res.headersSent || res.destroyed) return;
    if (!outcome.ok) {
      const failure = outcome.failure;
      sendProblem(
        res,
        'aggregate_failed',
        `required call "${failure.call}" of "${name}" failed: ${failure.detail}`,
        { call: failure.call, cause: { code: failure.code, status: failure.status } },
        { 'x-request-id': ctx.requestId },
      );
      return;
    }
    const partial = outcome.errors.length > 0;
    const text = JSON.stringify(partial ? { ...outcome.body, errors: outcome.errors } : outcome.body);
    const answerHeaders: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': ctx.requestId,
    };
    if (partial) answerHeaders['portico-partial'] = 'true';
    res.writeHead(200, answerHeaders);
    res.end(text);
  };
}

/** Headers every call carries: the request id, the client's address, its credentials and identity, the trace. */
function callHeaders(ctx: RequestContext): string[] {
  const headers = [
    'accept',
    'application/json',
    'x-request-id',
    ctx.requestId,
    'x-forwarded-for',
    ctx.clientIp,
  ];
  const authorization = ctx.req.headers.authorization;
  if (authorization !== undefined) headers.push('authorization', authorization);
  const identity = ctx.upstreamHeaders;
  if (identity !== undefined) headers.push(...identity);
  // Every call is a child of the gateway's span of this request, as a proxied request is.
  appendTraceHeaders(ctx.req, headers);
  return headers;
}

/** One call: the bulkhead, then tries on instances (breakers and retries as for proxied requests). */
async function invoke(
  planned: PlannedCall,
  path: string,
  headers: string[],
  signal: AbortSignal,
  observer: ProxyObserver,
): Promise<unknown> {
  const call = planned.spec as CompiledCall;
  const service = call.runtime;
  const resilience = service.resilience;
  const bulkhead = resilience?.bulkhead;
  if (bulkhead !== undefined && !bulkhead.tryAcquire()) {
    throw new CallError('overloaded', `"${service.name}" is at its concurrency limit`, 503);
  }
  const callSignal =
    call.timeoutMs > 0 ? AbortSignal.any([signal, AbortSignal.timeout(call.timeoutMs)]) : signal;
  try {
    const answer = await retryLoop(
      {
        policy: resilience?.retry,
        method: call.method ?? 'GET',
        tryTimeoutMs: 0,
        deadlineMs: 0,
        clock: Date.now,
        sleep,
        signal: callSignal,
        deadlineError: () => timeoutOrAbort(service.name, callSignal),
      },
      new CallTries(call, path, headers, callSignal, observer).tryOnce,
    );
    if (answer.statusCode < 300) return answer.json;
    throw new CallError(
      'upstream_status',
      `"${service.name}" answered ${answer.statusCode}`,
      answer.statusCode,
    );
  } catch (err) {
    if (err instanceof CallError) throw err;
    // The call's timeout or the aggregate's end came during a backoff.
    if (callSignal.aborted) throw timeoutOrAbort(service.name, callSignal);
    throw err;
  } finally {
    bulkhead?.release();
  }
}

interface CallAnswer {
  readonly statusCode: number;
  readonly json: unknown;
}

/** The tries of one call, for the retry loop: each picks an instance the way the proxy's retries do. */
class CallTries {
  readonly #call: CompiledCall;
  readonly #path: string;
  readonly #headers: string[];
  readonly #signal: AbortSignal;
  readonly #observer: ProxyObserver;
  /** The instances of the last try and the one before (a retry passes over both). */
  #last: Instance | undefined = undefined;
  #previous: Instance | undefined = undefined;
  #lastError: CallError | undefined = undefined;

  constructor(
    call: CompiledCall,
    path: string,
    headers: string[],
    signal: AbortSignal,
    observer: ProxyObserver,
  ) {
    this.#call = call;
    this.#path = path;
    this.#headers = headers;
    this.#signal = signal;
    this.#observer = observer;
  }

  readonly tryOnce = async (): Promise<TryResult<CallAnswer>> => {
    const service = this.#call.runtime;
    const resilience = service.resilience;
    const avoid = this.#last;
    const picked =
      resilience === undefined
        ? service.instances.pick(undefined, avoid)
        : resilience.pick(service.instances, undefined, avoid, this.#previous);
    // As in the proxy, a retry that finds no instance answers with the failure it was retrying.
    if (picked == null && this.#lastError !== undefined) throw this.#lastError;
    if (picked === null)
      throw new CallError('circuit_open', `the circuit breaker of "${service.name}" is open`, 503);
    if (picked === undefined) {
      throw new CallError('no_healthy_instance', `service "${service.name}" has no available instance`, 503);
    }
    const instance: Instance = picked;
    this.#previous = avoid;
    this.#last = instance;
    const breaker = resilience?.breakerOf(instance);
    instance.inflight++;
    instance.awaiting++;
    try {
      const answer = await once(
        instance,
        service,
        this.#call.method ?? 'GET',
        this.#path,
        this.#headers,
        this.#signal,
      );
      breaker?.record(answer.statusCode < 500);
      this.#observer.upstreamResponse?.(service.name, instance, answer.statusCode);
      if (answer.statusCode >= 300) {
        this.#lastError = new CallError(
          'upstream_status',
          `"${service.name}" answered ${answer.statusCode}`,
          answer.statusCode,
        );
      }
      return { ok: true, status: answer.statusCode, value: answer };
    } catch (err) {
      if (this.#signal.aborted) {
        breaker?.release();
        throw timeoutOrAbort(service.name, this.#signal);
      }
      if (err instanceof CallError) {
        breaker?.record(false);
        throw err;
      }
      const failure = classifyError(err);
      if (failure.breaker === 'failure') breaker?.record(false);
      else breaker?.release();
      if (failure.kind !== undefined) this.#observer.upstreamError(service.name, instance, failure.kind);
      const error = new CallError(failure.code, `calling "${service.name}" failed (${failure.code})`);
      this.#lastError = error;
      return { ok: false, failure, error };
    } finally {
      instance.inflight--;
      instance.awaiting--;
    }
  };
}

function timeoutOrAbort(service: string, signal: AbortSignal): CallError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError'
    ? new CallError('upstream_timeout', `"${service}" did not answer within the call's timeout`, 504)
    : new CallError('aborted', 'the aggregate was abandoned');
}

/** One try: the answer buffered (bounded) and parsed as JSON; a body that is not JSON fails the call. */
async function once(
  instance: Instance,
  service: ServiceRuntime,
  method: string,
  path: string,
  headers: string[],
  signal: AbortSignal,
): Promise<CallAnswer> {
  const basePath = instance.url.pathname;
  const fullPath = basePath === '/' ? path : basePath.replace(/\/$/, '') + path;
  const response = await instance.pool.request({
    path: fullPath,
    method: method as Dispatcher.HttpMethod,
    headers: [...headers, 'host', instance.url.host],
    headersTimeout: service.requestTimeoutMs,
    bodyTimeout: service.idleTimeoutMs,
    signal,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxCallBodyBytes) {
      response.body.destroy();
      throw new CallError('upstream_bad_response', `the answer of "${service.name}" is too large`, 502);
    }
    chunks.push(chunk);
  }
  if (response.statusCode >= 300) return { statusCode: response.statusCode, json: undefined };
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return { statusCode: response.statusCode, json: null };
  try {
    return { statusCode: response.statusCode, json: JSON.parse(text) as unknown };
  } catch {
    throw new CallError('upstream_bad_response', `"${service.name}" did not answer JSON`, 502);
  }
}

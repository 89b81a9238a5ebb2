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
import type { CircuitBreaker } from '../../resilience/circuit-breaker.ts';
import type { TryFailure } from '../../resilience/retry-policy.ts';
import { tryFailureOf } from '../../resilience/try-failure.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { Instance } from '../upstream/instance.ts';
import { classifyUpstreamError, type ProxyObserver } from './proxy.ts';

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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
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
    return await tries(call, path, headers, callSignal, observer);
  } finally {
    bulkhead?.release();
  }
}

async function tries(
  call: CompiledCall,
  path: string,
  headers: string[],
  signal: AbortSignal,
  observer: ProxyObserver,
): Promise<unknown> {
  const service = call.runtime;
  const resilience = service.resilience;
  const policy = resilience?.retry;
  const method = call.method ?? 'GET';
  policy?.recordCall();
  let avoid: Instance | undefined;
  let triedBefore: Instance | undefined;
  let lastError: CallError | undefined;
  for (let retry = 0; ; retry++) {
    // The proxy's pick: a retry passes over the last two instances tried and those whose breaker refuses.
    const picked =
      resilience === undefined
        ? service.instances.pick(undefined, avoid)
        : resilience.pick(service.instances, undefined, avoid, triedBefore);
    // As in the proxy, a retry that finds no instance answers with the failure it was retrying.
    if (picked == null && lastError !== undefined) throw lastError;
    if (picked === null)
      throw new CallError('circuit_open', `the circuit breaker of "${service.name}" is open`, 503);
    if (picked === undefined) {
      throw new CallError('no_healthy_instance', `service "${service.name}" has no available instance`, 503);
    }
    const instance: Instance = picked;
    const breaker: CircuitBreaker | undefined = resilience?.breakerOf(instance);
    let failure: TryFailure;
    let error: CallError;
    instance.inflight++;
    instance.awaiting++;
    try {
      const answer = await once(instance, service, method, path, headers, signal);
      breaker?.record(answer.statusCode < 500);
      observer.upstreamResponse?.(service.name, instance, answer.statusCode);
      if (answer.statusCode < 300) return answer.json;
      error = new CallError(
        'upstream_status',
        `"${service.name}" answered ${answer.statusCode}`,
        answer.statusCode,
      );
      failure = 'status';
    } catch (err) {
      if (signal.aborted) {
        breaker?.release();
        throw timeoutOrAbort(service.name, signal);
      }
      if (err instanceof CallError) {
        breaker?.record(false);
        throw err;
      }
      const { code, kind } = classifyUpstreamError(err as Error);
      breaker?.record(false);
      if (kind !== undefined) observer.upstreamError(service.name, instance, kind);
      error = new CallError(code, `calling "${service.name}" failed (${code})`);
      failure = tryFailureOf((err as { code?: string }).code);
    } finally {
      instance.inflight--;
      instance.awaiting--;
    }
    if (
      policy === undefined ||
      !policy.allowsMethod(method) ||
      !policy.shouldRetry(retry, failure, error.status ?? 0)
    ) {
      throw error;
    }
    await sleep(policy.delayMs(retry), signal).catch(() => {
      throw timeoutOrAbort(service.name, signal);
    });
    lastError = error;
    triedBefore = avoid;
    avoid = instance;
  }
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
): Promise<{ statusCode: number; json: unknown }> {
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

import semver from 'semver';
import { Agent, request } from 'undici';
import { createBalancer, type Balancer, type RandomSource } from '../balancing/index.ts';
import type { LoadBalancerName } from '../config/schema.ts';
import { Bulkhead } from '../resilience/bulkhead.ts';
import { BrokenCircuitError, CircuitBreaker } from '../resilience/circuit-breaker.ts';
import { RetryPolicy } from '../resilience/retry-policy.ts';
import { classifyError, timedOutFailure } from '../resilience/upstream-failure.ts';
import { CallTimeoutError } from './call-timeout-error.ts';
import { callWithPolicies, throughBreaker, type CallPolicies, type TryOutcome } from './call-policies.ts';
import { NoInstanceError } from './no-instance-error.ts';
import { RegistryConnection, type RegistryInstance, type RegistryOptions } from './registry-connection.ts';
import { ServiceCallError } from './service-call-error.ts';
import { ServiceWatch } from './service-watch.ts';
import { currentTraceContext, outgoingTraceparent } from './trace-context.ts';

/** Retry settings of a client; `false` turns retries off. */
export interface ClientRetryOptions {
  /** Retries after the first try. Default 2. */
  readonly attempts?: number | undefined;
  /** Statuses retried (idempotent methods only). Default 502, 503, 504. */
  readonly statuses?: readonly number[] | undefined;
  /** Retry a try that timed out (idempotent methods only). Default false. */
  readonly onTimeout?: boolean | undefined;
  /** Methods that may be retried. Default the idempotent ones (GET, HEAD, OPTIONS, TRACE, PUT, DELETE). */
  readonly methods?: readonly string[] | undefined;
}

/**
 * Circuit breaker settings: one breaker per instance, as in the gateway, so one failing instance is passed over
 * while the others keep serving; a call fails fast with `BrokenCircuitError` only when every instance's breaker
 * is open. `false` turns them off.
 */
export interface ClientBreakerOptions {
  /** Default 0.5. */
  readonly failureRate?: number | undefined;
  /** Default 20. */
  readonly minRequests?: number | undefined;
  /** Default 10000. */
  readonly windowMs?: number | undefined;
  /** Default 5000. */
  readonly openForMs?: number | undefined;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The registry (Portico's admin listener). Default: `$PORTICO_REGISTRY_URL` or `http://127.0.0.1:8081`. */
  readonly registry?: RegistryOptions | undefined;
  /** Load-balancing strategy, as in the gateway's `services.NAME.loadBalancer`. Default `least-request`. */
  readonly loadBalancer?: LoadBalancerName | undefined;
  /** Per-try timeout in ms; 0 for none. Default 10000. */
  readonly timeoutMs?: number | undefined;
  /** Overall deadline of a call, retries included, in ms; 0 for none. Default 30000. */
  readonly deadlineMs?: number | undefined;
  readonly retry?: ClientRetryOptions | false | undefined;
  readonly breaker?: ClientBreakerOptions | false | undefined;
  /** Largest number of concurrent calls per service; more are refused at once. Default unlimited. */
  readonly maxConcurrent?: number | undefined;
  /** Headers sent with every call (e.g. an API key). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Randomness for balancing and jitter; injected by tests. */
  readonly random?: RandomSource | undefined;
}

/** One call. `path` may carry a query string; `query` entries are appended. */
export interface CallOptions {
  readonly method?: string | undefined;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean>> | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Sent as JSON (objects, arrays, numbers…); a string or Buffer is sent as is. */
  readonly body?: unknown;
  /** Overrides the client's per-try timeout. */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Calls to one service within a version range, spread over its passing instances. */
export interface ServiceClient {
  readonly service: string;
  readonly range: string;
  /** The instances calls can go to now (passing, version in range). */
  instances(): readonly RegistryInstance[];
  /** Resolves once the registry's first snapshot of the service arrived. */
  ready(): Promise<void>;
  /** Makes a call; resolves with the JSON body of a 2xx answer, rejects with `ServiceCallError` otherwise. */
  request<T = unknown>(options: CallOptions): Promise<T>;
  get<T = unknown>(path: string, options?: Omit<CallOptions, 'path' | 'method' | 'body'>): Promise<T>;
  post<T = unknown>(
    path: string,
    body?: unknown,
    options?: Omit<CallOptions, 'path' | 'method' | 'body'>,
  ): Promise<T>;
  put<T = unknown>(
    path: string,
    body?: unknown,
    options?: Omit<CallOptions, 'path' | 'method' | 'body'>,
  ): Promise<T>;
  delete<T = unknown>(path: string, options?: Omit<CallOptions, 'path' | 'method' | 'body'>): Promise<T>;
}

/** Discovers services in the registry and calls them. */
export interface PorticoClient {
  /**
   * Calls to `name` within the semver `range` (default any version). The same name and range return the same
   * object; the first use opens the service's watch stream.
   */
  service(name: string, range?: string): ServiceClient;
  /** Closes watch streams and connections. */
  close(): Promise<void>;
}

interface Target {
  readonly id: string;
  weight: number;
  inflight: number;
  origin: string;
  instance: RegistryInstance;
  /** This instance's breaker; undefined when breakers are off. */
  readonly breaker: CircuitBreaker | undefined;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/**
 * A client that finds services through Portico's registry and calls them directly: instances come from a
 * watch stream kept in memory (no registry round trip per call), calls are spread by the gateway's balancers
 * and wrapped in the gateway's retry policy, circuit breaker, timeouts and bulkhead. Inside a handler served
 * by `createService`, every call carries the incoming request's trace context.
 *
 * @example
 * import { createClient } from 'portico/sdk';
 *
 * const client = createClient({ registry: 'http://127.0.0.1:8081' });
 * const orders = client.service('orders', '^3');
 * const order = await orders.get<{ id: string; total: number }>('/orders/42');
 * await orders.post('/orders', { item: 'book', quantity: 1 });
 */
export function createClient(options: ClientOptions = {}): PorticoClient {
  const connection = new RegistryConnection(options.registry);
  const agent = new Agent({ connections: 64, keepAliveTimeout: 4_000 });
  const watches = new Map<string, ServiceWatch>();
  const services = new Map<string, ServiceClient>();

  const watchOf = (name: string): ServiceWatch => {
    let watch = watches.get(name);
    if (watch === undefined) {
      watch = new ServiceWatch(connection, name);
      watches.set(name, watch);
    }
    return watch;
  };

  return {
    service(name, range = '*') {
      const key = `${name}\n${range}`;
      let client = services.get(key);
      if (client === undefined) {
        if (semver.validRange(range) === null) throw new TypeError(`"${range}" is not a semver range`);
        client = createServiceClient(name, range, watchOf(name), agent, options);
        services.set(key, client);
      }
      return client;
    },
    async close() {
      for (const watch of watches.values()) watch.close();
      await Promise.all([agent.close(), connection.close()]);
    },
  };
}

function createServiceClient(
  service: string,
  range: string,
  watch: ServiceWatch,
  agent: Agent,
  options: ClientOptions,
): ServiceClient {
  const balancer: Balancer<Target> = createBalancer<Target>(options.loadBalancer ?? 'least-request', {
    random: options.random,
  });
  const targets = new Map<string, Target>();
  let current: readonly Target[] = [];
  const breakerOptions =
    options.breaker === false
      ? undefined
      : {
          failureRate: options.breaker?.failureRate ?? 0.5,
          minRequests: options.breaker?.minRequests ?? 20,
          windowMs: options.breaker?.windowMs ?? 10_000,
          openForMs: options.breaker?.openForMs ?? 5_000,
        };

  // Target objects outlive instance updates so that in-flight counts stay right for least-request.
  const rebuild = (): void => {
    const next: Target[] = [];
    const seen = new Set<string>();
    for (const instance of watch.instances()) {
      // The client speaks HTTP; a gRPC server registered under the same name is for gRPC callers.
      if (instance.status !== 'passing' || instance.protocol === 'grpc') continue;
      if (!semver.satisfies(instance.version, range, { includePrerelease: true })) continue;
      seen.add(instance.id);
      let target = targets.get(instance.id);
      if (target === undefined) {
        const breaker = breakerOptions === undefined ? undefined : new CircuitBreaker(breakerOptions);
        target = { id: instance.id, weight: 1, inflight: 0, origin: '', instance, breaker };
        targets.set(instance.id, target);
      }
      target.instance = instance;
      target.origin = instance.url.replace(/\/+$/, '');
      target.weight = Number(instance.metadata.weight) > 0 ? Number(instance.metadata.weight) : 1;
      next.push(target);
    }
    for (const id of targets.keys()) if (!seen.has(id)) targets.delete(id);
    current = next;
    balancer.setTargets(next);
  };
  watch.onChange(rebuild);
  if (watch.isReady) rebuild();

  const policies: CallPolicies = {
    retry:
      options.retry === false
        ? undefined
        : new RetryPolicy({
            attempts: options.retry?.attempts ?? 2,
            onConnectFailure: true,
            onTimeout: options.retry?.onTimeout ?? false,
            statuses: options.retry?.statuses ?? [502, 503, 504],
            methods: options.retry?.methods,
            random: options.random,
          }),
    bulkhead:
      options.maxConcurrent === undefined
        ? undefined
        : new Bulkhead({ maxConcurrent: options.maxConcurrent }),
    tryTimeoutMs: options.timeoutMs ?? 10_000,
    deadlineMs: options.deadlineMs ?? 30_000,
  };

  async function waitForSnapshot(timeoutMs: number): Promise<void> {
    if (watch.isReady) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new NoInstanceError(service, range, 'the registry has not answered')),
        timeoutMs,
      );
    });
    try {
      await Promise.race([watch.ready, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The balancer's choice among instances whose breaker lets a try through (taking a half-open probe slot);
   * a retry passes over the instance of the try before when another exists.
   */
  function pickTarget(avoid: Target | undefined): Target {
    let skip = avoid;
    let refused = false;
    for (let i = 0; i <= current.length; i++) {
      const target = balancer.pick(undefined, skip);
      if (target === undefined) break;
      skip = target;
      if (target.breaker === undefined || target.breaker.tryAcquire()) return target;
      refused = true;
    }
    if (refused) throw new BrokenCircuitError();
    throw new NoInstanceError(service, range);
  }

  async function call<T>(callOptions: CallOptions): Promise<T> {
    const method = (callOptions.method ?? 'GET').toUpperCase();
    await waitForSnapshot(callOptions.timeoutMs ?? options.timeoutMs ?? 10_000);
    const path = withQuery(callOptions.path, callOptions.query);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...options.headers,
      ...callOptions.headers,
    };
    const context = currentTraceContext();
    if (context?.traceState !== undefined) headers.tracestate = context.traceState;
    let body: string | Buffer | undefined;
    if (callOptions.body !== undefined) {
      if (typeof callOptions.body === 'string' || Buffer.isBuffer(callOptions.body)) body = callOptions.body;
      else {
        body = JSON.stringify(callOptions.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const scoped: CallPolicies =
      callOptions.timeoutMs === undefined ? policies : { ...policies, tryTimeoutMs: callOptions.timeoutMs };
    let previous: Target | undefined;

    const answer = await callWithPolicies<Answer>(scoped, method, async (_tryIndex, timeoutMs) => {
      const target = pickTarget(previous);
      previous = target;
      // Each try is its own span of the same trace.
      headers.traceparent = outgoingTraceparent(context);
      target.inflight++;
      try {
        return await throughBreaker(target.breaker, () =>
          sendOnce(agent, target.origin + path, method, headers, body, timeoutMs, callOptions.signal),
        );
      } finally {
        target.inflight--;
      }
    });
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw new ServiceCallError(service, answer.status, answer.body, answer.headers);
  }

  const client: ServiceClient = {
    service,
    range,
    instances: () => current.map((t) => t.instance),
    ready: () => watch.ready,
    request: call,
    get: (path, o) => call({ ...o, path, method: 'GET' }),
    post: (path, body, o) => call({ ...o, path, body, method: 'POST' }),
    put: (path, body, o) => call({ ...o, path, body, method: 'PUT' }),
    delete: (path, o) => call({ ...o, path, method: 'DELETE' }),
  };
  return client;
}

async function sendOnce(
  agent: Agent,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<TryOutcome<Answer>> {
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  const signals = [timeout, signal].filter((s): s is AbortSignal => s !== undefined);
  try {
    const res = await request(url, {
      method: method as 'GET',
      headers,
      body,
      dispatcher: agent,
      signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
    });
    const text = await res.body.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return {
      ok: true,
      status: res.statusCode,
      value: { status: res.statusCode, headers: res.headers, body: parsed },
    };
  } catch (err) {
    if (signal?.aborted === true) throw err;
    return classify(err as Error & { code?: string }, timeout?.aborted === true);
  }
}

function classify(error: Error & { code?: string }, timedOut: boolean): TryOutcome<Answer> {
  const failure = timedOut ? timedOutFailure : classifyError(error);
  if (failure.failure === 'timeout') error = new CallTimeoutError('the call timed out', { cause: error });
  return { ok: false, failure, error };
}

function withQuery(path: string, query: CallOptions['query']): string {
  const normalised = path.startsWith('/') ? path : `/${path}`;
  if (query === undefined) return normalised;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) params.append(name, String(value));
  const text = params.toString();
  if (text === '') return normalised;
  return `${normalised}${normalised.includes('?') ? '&' : '?'}${text}`;
}

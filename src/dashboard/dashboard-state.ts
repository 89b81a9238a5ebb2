import type { RouteConfig, ServiceConfig } from '../config/schema.ts';
import type { BreakerState } from '../resilience/circuit-breaker.ts';
import type { Runtime } from '../gateway/runtime/compile-runtime.ts';

/** The gateway's own view of one instance: what balancing sees right now. */
export interface InstanceState {
  readonly id: string;
  readonly url: string;
  readonly version: string | null;
  readonly source: 'static' | 'registry';
  /** Active and passive health checks. */
  readonly healthy: boolean;
  readonly status: string;
  /** Takes new requests (healthy and passing). */
  readonly available: boolean;
  readonly inflight: number;
  /** State of the instance's circuit breaker, null when it has none (yet). */
  readonly breaker: BreakerState | null;
}

export interface ServiceState {
  readonly name: string;
  readonly loadBalancer: string;
  readonly panic: boolean;
  readonly available: number;
  readonly total: number;
  readonly breaker: BreakerState | null;
  readonly bulkhead: {
    readonly active: number;
    readonly queued: number;
    readonly maxConcurrent: number;
  } | null;
  /** Short descriptions of the configured policies, e.g. `retries: 2 on connect-failure, 503`. */
  readonly policies: readonly string[];
  readonly instances: readonly InstanceState[];
}

export interface RouteState {
  readonly name: string;
  readonly methods: readonly string[] | null;
  readonly path: string;
  readonly host: string | null;
  readonly service: string;
  readonly aggregate: boolean;
  readonly policies: readonly string[];
}

/** What `GET /v1/dashboard/state` answers. */
export interface DashboardState {
  readonly routes: readonly RouteState[];
  readonly services: readonly ServiceState[];
}

/**
 * The runtime table as the dashboard shows it: health, availability, breakers and policies. Registered instances'
 * leases and metadata come from the registry's watch stream instead, which the page follows live.
 */
export function describeRuntime(runtime: Runtime): DashboardState {
  const routes = describeRoutes(runtime);
  const services: ServiceState[] = [];
  for (const service of runtime.services.values()) {
    const resilience = service.resilience?.snapshot();
    const instances = service.instances.all.map((instance): InstanceState => ({
      id: instance.id,
      url: instance.origin,
      version: instance.version ?? null,
      source: instance.source,
      healthy: instance.healthy,
      status: instance.status,
      available: instance.available,
      inflight: instance.inflight,
      breaker: resilience?.instances[instance.id]?.state ?? null,
    }));
    services.push({
      name: service.name,
      loadBalancer: service.config.loadBalancer,
      panic: service.instances.panic,
      available: service.instances.available.length,
      total: service.instances.size,
      breaker: resilience?.breaker?.state ?? null,
      bulkhead: resilience?.bulkhead ?? null,
      policies: servicePolicies(service.config),
      instances,
    });
  }
  return { routes, services };
}

/** Route rows depend on the compiled config alone, which a runtime never changes: built once per runtime. */
const routeStates = new WeakMap<Runtime, readonly RouteState[]>();

function describeRoutes(runtime: Runtime): readonly RouteState[] {
  let routes = routeStates.get(runtime);
  if (routes !== undefined) return routes;
  const aggregates = new Set((runtime.config.aggregates ?? []).map((aggregate) => aggregate.name));
  routes = runtime.routes.map((route): RouteState => {
    const aggregate = aggregates.has(route.name);
    return {
      name: route.name,
      methods: route.config.match.methods ?? null,
      path: route.config.match.path,
      host: route.config.match.host ?? null,
      service: route.service.name,
      aggregate,
      policies: aggregate
        ? aggregatePolicies(runtime, route.name, route.config)
        : routePolicies(route.config, runtime.config.cors !== undefined),
    };
  });
  routeStates.set(runtime, routes);
  return routes;
}

function routePolicies(config: RouteConfig, cors: boolean): string[] {
  const policies: string[] = [];
  if (config.auth !== undefined) policies.push(`auth: ${config.auth.join(' or ')}`);
  if (config.scopes !== undefined) {
    const scopes = Array.isArray(config.scopes)
      ? config.scopes.join(' ')
      : Object.entries(config.scopes)
          .map(([method, list]) => `${method} ${list.join(' ')}`)
          .join('; ');
    policies.push(`scopes: ${scopes}`);
  }
  if (config.rateLimit !== undefined) {
    const limits = Array.isArray(config.rateLimit) ? config.rateLimit : [config.rateLimit];
    for (const limit of limits) {
      policies.push(
        typeof limit === 'string'
          ? `rate limit: ${limit}`
          : `rate limit: ${limit.limit} per ${limit.window} by ${limit.by}`,
      );
    }
  }
  if (cors) policies.push('cors');
  if (config.version !== undefined) {
    const fallback = config.version.default === undefined ? '' : `, default ${config.version.default}`;
    policies.push(`version from ${config.version.from.join(', ')}${fallback}`);
    if (config.version.pin) policies.push('consumers pinned to their first version');
  }
  if (config.split !== undefined) {
    const weights = Object.entries(config.split).map(([major, weight]) => `v${major} ${weight}%`);
    policies.push(`split: ${weights.join(', ')}`);
  }
  if (config.validate === 'request') policies.push('validates requests');
  if (config.timeout !== undefined) policies.push(`deadline ${config.timeout}`);
  if (config.stripPrefix !== undefined) policies.push(`strip ${config.stripPrefix}`);
  if (config.rewrite !== undefined) policies.push(`rewrite to ${config.rewrite}`);
  if (config.fallback !== undefined) policies.push(`fallback ${config.fallback.status}`);
  if (config.preserveHost) policies.push('preserve host');
  if (config.ipRules !== undefined) policies.push('ip rules');
  if (config.transform !== undefined) policies.push('transform');
  if (config.cache !== undefined)
    policies.push(`cache${config.cache.ttl === undefined ? '' : ` ${config.cache.ttl}`}`);
  if (config.compress !== undefined) policies.push('compression');
  if (config.mirror !== undefined) policies.push(`mirror to ${config.mirror.service}`);
  for (const plugin of Object.keys(config.plugins ?? {})) policies.push(`plugin ${plugin}`);
  return policies;
}

function aggregatePolicies(runtime: Runtime, name: string, config: RouteConfig): string[] {
  const aggregate = runtime.config.aggregates?.find((candidate) => candidate.name === name);
  const policies = config.auth === undefined ? [] : [`auth: ${config.auth.join(' or ')}`];
  for (const [call, spec] of Object.entries(aggregate?.calls ?? {})) {
    const after = spec.after === undefined ? '' : ` after ${spec.after}`;
    policies.push(`call ${call}: ${spec.service}${spec.optional === true ? ' (optional)' : ''}${after}`);
  }
  return policies;
}

function servicePolicies(config: ServiceConfig): string[] {
  const policies = [`balancing: ${config.loadBalancer}`];
  const check = config.healthCheck;
  if (check !== undefined) policies.push(`health check: ${check.path} every ${check.interval}`);
  if (config.outlierDetection.enabled)
    policies.push(`ejection after ${config.outlierDetection.consecutiveFailures} failures`);
  if (config.panicThreshold > 0) policies.push(`panic below ${Math.round(config.panicThreshold * 100)}%`);
  if (config.timeouts !== undefined) policies.push(`timeouts: request ${config.timeouts.request}`);
  const retries = config.retries;
  if (retries !== undefined && retries.attempts > 0)
    policies.push(`retries: ${retries.attempts} on ${retries.on.join(', ')}`);
  const breaker = config.circuitBreaker;
  if (breaker !== undefined) {
    policies.push(
      `circuit breaker: ${Math.round(breaker.failureRate * 100)}% of ≥${breaker.minRequests} over ${breaker.window}, open ${breaker.openFor}`,
    );
  }
  if (config.bulkhead !== undefined)
    policies.push(`bulkhead: ${config.bulkhead.maxConcurrent} (+${config.bulkhead.queue} queued)`);
  return policies;
}

import type { AggregateConfig, Config, RouteConfig, ServiceConfig } from '../../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import type { RouteStatsTable } from '../../observability/route-stats.ts';
import { createAddressMatcher, type AddressMatcher } from '../net/address-matcher.ts';
import {
  composeStages,
  phases,
  sortByPhase,
  type Phase,
  type Stage,
  type StageCompileContext,
} from '../pipeline/stage.ts';
import type { NodeState, TableState } from './node-state.ts';
import { createPluginStages } from '../plugins/plugin-stages.ts';
import { stageFactories } from '../stages/index.ts';
import { VERSION_PARAM } from '../../versions/requested-version.ts';
import { createRouter, type Router } from '../router/router.ts';
import { createAggregateHandler } from '../services/aggregate.ts';
import { createFallbackAnswer } from '../services/fallback.ts';
import { createProxyHandler, type ProxyObserver } from '../services/proxy.ts';
import type { BreakerListener } from '../services/service-resilience.ts';
import { createBalancer } from '../../balancing/index.ts';
import { createHealthChecker, type HealthChecker } from '../upstream/health-checker.ts';
import { Instance, type PoolOptions } from '../upstream/instance.ts';
import { loadUpstreamTls } from '../upstream/upstream-tls.ts';
import { InstanceSet } from '../upstream/instance-set.ts';
import type { CompiledRoute } from './compiled-route.ts';
import type { HashKeySource, ServiceRuntime } from './service-runtime.ts';
import { createWebSocketRelay } from '../services/websocket.ts';

/**
 * The immutable table a request reads: routes, services, limits. Reload compiles a new one and swaps a
 * single reference; requests in flight keep the table they started with.
 */
export interface Runtime {
  readonly config: Config;
  readonly router: Router<CompiledRoute>;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  readonly routes: readonly CompiledRoute[];
  readonly trustedProxies: AddressMatcher;
  readonly bodyLimitBytes: number;
  readonly headerCountLimit: number;
  readonly healthCheckers: readonly HealthChecker[];
  /** The parts of the node state this table claimed; `NodeState.commit` hands them over at the swap. */
  readonly state: TableState;
}

export interface CompileDependencies {
  readonly stats: RouteStatsTable;
  readonly observer: ProxyObserver;
  /** The table being replaced: its instances (pools, health, registered ones) are carried over. */
  readonly previous?: Runtime | undefined;
  readonly onHealthTransition?: (instance: Instance, healthy: boolean) => void;
  /** Registered instances of a service (from the registry), added to its static ones. */
  readonly registered?: ((service: string) => readonly Instance[]) | undefined;
  /** What outlives a table (see StageCompileContext.state); compiling only reads it. */
  readonly state: NodeState;
  /** Told when a circuit breaker changes state (logs). */
  readonly onBreakerTransition?: BreakerListener | undefined;
  /** Folder relative file paths of the config (service `tls` files) are read from; the working folder when absent. */
  readonly baseDir?: string | undefined;
}

const orderedFactories = sortByPhase(stageFactories);

const keepAliveTimeoutMs = 4_000;

export function compileRuntime(config: Config, deps: CompileDependencies): Runtime {
  const services = new Map<string, ServiceRuntime>();
  const state = deps.state.prepare();
  for (const [name, serviceConfig] of Object.entries(config.services)) {
    const service = compileService(
      name,
      serviceConfig,
      deps.previous?.services.get(name),
      deps.registered?.(name) ?? [],
      deps.baseDir ?? process.cwd(),
    );
    // Breaker states, bulkhead slots and retry budgets outlive a reload that keeps their config.
    const resilience = state.resilience(name, serviceConfig, {
      onBreakerTransition: deps.onBreakerTransition,
    });
    services.set(name, { ...service, resilience });
  }
  const bodyLimitBytes = parseSizeBytes(config.limits.bodySize);
  const observer = deps.observer;
  const stageContext: StageCompileContext = { config, state, services };
  const routes = config.routes.map((route) =>
    compileRoute(route, services, deps, bodyLimitBytes, observer, stageContext),
  );
  for (const aggregate of config.aggregates ?? []) {
    routes.push(compileAggregate(aggregate, services, deps, observer, stageContext));
  }
  const router = createRouter(
    routes.flatMap((route) => [
      { name: route.name, match: route.config.match, value: route },
      ...versionPrefixEntries(route),
    ]),
  );
  const healthCheckers: HealthChecker[] = [];
  for (const service of services.values()) {
    const check = service.config.healthCheck;
    if (check === undefined) continue;
    healthCheckers.push(
      createHealthChecker({
        instances: service.instances,
        tls: service.tls,
        check: {
          path: check.path,
          intervalMs: parseDurationMs(check.interval),
          timeoutMs: parseDurationMs(check.timeout),
          unhealthyThreshold: check.unhealthyThreshold,
          healthyThreshold: check.healthyThreshold,
          expectStatus: check.expectStatus,
          grpcService: check.grpcService,
        },
        ...(deps.onHealthTransition === undefined ? {} : { onTransition: deps.onHealthTransition }),
      }),
    );
  }
  return {
    config,
    router,
    services,
    routes,
    trustedProxies: createAddressMatcher(config.trustedProxies),
    bodyLimitBytes,
    headerCountLimit: config.limits.headerCount,
    healthCheckers,
    state,
  };
}

/** Instances of the old table that the new one no longer uses: close them once their requests end. */
export function retiredInstances(previous: Runtime, next: Runtime): Instance[] {
  const kept = new Set<Instance>();
  for (const service of next.services.values())
    for (const instance of service.instances.all) kept.add(instance);
  const retired: Instance[] = [];
  for (const service of previous.services.values()) {
    for (const instance of service.instances.all) if (!kept.has(instance)) retired.push(instance);
  }
  return retired;
}

function compileService(
  name: string,
  config: ServiceConfig,
  previous: ServiceRuntime | undefined,
  registered: readonly Instance[],
  baseDir: string,
): Omit<ServiceRuntime, 'resilience'> {
  const connectTimeoutMs = parseDurationMs(config.timeouts?.connect ?? '2s');
  const requestTimeoutMs = parseDurationMs(config.timeouts?.request ?? '30s');
  const idle = config.timeouts?.idle;
  const idleTimeoutMs = idle === undefined ? requestTimeoutMs : parseDurationMs(idle);
  const tls = loadUpstreamTls(config.tls, baseDir);
  const protocol = config.protocol ?? 'http1';
  const poolOptions: PoolOptions = { connectTimeoutMs, keepAliveTimeoutMs, tls, protocol };
  const sameTls = JSON.stringify(previous?.tls) === JSON.stringify(tls);
  const instances: Instance[] = [];
  for (const spec of config.instances) {
    const id = spec.id ?? instanceIdFromUrl(spec.url);
    const old = previous?.instances.get(id);
    // Reusing an unchanged instance keeps its warm connections and its health state across a reload.
    if (
      old !== undefined &&
      old.source === 'static' &&
      old.url.href === new URL(spec.url).href &&
      old.weight === spec.weight &&
      old.version === spec.version &&
      previous?.connectTimeoutMs === connectTimeoutMs &&
      old.protocol === protocol &&
      sameTls
    ) {
      instances.push(old);
    } else {
      instances.push(
        new Instance(
          { id, service: name, url: spec.url, version: spec.version, weight: spec.weight, source: 'static' },
          poolOptions,
        ),
      );
    }
  }
  // Registered instances belong to the registry, not to the file: a reload keeps them.
  const staticIds = new Set(instances.map((instance) => instance.id));
  for (const instance of registered) if (!staticIds.has(instance.id)) instances.push(instance);
  const set = new InstanceSet({
    service: name,
    balancer: createBalancer<Instance>(config.loadBalancer),
    instances,
  });
  set.setPanicThreshold(config.panicThreshold);
  return {
    name,
    config,
    instances: set,
    hashKey: hashKeySource(config),
    connectTimeoutMs,
    tls,
    requestTimeoutMs,
    idleTimeoutMs,
  };
}

function compileRoute(
  config: RouteConfig,
  services: ReadonlyMap<string, ServiceRuntime>,
  deps: CompileDependencies,
  bodyLimitBytes: number,
  observer: ProxyObserver,
  stageContext: StageCompileContext,
): CompiledRoute {
  const service = services.get(config.service);
  if (service === undefined)
    throw new Error(`route "${config.name}" names unknown service "${config.service}"`);
  const deadlineMs = config.timeout === undefined ? 0 : parseDurationMs(config.timeout);
  const terminal = createProxyHandler(service, {
    bodyLimitBytes,
    observer,
    deadlineMs,
    fallback: createFallbackAnswer(config.fallback),
  });
  const stages = createStages(config, stageContext);
  return {
    name: config.name,
    config,
    service,
    handler: composeStages(stages, terminal),
    upgradeHandler: config.websocket
      ? composeStages(stages, createWebSocketRelay(service, observer))
      : undefined,
    upstreamPath: createUpstreamPath(config),
    preserveHost: config.preserveHost,
    websocket: config.websocket,
    deadlineMs,
    stats: deps.stats.for(config.name),
  };
}

/**
 * An aggregate is a route whose terminal service runs its calls; it gets the same stages (authentication
 * and the rest) as a route with the same settings.
 */
function compileAggregate(
  aggregate: AggregateConfig,
  services: ReadonlyMap<string, ServiceRuntime>,
  deps: CompileDependencies,
  observer: ProxyObserver,
  stageContext: StageCompileContext,
): CompiledRoute {
  const first = Object.values(aggregate.calls)[0];
  const service = first === undefined ? undefined : services.get(first.service);
  if (service === undefined) throw new Error(`aggregate "${aggregate.name}" has no call to a known service`);
  const config: RouteConfig = {
    name: aggregate.name,
    match: aggregate.match,
    service: service.name,
    preserveHost: false,
    websocket: false,
    ...(aggregate.auth === undefined ? {} : { auth: aggregate.auth }),
  };
  return {
    name: aggregate.name,
    config,
    service,
    handler: composeStages(
      createStages(config, stageContext),
      createAggregateHandler(aggregate, services, observer),
    ),
    upgradeHandler: undefined,
    upstreamPath: (path) => path,
    preserveHost: false,
    websocket: false,
    deadlineMs: 0,
    stats: deps.stats.for(aggregate.name),
  };
}

function createStages(route: RouteConfig, context: StageCompileContext): Stage[] {
  const stages: Stage[] = [];
  const stagePhases: Phase[] = [];
  for (const factory of orderedFactories) {
    const stage = factory.create(route, context);
    if (stage === undefined) continue;
    stages.push(stage);
    stagePhases.push(factory.phase);
  }
  // A plugin runs after the built-in stages of its phase, in the order the route lists plugins.
  for (const plugin of createPluginStages(route, context.config)) {
    let at = stages.length;
    while (at > 0 && phases.indexOf(stagePhases[at - 1] as Phase) > phases.indexOf(plugin.phase)) at--;
    stages.splice(at, 0, plugin.stage);
    stagePhases.splice(at, 0, plugin.phase);
  }
  return stages;
}

function hashKeySource(config: ServiceConfig): HashKeySource {
  if (config.loadBalancer !== 'consistent-hash') return { kind: 'none' };
  const on = config.hashOn ?? 'ip';
  if (on === 'ip') return { kind: 'ip' };
  if (on.startsWith('header:')) return { kind: 'header', name: on.slice(7).toLowerCase() };
  return { kind: 'cookie', name: on.slice(7) };
}

/**
 * A route that reads the version from the path also answers `/{version}/<its pattern>`; the prefix is a route
 * parameter the version stage checks (`v2`, `v2.1`) and is stripped before the upstream path is built.
 */
function versionPrefixEntries(route: CompiledRoute) {
  if (route.config.version?.from.includes('path') !== true) return [];
  const inner = route.upstreamPath;
  const variant: CompiledRoute = {
    ...route,
    upstreamPath: function stripVersionPrefix(path, params) {
      const slash = path.indexOf('/', 1);
      return inner(slash < 0 ? '/' : path.slice(slash), params);
    },
  };
  const pattern = route.config.match.path === '/' ? '' : route.config.match.path;
  return [
    {
      name: `${route.name}#version-prefix`,
      match: { ...route.config.match, path: `/{${VERSION_PARAM}}${pattern}` },
      value: variant,
    },
  ];
}

/** `host:port` of the URL: a stable id for a static instance without one. */
export function instanceIdFromUrl(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? '443' : '80') : parsed.port;
  return `${parsed.hostname}:${port}`;
}

/**
 * `rewrite` replaces the path (with `{name}` and `{**}` filled from the match); `stripPrefix` removes a
 * leading prefix at a segment boundary. Both act on the normalised path, so the upstream sees the same
 * path the route matched.
 */
function createUpstreamPath(config: RouteConfig): CompiledRoute['upstreamPath'] {
  const rewrite = config.rewrite;
  if (rewrite !== undefined) {
    const parts = rewrite.split(/(\{[A-Za-z_*][A-Za-z0-9_*]*\})/);
    if (parts.length === 1) return () => rewrite;
    return function rewritePath(_path, params) {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i] as string;
        out += i % 2 === 1 ? encodeParam(params[part.slice(1, -1)] ?? '') : part;
      }
      return out;
    };
  }
  const prefix = config.stripPrefix?.replace(/\/+$/, '');
  if (prefix === undefined || prefix === '') return (path) => path;
  return function stripPrefix(path) {
    if (!path.startsWith(prefix)) return path;
    const rest = path.slice(prefix.length);
    if (rest === '') return '/';
    return rest.startsWith('/') ? rest : path;
  };
}

/** Params came from a normalised path: keep their slashes (from `**`) but nothing that breaks the path. */
function encodeParam(value: string): string {
  return value.replace(/[?#\s]/g, encodeURIComponent);
}

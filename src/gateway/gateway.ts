import type { FSWatcher } from 'node:fs';
import { watchConfigFile } from '../config/watch-config-file.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Gauge } from 'prom-client';
import { accessTableOf } from '../admin/access.ts';
import { createAdminServer } from '../admin/admin-server.ts';
import { createStatusServer } from '../admin/status-server.ts';
import type { ClusterMember } from '../cluster/cluster-member.ts';
import type { AdminRoute } from '../admin/admin-route.ts';
import { createCoreAdminRoutes } from '../admin/core-routes.ts';
import { ConfigError, type ReloadResult } from '../config/config-error.ts';
import { createDashboardRoutes } from '../dashboard/dashboard-routes.ts';
import { loadConfig } from '../config/load.ts';
import { createRegistrationGate } from '../contracts/registration-gate.ts';
import {
  createVersionAdminRoutes,
  registerVersionMetrics,
  reportPinnedDeprecations,
} from '../versions/admin-routes.ts';
import { VersionTracking } from '../versions/version-tracking.ts';
import { createCacheAdminRoutes, registerCacheMetrics } from '../policies/cache/cache-admin.ts';
import { registerMirrorMetrics } from '../policies/mirror-stats.ts';
import { createCatalogRoutes } from '../versions/catalog-routes.ts';
import { CONTRACT_BOOK_KEY, ContractBook } from '../versions/contract-book.ts';
import { responseReports } from '../versions/response-reports.ts';
import { createResilienceAdminRoutes, registerResilienceMetrics } from './services/resilience-admin.ts';
import { pruneResilience } from './services/service-resilience.ts';
import type { Config } from '../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../config/units.ts';
import { createRefusals } from '../observability/access-log.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { GatewayMetrics } from '../observability/metrics.ts';
import { createOtlpTracer } from '../observability/otlp-tracer.ts';
import { RouteStatsTable } from '../observability/route-stats.ts';
import { createAddressPolicy, createGuardedLookup } from '../registry/address-policy.ts';
import { createRegistry, type Registry } from '../registry/registry.ts';
import { createRegistryRoutes } from '../registry/http-api.ts';
import { createEmbeddedStore } from '../store/embedded-store.ts';
import { rateLimitStoreEvents } from '../security/rate-limit-store-events.ts';
import { redisTargetOf } from '../store/redis-connection.ts';
import { createRedisStore } from '../store/redis-store.ts';
import type { RegistryStore } from '../store/registry-store.ts';
import { compileRuntime, retiredInstances, type Runtime } from './runtime/compile-runtime.ts';
import { RegisteredInstances } from './upstream/registered-instances.ts';
import { createRegisteredHealthChecks } from './upstream/registered-health.ts';
import { createOutlierDetector, outlierSettingsOf } from './upstream/outlier-detector.ts';
import type { InstanceChange } from './upstream/instance-set.ts';
import type { ProxyObserver } from './services/proxy.ts';
import { createGatewayServer, type GatewayServer } from './server.ts';
import {
  createCertificateRoutes,
  createEdgeListeners,
  startAcme,
  watchCertificates,
} from './tls/edge-listeners.ts';

export interface GatewayOptions {
  readonly configFile: string;
  readonly env?: Record<string, string | undefined>;
  /** Reload when the file changes (default true). */
  readonly watchConfig?: boolean;
  /** The config, when the caller already loaded `configFile` (start-up reads and validates it once). */
  readonly config?: Config | undefined;
  readonly logger?: Logger;
  /** Set when this process is one worker of a `workers: N` node (see src/cluster/). */
  readonly cluster?: ClusterMember;
}

/**
 * A running Portico node: the gateway listener, the admin listener and the runtime table they share.
 *
 * @example
 * const gateway = await startGateway({ configFile: 'portico.yaml' });
 * console.log(gateway.address);
 * await gateway.shutdown();
 */
export interface Gateway {
  /** The first client listener's address. */
  readonly address: AddressInfo;
  /** Every client listener's address, in config order. */
  readonly addresses: readonly AddressInfo[];
  readonly adminAddress: AddressInfo;
  /** Set when `status.listen` is configured. */
  readonly statusAddress: AddressInfo | undefined;
  readonly logger: Logger;
  readonly registry: Registry;
  runtime(): Runtime;
  /** Validates the file in full, then swaps the runtime; an invalid file keeps the running config. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, lets in-flight requests finish (bounded), closes pools. */
  shutdown(): Promise<void>;
  /** Mounts more admin endpoints (registry, …). */
  addAdminRoutes(routes: readonly AdminRoute[]): void;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const config = options.config ?? (await loadConfig(options.configFile, env));
  const logger = options.logger ?? createLogger(config.logging.level);
  const stats = new RouteStatsTable();
  let current: Runtime | undefined;
  const metrics = new GatewayMetrics(stats, () => current);
  // Passive health: node-local ejection of instances that fail real traffic (see docs/registry.md).
  const outliers = createOutlierDetector({
    target(name) {
      const service = current?.services.get(name);
      const settings = service?.config.outlierDetection;
      if (service === undefined || settings === undefined) return undefined;
      return { instances: service.instances, settings: outlierSettingsOf(settings) };
    },
    *targets() {
      for (const service of current?.services.values() ?? []) {
        const settings = service.config.outlierDetection;
        if (settings !== undefined)
          yield { instances: service.instances, settings: outlierSettingsOf(settings) };
      }
    },
    onEject(instance, durationMs, ejections) {
      logger.warn(
        { service: instance.service, instance: instance.id, url: instance.origin, durationMs, ejections },
        'instance ejected after consecutive failures',
      );
    },
    onRestore(instance) {
      logger.info({ service: instance.service, instance: instance.id }, 'ejected instance back in rotation');
    },
  });
  const observer: ProxyObserver = {
    upstreamError(service, instance, kind, err, requestId) {
      metrics.upstreamError(service, kind);
      if (kind !== 'client_abort') outliers.failure(instance);
      if (kind !== 'client_abort' && err !== undefined) {
        const cause = err as Error & { code?: string };
        logger.warn(
          {
            service,
            instance: instance.id,
            kind,
            requestId,
            error: cause.code ?? cause.name,
            reason: cause.message,
          },
          'upstream try failed',
        );
      }
    },
    upstreamResponse(_service, instance, statusCode) {
      if (statusCode >= 500) outliers.failure(instance);
      else outliers.success(instance);
    },
  };
  new Gauge({
    name: 'portico_upstream_panic_mode',
    help: 'Whether a service is in panic mode (1): too few instances available, so traffic goes to all of them.',
    labelNames: ['service'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const service of current?.services.values() ?? []) {
        this.set({ service: service.name }, service.instances.panic ? 1 : 0);
      }
    },
  });
  const onPanicChange = (change: InstanceChange): void => {
    if (change.type !== 'panic') return;
    const { set } = change;
    const fields = { service: set.service, available: set.available.length, total: set.size };
    if (set.panic)
      logger.warn(fields, 'service entered panic mode: balancing across all non-draining instances');
    else logger.warn(fields, 'service left panic mode');
  };
  const onHealthTransition = (
    instance: { service: string; id: string; origin: string },
    healthy: boolean,
  ) => {
    logger.warn(
      { service: instance.service, instance: instance.id, url: instance.origin, healthy },
      'instance health changed',
    );
  };
  // An instance that left its service (deregistered, replaced) takes its outlier state and breaker with it, so
  // registry churn leaves no per-instance state or metric series behind; the pool is closed by its owner.
  const onInstanceRemoved = (change: InstanceChange): void => {
    if (change.type !== 'removed') return;
    outliers.forget(change.instance);
    current?.services.get(change.set.service)?.resilience?.forget(change.instance.id);
  };
  const stageState = new Map<string, unknown>();
  // Before the first compile: the rate-limit stage then draws from the node-wide buckets.
  options.cluster?.seed(stageState);
  const addressPolicy = createAddressPolicy({
    allowLoopback: config.registry.allowLoopback,
    allow: config.registry.allow,
    deny: config.registry.deny,
  });
  const guardedLookup = createGuardedLookup(addressPolicy);
  const registered = new RegisteredInstances(() => current, guardedLookup, logger);
  const compile = (next: Config, previous: Runtime | undefined) => {
    const table = compileRuntime(next, {
      stats,
      observer,
      previous,
      onHealthTransition,
      onBreakerTransition: (service, instance, from, to) =>
        logger.warn({ service, instance, from, to }, 'circuit breaker changed state'),
      stageState,
      versions,
      registered: (service) => registered.forService(service),
      baseDir: dirname(resolve(options.configFile)),
    });
    for (const service of table.services.values()) {
      service.instances.onChange(onPanicChange);
      service.instances.onChange(onInstanceRemoved);
    }
    return table;
  };

  const store = await openStore(config, options.configFile, options.cluster !== undefined);
  // Usage counted in memory per request, added to the store's daily buckets every 2 s; pins read from it.
  const versions = new VersionTracking({
    store: store.versions,
    onError: (err, what) => logger.warn({ err }, what),
  });
  versions.start();
  const registry = createRegistry({
    store,
    addressPolicy,
    leaseGraceMs: parseDurationMs(config.registry.leaseGrace),
    onError: (err) => logger.warn({ err }, 'registry background work failed'),
    contractGate: createRegistrationGate({ logger }),
  });
  await registry.start();
  // Snapshot and subscription in one tick: the registry calls listeners synchronously after its own copy
  // changes, so no change can fall between the two.
  registered.load(registry.snapshot().instances);
  const unsubscribe = registry.subscribe((change) => registered.apply(change));
  const unsubscribeResync = registry.onResync((snapshot) => registered.load(snapshot.instances));
  const registeredHealth = createRegisteredHealthChecks({
    registry,
    lease: store.checkLease,
    lookup: guardedLookup,
    onTransition(instance, status) {
      logger.warn(
        { service: instance.service, instance: instance.id, url: instance.url, status },
        'registered instance health changed',
      );
    },
    onError: (err) => logger.debug({ err }, 'registered health check could not reach the store'),
  });
  registeredHealth.start();
  // Published contracts, compiled for request validation and the catalogue; closed with the stage state.
  const contracts = new ContractBook(registry, logger);
  contracts.start();
  stageState.set(CONTRACT_BOOK_KEY, contracts);
  responseReports(stageState).setLogger(logger);
  rateLimitStoreEvents(stageState).attach(logger, metrics.registry);

  current = compile(config, undefined);
  const warnPinnedDeprecations = (next: Config): void =>
    void reportPinnedDeprecations(next, versions, (fields, message) => logger.warn(fields, message)).catch(
      (err: unknown) => logger.debug({ err }, 'pinned consumers could not be counted'),
    );
  warnPinnedDeprecations(config);
  for (const service of current.services.values()) {
    if (service.tls?.rejectUnauthorized === false)
      logger.warn(
        { service: service.name },
        'service does not verify the certificates of its https instances (tls.rejectUnauthorized: false)',
      );
  }
  for (const checker of current.healthCheckers) checker.start();

  // Undefined unless tracing.otlp is set: the OpenTelemetry packages are then never loaded.
  const tracer = await createOtlpTracer(config.tracing, logger);
  // Certificates load before anything listens: a TLS listener whose files do not load stops start-up.
  const edge = createEdgeListeners(config, dirname(resolve(options.configFile)), logger);
  const gatewayServer: GatewayServer = createGatewayServer({
    listeners: edge.specs,
    runtime: () => current as Runtime,
    logger,
    accessLog: config.logging.accessLog,
    maxHeaderSizeBytes: parseSizeBytes(config.limits.headerSize),
    headersTimeoutMs: parseDurationMs(config.limits.headersTimeout),
    requestTimeoutMs: parseDurationMs(config.limits.requestTimeout),
    keepAliveTimeoutMs: parseDurationMs(config.limits.keepAliveTimeout),
    maxConnections: config.limits.maxConnections,
    maxConnectionsPerClient: config.limits.maxConnectionsPerClient,
    tracer,
    refusals: createRefusals(stats, logger, config.logging.accessLog),
  });

  let reloading: Promise<ReloadResult> | undefined;
  async function reload(): Promise<ReloadResult> {
    // Reloads are serialised: a second trigger during a reload waits for it and then reads the file again.
    while (reloading !== undefined) await reloading;
    reloading = (async (): Promise<ReloadResult> => {
      const previous = current as Runtime;
      let table: Runtime;
      try {
        // Compiling can still refuse what validation let through (a route pattern, a contract): the running
        // table stays in both cases.
        table = compile(await loadConfig(options.configFile, env), previous);
      } catch (err) {
        const error =
          err instanceof ConfigError
            ? err
            : new ConfigError([
                {
                  file: options.configFile,
                  path: '',
                  message: err instanceof Error ? err.message : String(err),
                },
              ]);
        metrics.reloads.inc({ result: 'rejected' });
        logger.error({ issues: error.issues }, 'config reload rejected; the running config stays');
        return { ok: false, error };
      }
      for (const checker of previous.healthCheckers) await checker.stop();
      current = table;
      warnPinnedDeprecations(table.config);
      for (const checker of table.healthCheckers) checker.start();
      // Retired pools close once their in-flight requests finish (undici's close waits for them).
      for (const instance of retiredInstances(previous, table)) {
        outliers.forget(instance);
        void instance.close();
      }
      pruneResilience(stageState, table.services);
      metrics.reloads.inc({ result: 'applied' });
      logger.info({ routes: table.routes.length, services: table.services.size }, 'config reloaded');
      return { ok: true };
    })();
    try {
      return await reloading;
    } finally {
      reloading = undefined;
    }
  }

  const adminRoutes: AdminRoute[] = [];
  let ready = false;
  // Mounted first, so a worker's /metrics answers for the whole node (the first matching route wins).
  if (options.cluster !== undefined) {
    adminRoutes.push(
      ...options.cluster.attach({
        reload,
        metrics: metrics.registry,
        requests: () => countRequests(stats),
      }),
    );
  }
  adminRoutes.push(
    ...createCoreAdminRoutes({
      runtime: () => current as Runtime,
      reload: clusterReload(options.cluster) ?? reload,
      ready: () => ready,
      metrics,
    }),
  );
  adminRoutes.push(...createRegistryRoutes(registry));
  adminRoutes.push(...createVersionAdminRoutes(versions));
  adminRoutes.push(...createCatalogRoutes(() => current as Runtime, contracts));
  adminRoutes.push(...createDashboardRoutes({ runtime: () => current as Runtime, registry, stats }));
  registerVersionMetrics(metrics.registry, stageState, versions);
  adminRoutes.push(...createCacheAdminRoutes(stageState));
  registerCacheMetrics(metrics.registry, stageState);
  registerMirrorMetrics(metrics.registry, stageState);
  adminRoutes.push(...createResilienceAdminRoutes(() => current as Runtime));
  adminRoutes.push(...createCertificateRoutes(edge));
  registerResilienceMetrics(metrics.registry, () => current);
  const adminServer = createAdminServer({
    routes: () => adminRoutes,
    access: () => accessTableOf((current as Runtime).config),
    logger,
  });

  // Read at start only, like the listen addresses.
  const statusServer =
    config.status === undefined
      ? undefined
      : createStatusServer({ routes: () => adminRoutes, token: config.status.token, logger });

  gatewayServer.servers.forEach((server, i) => {
    const certs = edge.certificates[i];
    if (certs !== undefined) certs.attach(server as unknown as { setSecureContext: (o: object) => void });
  });
  watchCertificates(edge, metrics.registry);
  for (const [i, server] of gatewayServer.servers.entries())
    await listen(server, edge.addresses[i] as string);
  await listen(adminServer, config.admin.listen);
  if (statusServer !== undefined && config.status !== undefined)
    await listen(statusServer, config.status.listen);
  // After the plain listeners are up: they answer the HTTP-01 challenges of the orders started here.
  startAcme(edge, metrics.registry);

  const watcher: FSWatcher | undefined =
    (options.watchConfig ?? true)
      ? watchConfigFile(options.configFile, () => void reload(), logger)
      : undefined;

  ready = true;
  let shuttingDown: Promise<void> | undefined;
  logger.info(
    {
      listen: config.listen,
      admin: config.admin.listen,
      status: config.status?.listen,
      routes: current.routes.length,
    },
    'portico started',
  );

  return {
    address: gatewayServer.server.address() as AddressInfo,
    addresses: gatewayServer.servers.map((server) => server.address() as AddressInfo),
    adminAddress: adminServer.address() as AddressInfo,
    statusAddress: statusServer?.address() as AddressInfo | undefined,
    logger,
    registry,
    runtime: () => current as Runtime,
    reload,
    addAdminRoutes(routes) {
      adminRoutes.push(...routes);
    },
    shutdown() {
      shuttingDown ??= (async () => {
        ready = false;
        watcher?.close();
        const table = current as Runtime;
        const drainMs = parseDurationMs(table.config.shutdownTimeout);
        logger.info({ inflight: gatewayServer.inflight(), drainMs }, 'shutting down: draining');
        await edge.close();
        const servers = gatewayServer.servers;
        const closed = Promise.all(
          servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
        );
        for (const server of servers) server.closeIdleConnections();
        const deadline = Date.now() + drainMs;
        while (gatewayServer.inflight() > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          for (const server of servers) server.closeIdleConnections();
        }
        for (const server of servers) server.closeAllConnections();
        await closed;
        for (const checker of table.healthCheckers) await checker.stop();
        await Promise.all(
          [...table.services.values()].flatMap((service) =>
            service.instances.all.map((instance) => instance.close()),
          ),
        );
        adminServer.closeAllConnections();
        await new Promise<void>((resolve) => adminServer.close(() => resolve()));
        // Closed last of the listeners: /readyz answers 503 while the node drains.
        if (statusServer !== undefined) {
          statusServer.closeAllConnections();
          await new Promise<void>((resolve) => statusServer.close(() => resolve()));
        }
        outliers.close();
        await registeredHealth.stop();
        unsubscribe();
        unsubscribeResync();
        await registry.close();
        await versions.close();
        await store.close();
        await closeStageState(stageState);
        await tracer?.shutdown();
        logger.info('portico stopped');
      })();
      return shuttingDown;
    },
  };
}

/** The embedded store's folder is relative to the config file's folder, so a node finds its data wherever it starts. */
async function openStore(config: Config, configFile: string, multiProcess: boolean): Promise<RegistryStore> {
  if (config.store.kind === 'redis') {
    return createRedisStore({ url: redisTargetOf(config.store), prefix: config.store.prefix });
  }
  return createEmbeddedStore({ path: resolve(dirname(configFile), config.store.path), multiProcess });
}

/** In a worker, the admin reload call reloads the whole node. */
function clusterReload(member: ClusterMember | undefined): (() => Promise<ReloadResult>) | undefined {
  return member === undefined ? undefined : () => member.reloadAll();
}

function countRequests(stats: RouteStatsTable): number {
  let total = 0;
  for (const route of stats.values()) total += route.histogram().count;
  return total;
}

function listen(server: Server, address: string): Promise<void> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stage state that holds connections (the Redis rate limiter) has a `close`; call it once on shutdown. */
async function closeStageState(state: ReadonlyMap<string, unknown>): Promise<void> {
  for (const value of state.values()) {
    const close = (value as { close?: unknown } | null)?.close;
    if (typeof close === 'function') await (close as () => Promise<void>).call(value);
  }
}

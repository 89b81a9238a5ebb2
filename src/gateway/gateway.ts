import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { AdminRoute } from '../admin/admin-route.ts';
import type { ClusterMember } from '../cluster/cluster-member.ts';
import type { ReloadResult } from '../config/config-error.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { watchConfigFile } from '../config/watch-config-file.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { GatewayMetrics } from '../observability/metrics.ts';
import { createOtlpTracer } from '../observability/otlp-tracer.ts';
import { RouteStatsTable } from '../observability/route-stats.ts';
import { createAddressPolicy, createGuardedLookup } from '../registry/address-policy.ts';
import type { Registry } from '../registry/registry.ts';
import { reportPinnedDeprecations } from '../versions/admin-routes.ts';
import { VersionTracking } from '../versions/version-tracking.ts';
import { createNodeAdminRoutes } from './admin-routes.ts';
import { CloserStack } from './lifecycle/closers.ts';
import { startHeapTrim } from './lifecycle/heap-trim.ts';
import { startNodeFleet, type FromStore } from './lifecycle/node-fleet.ts';
import { addressOf, createNodeListeners } from './lifecycle/node-listeners.ts';
import { startNodeRegistry } from './lifecycle/node-registry.ts';
import { createReloadController } from './lifecycle/reload-controller.ts';
import { createUpstreamEvents } from './lifecycle/upstream-events.ts';
import { compileRuntime, type Runtime } from './runtime/compile-runtime.ts';
import { NodeState } from './runtime/node-state.ts';
import { RegisteredInstances } from './upstream/registered-instances.ts';

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
  /**
   * Set with `--config-from-store`: `config` is revision `revision` of the store at `store`, and the node follows
   * later revisions instead of a file (`configFile` is then only a label). The gateway closes `fleet` on shutdown.
   */
  readonly fromStore?: FromStore | undefined;
  /** This node's id in the store's membership (default `hostname:adminPort`, `#worker` appended in a worker). */
  readonly nodeId?: string | undefined;
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
  // Each part registers how it stops as soon as it has started; shutdown, or a start-up that fails half-way,
  // runs them newest first.
  const closers = new CloserStack((part, err) => logger.error({ err, part }, 'shutdown step failed'));
  try {
    return await assembleNode(options, config, env, logger, closers);
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

async function assembleNode(
  options: GatewayOptions,
  config: Config,
  env: Record<string, string | undefined>,
  logger: Logger,
  closers: CloserStack,
): Promise<Gateway> {
  const baseDir = dirname(resolve(options.configFile));
  const stats = new RouteStatsTable();
  const metrics = new GatewayMetrics(stats, () => reloads.peek());
  const upstream = createUpstreamEvents({ current: () => reloads.peek(), metrics, logger });
  closers.add('outlier detector', () => upstream.outliers.close());
  const addressPolicy = createAddressPolicy({
    allowLoopback: config.registry.allowLoopback,
    allow: config.registry.allow,
    deny: config.registry.deny,
  });
  const lookup = createGuardedLookup(addressPolicy);
  const registered = new RegisteredInstances(() => reloads.peek(), lookup, logger);
  const reloads = createReloadController({
    compile(next, previous) {
      const table = compileRuntime(next, {
        stats,
        observer: upstream.observer,
        previous,
        onHealthTransition: upstream.onHealthTransition,
        onBreakerTransition: upstream.onBreakerTransition,
        state,
        registered: (service) => registered.forService(service),
        baseDir,
      });
      for (const service of table.services.values()) service.instances.onChange(upstream.onInstanceChange);
      return table;
    },
    load: () => loadConfig(options.configFile, env, { refuseEmpty: true }),
    source: options.configFile,
    onRetire: (instance) => upstream.outliers.forget(instance),
    commit: (table) => state.commit(table.state, table.services),
    onSwap: (table) => warnPinnedDeprecations(table.config),
    onResult: (result) => metrics.reloads.inc({ result }),
    logger,
  });
  const { store, registry, contracts } = await startNodeRegistry({
    config,
    configFile: options.configFile,
    multiProcess: options.cluster !== undefined,
    addressPolicy,
    lookup,
    registered,
    closers,
    logger,
  });
  // Usage counted in memory per request, added to the store's daily buckets every 2 s; pins read from it.
  const versions = new VersionTracking({
    store: store.versions,
    onError: (err, what) => logger.warn({ err }, what),
  });
  versions.start();
  closers.add('version tracking', () => versions.close());
  const warnPinnedDeprecations = (next: Config): void =>
    void reportPinnedDeprecations(next, versions, (fields, message) => logger.warn(fields, message)).catch(
      (err: unknown) => logger.debug({ err }, 'pinned consumers could not be counted'),
    );
  // What outlives a table: compiling only reads it, the reload controller's swap commits to it. A worker's rate
  // limits draw from the node-wide buckets.
  const state = new NodeState({ contracts, versions, localRateLimiter: options.cluster?.rateLimiter });
  closers.add('node state', () => state.close());
  state.responseReports.setLogger(logger);
  state.rateLimitEvents.attach(logger, metrics.registry);

  const first = reloads.start(config);
  warnPinnedDeprecations(config);
  for (const service of first.services.values()) {
    if (service.tls?.rejectUnauthorized === false)
      logger.warn(
        { service: service.name },
        'service does not verify the certificates of its https instances (tls.rejectUnauthorized: false)',
      );
  }

  // Undefined unless tracing.otlp is set: the OpenTelemetry packages are then never loaded.
  const tracer = await createOtlpTracer(config.tracing, logger);
  if (tracer !== undefined) closers.add('tracer', () => tracer.shutdown());
  const fleet = await startNodeFleet({
    config,
    baseDir,
    fromStore: options.fromStore,
    reloads,
    env,
    nodeId: options.nodeId,
    workerId: options.cluster?.workerId,
    closers,
    logger,
  });
  const reload = fleet.reapply ?? ((): Promise<ReloadResult> => reloads.reload());

  let ready = false;
  const listeners = createNodeListeners({
    config,
    baseDir,
    reloads,
    routes: () => adminRoutes,
    stats,
    metrics,
    tracer,
    closers,
    logger,
    acmeStore: store.acme,
  });
  const adminRoutes = createNodeAdminRoutes({
    runtime: reloads.table,
    reload,
    ready: () => ready,
    metrics,
    stats,
    registry,
    state,
    edge: listeners.edge,
    cluster: options.cluster,
    extra: fleet.routes,
  });
  await listeners.listen();
  const servers = listeners.gateway.servers;
  fleet.join({ admin: addressOf(listeners.admin), listen: servers.map(addressOf) });
  if (options.fromStore === undefined && (options.watchConfig ?? true)) {
    const watcher = watchConfigFile(options.configFile, () => void reload(), logger);
    closers.add('config file watcher', () => watcher.close());
  }
  closers.add('heap trim', startHeapTrim());
  ready = true;
  closers.add('readiness', () => {
    ready = false;
  });
  logger.info(
    {
      listen: config.listen,
      admin: config.admin.listen,
      status: config.status?.listen,
      routes: reloads.table().routes.length,
    },
    'portico started',
  );

  return {
    address: addressOf(listeners.gateway.server),
    addresses: servers.map(addressOf),
    adminAddress: addressOf(listeners.admin),
    statusAddress: listeners.status === undefined ? undefined : addressOf(listeners.status),
    logger,
    registry,
    runtime: reloads.table,
    reload,
    addAdminRoutes(routes) {
      adminRoutes.push(...routes);
    },
    shutdown() {
      return closers.closeAll().then(() => logger.info('portico stopped'));
    },
  };
}

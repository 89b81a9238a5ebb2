import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { accessTableOf } from '../admin/access.ts';
import type { AdminRoute } from '../admin/admin-route.ts';
import { createAdminServer } from '../admin/admin-server.ts';
import { createStatusServer } from '../admin/status-server.ts';
import type { ClusterMember } from '../cluster/cluster-member.ts';
import type { ReloadResult } from '../config/config-error.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../config/units.ts';
import { watchConfigFile } from '../config/watch-config-file.ts';
import { createRefusals } from '../observability/access-log.ts';
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
import { startNodeRegistry } from './lifecycle/node-registry.ts';
import { createReloadController } from './lifecycle/reload-controller.ts';
import { createUpstreamEvents } from './lifecycle/upstream-events.ts';
import { createNodeMembership, createNodeRoutes } from './lifecycle/node-membership.ts';
import {
  createSharedConfigRoutes,
  followStoreConfig,
  type StoreConfigFollower,
} from './lifecycle/shared-config.ts';
import type { FleetStore, NodeRecord } from '../store/fleet-store.ts';
import { openFleetStore, type StoreLocation } from '../store/open-fleet-store.ts';
import { porticoVersion } from '../version.ts';
import { hostname } from 'node:os';
import { compileRuntime, type Runtime } from './runtime/compile-runtime.ts';
import { NodeState } from './runtime/node-state.ts';
import { createGatewayServer, type GatewayServer } from './server.ts';
import {
  createEdgeListeners,
  startAcme,
  watchCertificates,
  type EdgeListeners,
} from './tls/edge-listeners.ts';
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
  readonly fromStore?:
    { readonly fleet: FleetStore; readonly revision: number; readonly store: StoreLocation } | undefined;
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
    load: () => loadConfig(options.configFile, env),
    source: options.configFile,
    onRetire: (instance) => upstream.outliers.forget(instance),
    commit: (table) => state.commit(table.state, table.services),
    onSwap: (table) => warnPinnedDeprecations(table.config),
    onResult: (result) => metrics.reloads.inc({ result }),
    logger,
  });
  // Open beside the registry: nodes record themselves and the shared configuration here.
  const fromStore = options.fromStore;
  const fleet = fromStore?.fleet ?? (await openFleetStore(config.store, baseDir));
  closers.add('fleet store', () => fleet.close());
  let follower: StoreConfigFollower | undefined;
  const reload = (): Promise<ReloadResult> => follower?.reapply() ?? reloads.reload();

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
  // Certificates load before anything listens: a TLS listener whose files do not load stops start-up.
  const edge = createEdgeListeners(config, baseDir, logger);
  const gatewayServer: GatewayServer = createGatewayServer({
    listeners: edge.specs,
    runtime: reloads.table,
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

  let ready = false;
  const membership = createNodeMembership({
    fleet,
    describe: () => describeNode(),
    heartbeatMs: parseDurationMs(config.store.nodeHeartbeat),
    logger,
  });
  const adminRoutes = createNodeAdminRoutes({
    runtime: reloads.table,
    reload,
    ready: () => ready,
    metrics,
    stats,
    registry,
    state,
    edge,
    cluster: options.cluster,
    extra: [...createSharedConfigRoutes({ fleet, membership, env }), ...createNodeRoutes(membership)],
  });
  const adminServer = createAdminServer({
    routes: () => adminRoutes,
    access: () => accessTableOf(reloads.table().config),
    logger,
  });
  // Read at start only, like the listen addresses.
  const statusServer =
    config.status === undefined
      ? undefined
      : createStatusServer({ routes: () => adminRoutes, token: config.status.token, logger });
  // Registered before the gateway listeners' drain, so they close after it: /readyz answers 503 while the
  // node drains, from the status listener last of all.
  if (statusServer !== undefined) closers.add('status listener', () => closeServer(statusServer));
  closers.add('admin listener', () => closeServer(adminServer));
  closers.add('upstream pools', async () => {
    await reloads.settled();
    const table = reloads.table();
    for (const checker of table.healthCheckers) await checker.stop();
    await Promise.all(
      [...table.services.values()].flatMap((service) =>
        service.instances.all.map((instance) => instance.close()),
      ),
    );
  });
  closers.add('gateway listeners', () => drain(gatewayServer, edge, reloads.table(), logger));

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

  const startedAt = Date.now();
  const adminUrl = `http://${hostPortOf(adminServer.address() as AddressInfo)}`;
  const nodeId =
    options.nodeId ??
    `${hostname()}:${(adminServer.address() as AddressInfo).port}${options.cluster === undefined ? '' : `#${options.cluster.workerId}`}`;
  const listenUrls = gatewayServer.servers.map((server) => hostPortOf(server.address() as AddressInfo));
  function describeNode(): NodeRecord {
    return {
      id: nodeId,
      admin: adminUrl,
      listen: listenUrls,
      version: porticoVersion(),
      pid: process.pid,
      startedAt,
      heartbeatMs: parseDurationMs(config.store.nodeHeartbeat),
      config: follower?.state() ?? { source: 'file', revision: null },
    };
  }
  if (fromStore !== undefined) {
    const following = followStoreConfig({
      fleet,
      reloads,
      running: fromStore.revision,
      env,
      store: fromStore.store,
      logger,
      onChange: () => void membership.beat(),
    });
    follower = following;
    closers.add('store config follower', () => following.stop());
  } else if (options.watchConfig ?? true) {
    const watcher = watchConfigFile(options.configFile, () => void reload(), logger);
    closers.add('config file watcher', () => watcher.close());
  }

  membership.start();
  closers.add('node membership', () => membership.stop());
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
    address: gatewayServer.server.address() as AddressInfo,
    addresses: gatewayServer.servers.map((server) => server.address() as AddressInfo),
    adminAddress: adminServer.address() as AddressInfo,
    statusAddress: statusServer?.address() as AddressInfo | undefined,
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

/**
 * Stops accepting, lets in-flight requests finish within the table's `shutdownTimeout`, then cuts what is left.
 */
async function drain(
  server: GatewayServer,
  edge: EdgeListeners,
  table: Runtime,
  logger: Logger,
): Promise<void> {
  const drainMs = parseDurationMs(table.config.shutdownTimeout);
  logger.info({ inflight: server.inflight(), drainMs }, 'shutting down: draining');
  await edge.close();
  const servers = server.servers;
  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const s of servers) s.closeIdleConnections();
  const deadline = Date.now() + drainMs;
  while (server.inflight() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const s of servers) s.closeIdleConnections();
  }
  for (const s of servers) s.closeAllConnections();
  await closed;
}

/** How other machines reach a listener: an unspecified bind address (0.0.0.0, ::) stands for this host's name. */
function hostPortOf(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '::') return `${hostname()}:${address.port}`;
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
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

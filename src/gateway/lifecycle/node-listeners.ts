import type { AcmeStore } from '../../store/acme-store.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessTableOf } from '../../admin/access.ts';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { createAdminServer } from '../../admin/admin-server.ts';
import { createStatusServer } from '../../admin/status-server.ts';
import type { Config } from '../../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import { createRefusals } from '../../observability/access-log.ts';
import type { Logger } from '../../observability/logger.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import type { OtlpTracer } from '../../observability/otlp-tracer.ts';
import type { RouteStatsTable } from '../../observability/route-stats.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';
import { createGatewayServer, type GatewayServer } from '../server.ts';
import {
  createEdgeListeners,
  startAcme,
  watchCertificates,
  type EdgeListeners,
} from '../tls/edge-listeners.ts';
import type { CloserStack } from './closers.ts';
import type { ReloadController } from './reload-controller.ts';

/** The node's sockets: client listeners, the admin listener and the optional status listener. */
export interface NodeListeners {
  readonly edge: EdgeListeners;
  readonly gateway: GatewayServer;
  readonly admin: Server;
  readonly status: Server | undefined;
  /** Binds every listener (client listeners first), then starts ACME orders. */
  listen(): Promise<void>;
}

/**
 * Creates the node's listeners (certificates load here: a TLS listener whose files do not load stops start-up)
 * and registers how they close: the client listeners drain first (bounded by `shutdownTimeout`), then the
 * upstream pools close, then the admin listener, then the status listener, so `/readyz` answers 503 while the
 * node drains.
 *
 * @example
 * const listeners = createNodeListeners({ config, baseDir, reloads, routes: () => adminRoutes, … });
 * await listeners.listen();
 */
export function createNodeListeners(deps: {
  readonly config: Config;
  readonly baseDir: string;
  readonly reloads: ReloadController;
  /** The admin endpoints, read per call (features mount theirs after start). */
  readonly routes: () => readonly AdminRoute[];
  readonly stats: RouteStatsTable;
  readonly metrics: GatewayMetrics;
  readonly tracer: OtlpTracer | undefined;
  readonly closers: CloserStack;
  readonly logger: Logger;
  /** Where `tls.acme` with `encryptionKey` keeps its sealed records (the node's registry store). */
  readonly acmeStore?: AcmeStore | undefined;
}): NodeListeners {
  const { config, reloads, logger, closers, metrics } = deps;
  const edge = createEdgeListeners(config, deps.baseDir, logger, deps.acmeStore);
  const gateway = createGatewayServer({
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
    tracer: deps.tracer,
    refusals: createRefusals(deps.stats, logger, config.logging.accessLog),
  });
  const admin = createAdminServer({
    routes: deps.routes,
    access: () => accessTableOf(reloads.table().config),
    logger,
  });
  // Read at start only, like the listen addresses.
  const status =
    config.status === undefined
      ? undefined
      : createStatusServer({ routes: deps.routes, token: config.status.token, logger });
  if (status !== undefined) closers.add('status listener', () => closeServer(status));
  closers.add('admin listener', () => closeServer(admin));
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
  closers.add('gateway listeners', () => drain(gateway, edge, reloads.table(), logger));

  return {
    edge,
    gateway,
    admin,
    status,
    async listen() {
      gateway.servers.forEach((server, i) => {
        const certs = edge.certificates[i];
        if (certs !== undefined) certs.attach(server as unknown as { setSecureContext: (o: object) => void });
      });
      watchCertificates(edge, metrics.registry);
      for (const [i, server] of gateway.servers.entries()) await listen(server, edge.addresses[i] as string);
      await listen(admin, config.admin.listen);
      if (status !== undefined && config.status !== undefined) await listen(status, config.status.listen);
      // After the plain listeners are up: they answer the HTTP-01 challenges of the orders started here.
      await startAcme(edge, metrics.registry);
    },
  };
}

/** The address a bound server listens on. */
export function addressOf(server: Server): AddressInfo {
  return server.address() as AddressInfo;
}

/** Stops accepting, lets in-flight requests finish within the table's `shutdownTimeout`, then cuts what is left. */
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
  const cut = server.inflight();
  if (cut > 0)
    logger.warn({ inflight: cut, drainMs }, 'shutting down: drain deadline passed, cutting connections');
  for (const s of servers) s.closeAllConnections();
  await closed;
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

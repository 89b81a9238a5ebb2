import type { Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../admin/admin-route.ts';
import { createCoreAdminRoutes } from '../admin/core-routes.ts';
import type { ClusterMember } from '../cluster/cluster-member.ts';
import type { ReloadResult } from '../config/config-error.ts';
import type { ContractBook } from '../versions/contract-book.ts';
import type { VersionTracking } from '../versions/version-tracking.ts';
import { createDashboardRoutes } from '../dashboard/dashboard-routes.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { RouteStatsTable } from '../observability/route-stats.ts';
import { registerMirrorMetrics } from '../policies/mirror-stats.ts';
import { createCacheAdminRoutes, registerCacheMetrics } from '../policies/cache/cache-admin.ts';
import { createRegistryRoutes } from '../registry/http-api.ts';
import type { Registry } from '../registry/registry.ts';
import { createCatalogRoutes } from '../versions/catalog-routes.ts';
import { createVersionAdminRoutes, registerVersionMetrics } from '../versions/admin-routes.ts';
import type { Runtime } from './runtime/compile-runtime.ts';
import { createResilienceAdminRoutes, registerResilienceMetrics } from './services/resilience-admin.ts';
import { createCertificateRoutes, type EdgeListeners } from './tls/edge-listeners.ts';

/** What the node's admin endpoints read. */
export interface NodeAdminDependencies {
  readonly runtime: () => Runtime;
  /** Reloads this process (in a worker, the primary's node-wide reload calls it). */
  readonly reload: () => Promise<ReloadResult>;
  readonly ready: () => boolean;
  readonly metrics: GatewayMetrics;
  readonly stats: RouteStatsTable;
  readonly registry: Registry;
  readonly contracts: ContractBook;
  readonly stageState: Map<string, unknown>;
  /** Version usage and pins, shared by the nodes through the store. */
  readonly versions: VersionTracking;
  readonly edge: EdgeListeners;
  readonly cluster?: ClusterMember | undefined;
  /** Endpoints of optional parts (shared configuration, node membership), mounted after the core ones. */
  readonly extra?: readonly AdminRoute[] | undefined;
}

/**
 * Every admin endpoint of a node, in mount order (the first matching route wins), and the metrics the features
 * behind them export. The array stays open: `Gateway.addAdminRoutes` appends to it.
 *
 * @example
 * const routes = createNodeAdminRoutes({ runtime, reload, ready, metrics, stats, registry, contracts, stageState, edge });
 * createAdminServer({ routes: () => routes, access, logger });
 */
export function createNodeAdminRoutes(deps: NodeAdminDependencies): AdminRoute[] {
  const routes: AdminRoute[] = [];
  // Mounted first, so a worker's /metrics answers for the whole node.
  if (deps.cluster !== undefined) {
    routes.push(
      ...deps.cluster.attach({
        reload: deps.reload,
        metrics: deps.metrics.registry,
        requests: () => countRequests(deps.stats),
      }),
    );
  }
  const cluster = deps.cluster;
  routes.push(
    ...createCoreAdminRoutes({
      runtime: deps.runtime,
      // In a worker, the admin reload call reloads the whole node.
      reload: cluster === undefined ? deps.reload : () => cluster.reloadAll(),
      ready: deps.ready,
      metrics: deps.metrics,
    }),
    ...(deps.extra ?? []),
    ...createRegistryRoutes(deps.registry),
    ...createVersionAdminRoutes(deps.versions),
    ...createCatalogRoutes(deps.runtime, deps.contracts),
    ...createDashboardRoutes({ runtime: deps.runtime, registry: deps.registry, stats: deps.stats }),
    ...createCacheAdminRoutes(deps.stageState),
    ...createResilienceAdminRoutes(deps.runtime),
    ...createCertificateRoutes(deps.edge),
  );
  registerFeatureMetrics(deps.metrics.registry, deps.stageState, deps.versions, () => deps.runtime());
  return routes;
}

function registerFeatureMetrics(
  registry: MetricsRegistry,
  stageState: Map<string, unknown>,
  versions: VersionTracking,
  runtime: () => Runtime | undefined,
): void {
  registerVersionMetrics(registry, stageState, versions);
  registerCacheMetrics(registry, stageState);
  registerMirrorMetrics(registry, stageState);
  registerResilienceMetrics(registry, runtime);
}

function countRequests(stats: RouteStatsTable): number {
  let total = 0;
  for (const route of stats.values()) total += route.histogram().count;
  return total;
}

import type { Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../admin/admin-route.ts';
import { createCoreAdminRoutes } from '../admin/core-routes.ts';
import type { ClusterMember } from '../cluster/cluster-member.ts';
import type { ReloadResult } from '../config/config-error.ts';
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
import type { NodeState } from './runtime/node-state.ts';
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
  /** Contracts, version usage and pins, cache and mirror counts (see NodeState). */
  readonly state: NodeState;
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
 * const routes = createNodeAdminRoutes({ runtime, reload, ready, metrics, stats, registry, state, edge });
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
    ...createVersionAdminRoutes(deps.state.versions),
    ...createCatalogRoutes(deps.runtime, deps.state.contracts),
    ...createDashboardRoutes({ runtime: deps.runtime, registry: deps.registry, stats: deps.stats }),
    ...createCacheAdminRoutes(() => deps.state.cache()),
    ...createResilienceAdminRoutes(deps.runtime),
    ...createCertificateRoutes(deps.edge),
  );
  registerFeatureMetrics(deps.metrics.registry, deps.state, () => deps.runtime());
  return routes;
}

function registerFeatureMetrics(
  registry: MetricsRegistry,
  state: NodeState,
  runtime: () => Runtime | undefined,
): void {
  registerVersionMetrics(registry, state.responseReports, state.versions);
  registerCacheMetrics(registry, () => state.cache());
  registerMirrorMetrics(registry, state.mirrorStats);
  registerResilienceMetrics(registry, runtime);
}

function countRequests(stats: RouteStatsTable): number {
  let total = 0;
  for (const route of stats.values()) total += route.histogram().count;
  return total;
}

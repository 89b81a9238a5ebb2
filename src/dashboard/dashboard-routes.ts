import type { AdminRoute } from '../admin/admin-route.ts';
import { sendJson } from '../admin/json-body.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { Runtime } from '../gateway/runtime/compile-runtime.ts';
import type { RouteStatsTable } from '../observability/route-stats.ts';
import { StatsSampler } from '../observability/stats-sampler.ts';
import type { Registry } from '../registry/registry.ts';
import { createContractDiffRoute } from './contract-diff-route.ts';
import { describeRuntime } from './dashboard-state.ts';
import { createAssetStore, sendAsset } from './static-assets.ts';

export interface DashboardDependencies {
  readonly runtime: () => Runtime;
  readonly registry: Registry;
  /** The gateway's per-route counters (the same ones /metrics exports). */
  readonly stats: RouteStatsTable;
  /** Epoch ms; injectable for tests. */
  readonly clock?: () => number;
}

/** Files under `assets/`, served at `/dashboard/<name>`; `index.html` is the page at `/`. */
const assetNames = ['index.html', 'app.js', 'render.js', 'sse.js', 'style.css'] as const;

/**
 * The admin dashboard: the page and its files (open, they hold no data), and the JSON it polls — live rates from
 * the gateway's counters (`GET /v1/stats`), the runtime's health and policies (`GET /v1/dashboard/state`) and
 * contract diffs. Registry changes reach the page through the registry's own `GET /v1/watch` stream.
 *
 * @example
 * adminRoutes.push(...createDashboardRoutes({ runtime: () => current, registry, stats }));
 */
export function createDashboardRoutes(deps: DashboardDependencies): AdminRoute[] {
  const assets = createAssetStore(new URL('./assets/', import.meta.url), assetNames);
  const sampler = new StatsSampler(deps.stats, deps.clock === undefined ? {} : { clock: deps.clock });
  // A runtime never changes once compiled, so its route → service map is built once per reload, not per poll.
  let mapped: Runtime | undefined;
  let serviceOf = new Map<string, string>();
  return [
    {
      method: 'GET',
      path: '/',
      handler: async function dashboardPage(req, res) {
        const page = (await assets()).get('index.html');
        if (page === undefined) throw new PorticoError('not_found', 'the dashboard is not installed');
        sendAsset(req, res, page);
      },
    },
    {
      method: 'GET',
      path: '/dashboard/{file}',
      handler: async function dashboardAsset(req, res, { params }) {
        const asset = (await assets()).get(params.file ?? '');
        if (asset === undefined || params.file === 'index.html')
          throw new PorticoError('not_found', `no dashboard file ${params.file ?? ''}`);
        sendAsset(req, res, asset);
      },
    },
    {
      method: 'GET',
      path: '/v1/stats',
      handler: function liveStats(_req, res) {
        const runtime = deps.runtime();
        if (runtime !== mapped) {
          mapped = runtime;
          serviceOf = new Map(runtime.routes.map((route) => [route.name, route.service.name]));
        }
        res.setHeader('cache-control', 'no-store');
        sendJson(res, 200, sampler.sample(serviceOf));
      },
    },
    {
      method: 'GET',
      path: '/v1/dashboard/state',
      handler: function dashboardState(_req, res) {
        res.setHeader('cache-control', 'no-store');
        sendJson(res, 200, { revision: deps.registry.revision, ...describeRuntime(deps.runtime()) });
      },
    },
    createContractDiffRoute(deps.registry, deps.clock),
  ];
}

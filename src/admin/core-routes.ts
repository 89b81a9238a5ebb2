import type { ReloadResult } from '../config/config-error.ts';
import type { Runtime } from '../gateway/runtime/compile-runtime.ts';
import { problemBody } from '../errors/problem.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { normalizePath } from '../paths/normalize-path.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { permissionsOf } from './access.ts';
import type { AdminRoute } from './admin-route.ts';
import { sendJson } from './json-body.ts';
import { redactConfig } from './redact.ts';

export interface CoreAdminDependencies {
  readonly runtime: () => Runtime;
  readonly reload: () => Promise<ReloadResult>;
  readonly ready: () => boolean;
  readonly metrics: GatewayMetrics;
}

/** Health probes, config, reload, routes, the route explain call and /metrics. */
export function createCoreAdminRoutes(deps: CoreAdminDependencies): AdminRoute[] {
  return [
    { method: 'GET', path: '/healthz', handler: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: (_req, res) => sendJson(res, deps.ready() ? 200 : 503, { ready: deps.ready() }),
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => {
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(text);
      },
    },
    {
      method: 'GET',
      path: '/v1/whoami',
      handler: (_req, res, { principal }) => {
        if (principal === undefined)
          throw new PorticoError('unauthorized', 'a valid admin token is required');
        sendJson(res, 200, { name: principal.name, role: principal.role, may: permissionsOf(principal) });
      },
    },
    {
      method: 'GET',
      path: '/v1/config',
      handler: (_req, res) => sendJson(res, 200, redactConfig(deps.runtime().config)),
    },
    {
      method: 'POST',
      path: '/v1/config/reload',
      handler: async (_req, res) => {
        const result = await deps.reload();
        if (result.ok) {
          sendJson(res, 200, { status: 'applied', routes: deps.runtime().routes.length });
          return;
        }
        const body = problemBody(
          'invalid_config',
          'the new configuration was rejected; the running one stays',
          {
            errors: result.error.issues,
          },
        );
        res.writeHead(422, {
          'content-type': 'application/problem+json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      },
    },
    {
      method: 'GET',
      path: '/v1/routes',
      handler: (_req, res) => {
        const runtime = deps.runtime();
        sendJson(
          res,
          200,
          runtime.routes.map((route) => ({
            name: route.name,
            match: route.config.match,
            service: route.service.name,
            loadBalancer: route.service.config.loadBalancer,
            stripPrefix: route.config.stripPrefix,
            rewrite: route.config.rewrite,
            instances: route.service.instances.all.map((i) => ({
              id: i.id,
              url: i.origin,
              available: i.available,
            })),
          })),
        );
      },
    },
    {
      method: 'GET',
      path: '/v1/routes/match',
      handler: (_req, res, { url }) => {
        const method = (url.searchParams.get('method') ?? 'GET').toUpperCase();
        const host = url.searchParams.get('host') ?? undefined;
        const path = url.searchParams.get('path') ?? '/';
        const headers: Record<string, string> = {};
        for (const header of url.searchParams.getAll('header')) {
          const colon = header.indexOf(':');
          if (colon > 0)
            headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
        }
        if (host !== undefined) headers.host = host;
        const target = normalizePath(path);
        if (target === undefined)
          throw new PorticoError('bad_request', `"${path}" is not a valid request path`);
        sendJson(res, 200, {
          requested: path,
          ...deps.runtime().router.explain(method, host, target.path, headers),
        });
      },
    },
  ];
}

import { Gauge, type Registry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { BreakerState } from '../../resilience/circuit-breaker.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';

const stateValue: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * `GET /v1/services/{service}/breakers`: the breaker of every instance, the service's derived state, its
 * bulkhead occupancy and retry budget. 404 for an unknown service; `breaker: null` when none is configured.
 *
 * @example
 * adminRoutes.push(...createResilienceAdminRoutes(() => runtime));
 */
export function createResilienceAdminRoutes(runtime: () => Runtime): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/services/{service}/breakers',
      handler: (_req, res, ctx) => {
        const name = ctx.params['service'] ?? '';
        const service = runtime().services.get(name);
        if (service === undefined) throw new PorticoError('not_found', `no service "${name}"`);
        const snapshot = service.resilience?.snapshot();
        sendJson(res, 200, {
          service: name,
          breaker: snapshot?.breaker ?? null,
          instances: snapshot?.instances ?? {},
          bulkhead: snapshot?.bulkhead ?? null,
          retryBudget: snapshot?.retryBudget ?? null,
        });
      },
    },
  ];
}

/**
 * Registers `portico_upstream_breaker_state` (0 closed, 1 half-open, 2 open, by service and upstream_instance) and
 * `portico_service_bulkhead_active_requests` (by service), read from the runtime at scrape time.
 */
export function registerResilienceMetrics(registry: Registry, runtime: () => Runtime | undefined): void {
  new Gauge({
    name: 'portico_upstream_breaker_state',
    help: 'Circuit breaker state by service and upstream_instance: 0 closed, 1 half-open, 2 open.',
    labelNames: ['service', 'upstream_instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const service of runtime()?.services.values() ?? []) {
        const resilience = service.resilience;
        if (resilience === undefined) continue;
        for (const [id, breaker] of resilience.instanceBreakers()) {
          this.set({ service: service.name, upstream_instance: id }, stateValue[breaker.state]);
        }
      }
    },
  });
  new Gauge({
    name: 'portico_service_bulkhead_active_requests',
    help: 'Requests holding a bulkhead slot, by service.',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const service of runtime()?.services.values() ?? []) {
        const bulkhead = service.resilience?.bulkhead;
        if (bulkhead !== undefined) this.set({ service: service.name }, bulkhead.active);
      }
    },
  });
}

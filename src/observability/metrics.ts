import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { latencyBuckets, type RouteStatsTable } from './route-stats.ts';

/**
 * What the metrics read of the running table at scrape time. Declared here, not imported, so observability
 * does not depend on the gateway (the gateway's Runtime fits it).
 */
export interface MeteredRuntime {
  readonly services: ReadonlyMap<string, MeteredService>;
}

export interface MeteredService {
  readonly name: string;
  readonly instances: {
    readonly all: readonly { readonly id: string; readonly available: boolean }[];
    readonly available: readonly unknown[];
    readonly size: number;
  };
}

/**
 * Prometheus metrics (names follow `portico_<area>_<name>_<unit>`, labels are bounded: route and service
 * names, never raw paths). Per-request numbers live in RouteStats and are read at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly upstreamErrors: Counter<'service' | 'kind'>;
  readonly reloads: Counter<'result'>;

  constructor(stats: RouteStatsTable, runtime: () => MeteredRuntime | undefined) {
    // The standard process_* and nodejs_* names, unprefixed, so stock Node.js dashboards and alerts work as is.
    collectDefaultMetrics({ register: this.registry });
    this.upstreamErrors = new Counter({
      name: 'portico_upstream_errors_total',
      help: 'Failed upstream tries by service and kind (connect, timeout, reset, bad_response, client_abort).',
      labelNames: ['service', 'kind'],
      registers: [this.registry],
    });
    this.reloads = new Counter({
      name: 'portico_config_reloads_total',
      help: 'Configuration reloads by result (applied, rejected).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    new Counter({
      name: 'portico_http_requests_total',
      help: 'Requests answered by the gateway, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const route of stats.values()) {
          for (const { method, status, count } of route.requestCounts()) {
            this.inc({ route: route.route, method, status: String(status) }, count);
          }
        }
      },
    });
    this.registry.registerMetric(createRouteLatencyMetric(stats) as unknown as Metric);
    perService(this.registry, runtime, {
      name: 'portico_upstream_instance_healthy',
      help: 'Whether an instance takes traffic (1) or not (0), by service and upstream_instance.',
      // `upstream_instance`, not `instance`: Prometheus sets `instance` to the scraped target.
      labelNames: ['service', 'upstream_instance'],
      set(gauge, service) {
        for (const instance of service.instances.all) {
          gauge.set({ service: service.name, upstream_instance: instance.id }, instance.available ? 1 : 0);
        }
      },
    });
    // Per service, not per instance: registered instances come and go, and an alert on "no instance available"
    // must not depend on series that vanish with them.
    perService(this.registry, runtime, {
      name: 'portico_upstream_instances',
      help: 'Instances of a service by state: available (takes traffic) or unavailable (unhealthy, critical, draining).',
      labelNames: ['service', 'state'],
      set(gauge, service) {
        const available = service.instances.available.length;
        gauge.set({ service: service.name, state: 'available' }, available);
        gauge.set({ service: service.name, state: 'unavailable' }, service.instances.size - available);
      },
    });
  }

  /** `kind` is one of the proxy's bounded failure kinds (see the counter's help), never free text. */
  upstreamError(service: string, kind: string): void {
    this.upstreamErrors.inc({ service, kind });
  }
}

/** A gauge rebuilt at scrape time from every service of the current runtime (none before the first). */
function perService<L extends string>(
  registry: Registry,
  runtime: () => MeteredRuntime | undefined,
  spec: { name: string; help: string; labelNames: L[]; set(gauge: Gauge<L>, service: MeteredService): void },
): void {
  new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const table = runtime();
      if (table === undefined) return;
      for (const service of table.services.values()) spec.set(this, service);
    },
  });
}

/** A histogram exported from RouteStats' own buckets (prom-client's Histogram cannot be set from counts). */
function createRouteLatencyMetric(stats: RouteStatsTable) {
  const name = 'portico_http_request_duration_seconds';
  return {
    name,
    help: 'Time from request arrival to the end of the response, by route.',
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    collect: undefined,
    reset() {},
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const route of stats.values()) {
        const { buckets, sum, count } = route.histogram();
        buckets.forEach((value, i) => {
          values.push({
            labels: { route: route.route, le: latencyBuckets[i] as number },
            value,
            metricName: `${name}_bucket`,
          });
        });
        values.push({
          labels: { route: route.route, le: '+Inf' },
          value: count,
          metricName: `${name}_bucket`,
        });
        values.push({ labels: { route: route.route }, value: sum, metricName: `${name}_sum` });
        values.push({ labels: { route: route.route }, value: count, metricName: `${name}_count` });
      }
      return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
  };
}

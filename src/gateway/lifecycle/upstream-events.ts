import { Gauge } from 'prom-client';
import type { Logger } from '../../observability/logger.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';
import type { ProxyObserver } from '../services/proxy.ts';
import type { InstanceChange } from '../upstream/instance-set.ts';
import {
  createOutlierDetector,
  outlierSettingsOf,
  type OutlierDetector,
} from '../upstream/outlier-detector.ts';

/** How the node hears about its upstreams: passive health, panic mode, health and breaker transitions. */
export interface UpstreamEvents {
  /** Node-local ejection of instances that fail real traffic (see docs/registry.md). */
  readonly outliers: OutlierDetector;
  /** Given to the proxy: counts and logs failed tries, feeds passive health. */
  readonly observer: ProxyObserver;
  /** Subscribed to every compiled service's instance set. */
  onInstanceChange(change: InstanceChange): void;
  onHealthTransition(instance: { service: string; id: string; origin: string }, healthy: boolean): void;
  onBreakerTransition(service: string, instance: string, from: string, to: string): void;
}

/**
 * Wires the upstream side's events to logs, metrics and the outlier detector, reading the serving table through
 * `current` (the table changes on every reload).
 *
 * @example
 * const events = createUpstreamEvents({ current: () => reloads.peek(), metrics, logger });
 * compileRuntime(config, { observer: events.observer, onHealthTransition: events.onHealthTransition, … });
 */
export function createUpstreamEvents(deps: {
  readonly current: () => Runtime | undefined;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}): UpstreamEvents {
  const { current, metrics, logger } = deps;
  const outliers = createOutlierDetector({
    target(name) {
      const service = current()?.services.get(name);
      const settings = service?.config.outlierDetection;
      if (service === undefined || settings === undefined) return undefined;
      return { instances: service.instances, settings: outlierSettingsOf(settings) };
    },
    *targets() {
      for (const service of current()?.services.values() ?? []) {
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
  new Gauge({
    name: 'portico_upstream_panic_mode',
    help: 'Whether a service is in panic mode (1): too few instances available, so traffic goes to all of them.',
    labelNames: ['service'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const service of current()?.services.values() ?? []) {
        this.set({ service: service.name }, service.instances.panic ? 1 : 0);
      }
    },
  });
  return {
    outliers,
    observer: {
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
    },
    onInstanceChange(change) {
      if (change.type === 'panic') {
        const { set } = change;
        const fields = { service: set.service, available: set.available.length, total: set.size };
        if (set.panic)
          logger.warn(fields, 'service entered panic mode: balancing across all non-draining instances');
        else logger.warn(fields, 'service left panic mode');
      } else if (change.type === 'removed') {
        // An instance that left its service (deregistered, replaced) takes its outlier state and breaker with it,
        // so registry churn leaves no per-instance state or metric series behind; the pool is closed by its owner.
        outliers.forget(change.instance);
        current()?.services.get(change.set.service)?.resilience?.forget(change.instance.id);
      }
    },
    onHealthTransition(instance, healthy) {
      logger.warn(
        { service: instance.service, instance: instance.id, url: instance.origin, healthy },
        'instance health changed',
      );
    },
    onBreakerTransition(service, instance, from, to) {
      logger.warn({ service, instance, from, to }, 'circuit breaker changed state');
    },
  };
}

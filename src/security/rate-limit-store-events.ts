import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import type { RateLimitStoreSwitch } from './redis-rate-limiter.ts';

/** Where the Redis rate limiter reports its switches between the shared budget and the local fallback. */
export interface RateLimitStoreEvents {
  /** Called by the limiter on every switch. */
  switched(event: RateLimitStoreSwitch): void;
  /** Logs every later switch and exports them as metrics. */
  attach(logger: Logger, registry: MetricsRegistry): void;
}

/**
 * The switch reporter of one node, kept in the node state so it outlives reloads like the limiter itself.
 * Metrics: `portico_rate_limit_store_switches_total{to}` and `portico_rate_limit_local_fallback` (1 while the
 * node enforces its local share because Redis is unreachable).
 *
 * @example
 * const events = createRateLimitStoreEvents();
 * events.attach(logger, metrics.registry);
 */
export function createRateLimitStoreEvents(): RateLimitStoreEvents {
  const switches = { local: 0, shared: 0 };
  let local = false;
  let logger: Logger | undefined;
  const events: RateLimitStoreEvents = {
    switched(event) {
      switches[event.to]++;
      local = event.to === 'local';
      if (event.to === 'local')
        logger?.warn(
          { reason: event.reason },
          'rate limits switched to the local fallback: limits with onStoreFailure local now enforce this node’s share, others fail open or closed',
        );
      else
        logger?.warn(
          { reason: event.reason, reconciled: event.reconciled },
          'rate limits back on the shared budget in Redis (requests let through locally were added to it)',
        );
    },
    attach(log, registry) {
      logger = log;
      new Counter({
        name: 'portico_rate_limit_store_switches_total',
        help: 'Switches of the rate limiter between the shared budget in Redis (to="shared") and the local fallback (to="local").',
        labelNames: ['to'],
        registers: [registry],
        collect() {
          this.reset();
          this.inc({ to: 'local' }, switches.local);
          this.inc({ to: 'shared' }, switches.shared);
        },
      });
      new Gauge({
        name: 'portico_rate_limit_local_fallback',
        help: 'Whether rate limits are enforced from the local fallback (1) because Redis is unreachable.',
        registers: [registry],
        collect() {
          this.set(local ? 1 : 0);
        },
      });
    },
  };
  return events;
}

import { Counter, type Registry as MetricsRegistry } from 'prom-client';

/** Shadow traffic of one route since the node started: what was copied and how the copies compared. */
export interface MirrorStats {
  /** Copies sent. */
  sent: number;
  /** Requests not copied: the route's copies in flight were at their bound. */
  dropped: number;
  /** Requests not copied: their body was too large or of unknown length. */
  skipped: number;
  /** Copies that failed (connection, timeout) or found no instance. */
  failed: number;
  /** Copies whose status class (2xx, 4xx…) matched the client's answer, and those that did not. */
  sameStatus: number;
  differentStatus: number;
  /** Summed durations of the compared pairs, in seconds: the client's answer and the copy's. */
  primarySeconds: number;
  mirrorSeconds: number;
  compared: number;
}

/** A route's mirror counts before its first copy. */
export function createMirrorStats(): MirrorStats {
  return {
    sent: 0,
    dropped: 0,
    skipped: 0,
    failed: 0,
    sameStatus: 0,
    differentStatus: 0,
    primarySeconds: 0,
    mirrorSeconds: 0,
    compared: 0,
  };
}

/**
 * `portico_mirror_requests_total{route,outcome}` (same_status, different_status, failed, dropped, skipped)
 * and `portico_mirror_duration_seconds_total{route,side}` over the compared pairs (primary, mirror): divided by
 * the same_status + different_status count, the mean latency of each side.
 */
export function registerMirrorMetrics(
  registry: MetricsRegistry,
  stats: ReadonlyMap<string, MirrorStats>,
): void {
  new Counter({
    name: 'portico_mirror_requests_total',
    help: 'Copied (shadow) requests per route by outcome since the node started.',
    labelNames: ['route', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, s] of stats) {
        this.inc({ route, outcome: 'same_status' }, s.sameStatus);
        this.inc({ route, outcome: 'different_status' }, s.differentStatus);
        this.inc({ route, outcome: 'failed' }, s.failed);
        this.inc({ route, outcome: 'dropped' }, s.dropped);
        this.inc({ route, outcome: 'skipped' }, s.skipped);
      }
    },
  });
  new Counter({
    name: 'portico_mirror_duration_seconds_total',
    help: 'Summed durations of compared request pairs per route: the client answer (primary) and its copy (mirror).',
    labelNames: ['route', 'side'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, s] of stats) {
        this.inc({ route, side: 'primary' }, s.primarySeconds);
        this.inc({ route, side: 'mirror' }, s.mirrorSeconds);
      }
    },
  });
}

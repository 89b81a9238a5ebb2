/** Latency buckets in seconds (Prometheus convention). */
export const latencyBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
const methodIndex = new Map<string, number>(methods.map((m, i) => [m, i]));

/**
 * Request counters and a latency histogram of one route, kept as plain numbers on the request path and
 * turned into Prometheus samples only when /metrics is scraped (prom-client's labelled `inc()` hashes label
 * sets on every call, which the hot path cannot afford).
 */
export class RouteStats {
  readonly route: string;
  /** key = methodIndex * 1000 + status */
  readonly #counts = new Map<number, number>();
  readonly #buckets = new Float64Array(latencyBuckets.length);
  #sum = 0;
  #count = 0;

  constructor(route: string) {
    this.route = route;
  }

  record(method: string, status: number, seconds: number): void {
    const key = (methodIndex.get(method) ?? 7) * 1000 + status;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#sum += seconds;
    this.#count++;
    for (let i = 0; i < latencyBuckets.length; i++) {
      if (seconds <= (latencyBuckets[i] as number)) {
        (this.#buckets[i] as number)++;
        break;
      }
    }
  }

  *requestCounts(): Generator<{ method: string; status: number; count: number }> {
    for (const [key, count] of this.#counts) {
      yield { method: methods[Math.floor(key / 1000)] as string, status: key % 1000, count };
    }
  }

  /** Cumulative bucket counts, as Prometheus expects. */
  histogram(): { buckets: number[]; sum: number; count: number } {
    const buckets: number[] = [];
    let running = 0;
    for (const value of this.#buckets) {
      running += value;
      buckets.push(running);
    }
    return { buckets, sum: this.#sum, count: this.#count };
  }
}

/** Stats by route name; lives across reloads so counters stay monotonic. */
export class RouteStatsTable {
  readonly #byRoute = new Map<string, RouteStats>();

  for(route: string): RouteStats {
    let stats = this.#byRoute.get(route);
    if (stats === undefined) {
      stats = new RouteStats(route);
      this.#byRoute.set(route, stats);
    }
    return stats;
  }

  values(): IterableIterator<RouteStats> {
    return this.#byRoute.values();
  }
}

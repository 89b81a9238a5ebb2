import { latencyBuckets, type RouteStatsTable } from './route-stats.ts';

/** Live numbers of one route or one service over the last sampling window. */
export interface RateRow {
  readonly name: string;
  /** The service a route sends to; absent on service rows. */
  readonly service?: string;
  readonly requestsPerSecond: number;
  /** Share of answers with a 5xx status in the window, 0…1 (0 when there were none). */
  readonly errorRate: number;
  /** 99th percentile latency in ms, interpolated within histogram buckets; null without requests. */
  readonly p99Ms: number | null;
  /** Requests in the window. */
  readonly requests: number;
  /** Requests since the gateway started. */
  readonly total: number;
}

/** What `GET /v1/stats` answers. */
export interface StatsReport {
  /** Epoch ms of the newer snapshot. */
  readonly at: number;
  /** Length of the window the rates cover. */
  readonly windowSeconds: number;
  readonly routes: readonly RateRow[];
  readonly services: readonly RateRow[];
}

interface Counts {
  count: number;
  errors: number;
  /** Per-bucket (not cumulative) counts, the last one for `+Inf`. */
  readonly buckets: Float64Array;
}

export interface StatsSamplerOptions {
  /** Epoch ms; injectable for tests. */
  readonly clock?: () => number;
  /** Snapshots closer together than this return the previous report. Default 1000. */
  readonly minIntervalMs?: number;
}

/**
 * Turns the gateway's monotonic per-route counters into rates by diffing two snapshots. It has no timer: a
 * snapshot is taken when someone asks and the last one is older than `minIntervalMs`, so it costs nothing while no
 * dashboard is open and at most one snapshot per second however many are.
 *
 * @example
 * const sampler = new StatsSampler(stats);
 * const report = sampler.sample(new Map([['orders', 'orders-service']]));
 */
export class StatsSampler {
  readonly #stats: RouteStatsTable;
  readonly #clock: () => number;
  readonly #minIntervalMs: number;
  #previous = new Map<string, Counts>();
  #previousAt: number;
  #report: StatsReport | undefined;

  constructor(stats: RouteStatsTable, options: StatsSamplerOptions = {}) {
    this.#stats = stats;
    this.#clock = options.clock ?? Date.now;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#previousAt = this.#clock();
  }

  /** The rates since the previous snapshot; `serviceOf` maps route names to service names. */
  sample(serviceOf: ReadonlyMap<string, string>): StatsReport {
    const now = this.#clock();
    if (this.#report !== undefined && now - this.#report.at < this.#minIntervalMs) return this.#report;
    const current = new Map<string, Counts>();
    for (const route of this.#stats.values()) current.set(route.route, countsOf(route));
    const seconds = Math.max((now - this.#previousAt) / 1000, 0.001);
    const routes: RateRow[] = [];
    const byService = new Map<string, { delta: Counts; total: number }>();
    for (const [name, counts] of current) {
      const delta = subtract(counts, this.#previous.get(name));
      const service = serviceOf.get(name);
      routes.push({
        ...rates(name, delta, counts.count, seconds),
        ...(service === undefined ? {} : { service }),
      });
      if (service === undefined) continue;
      const sum = byService.get(service);
      if (sum === undefined) byService.set(service, { delta, total: counts.count });
      else {
        add(sum.delta, delta);
        sum.total += counts.count;
      }
    }
    const services: RateRow[] = [];
    for (const [name, { delta, total }] of byService) services.push(rates(name, delta, total, seconds));
    routes.sort(byName);
    services.sort(byName);
    this.#previous = current;
    this.#previousAt = now;
    this.#report = { at: now, windowSeconds: seconds, routes, services };
    return this.#report;
  }
}

function byName(a: RateRow, b: RateRow): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function countsOf(route: ReturnType<RouteStatsTable['for']>): Counts {
  let errors = 0;
  for (const { status, count } of route.requestCounts()) if (status >= 500) errors += count;
  const { buckets: cumulative, count } = route.histogram();
  const buckets = new Float64Array(latencyBuckets.length + 1);
  let before = 0;
  for (let i = 0; i < cumulative.length; i++) {
    const running = cumulative[i] as number;
    buckets[i] = running - before;
    before = running;
  }
  buckets[latencyBuckets.length] = count - before;
  return { count, errors, buckets };
}

function subtract(current: Counts, previous: Counts | undefined): Counts {
  const buckets = new Float64Array(current.buckets);
  if (previous === undefined) return { count: current.count, errors: current.errors, buckets };
  for (let i = 0; i < buckets.length; i++) (buckets[i] as number) -= previous.buckets[i] as number;
  return { count: current.count - previous.count, errors: current.errors - previous.errors, buckets };
}

function add(into: Counts, more: Counts): void {
  into.count += more.count;
  into.errors += more.errors;
  for (let i = 0; i < into.buckets.length; i++) (into.buckets[i] as number) += more.buckets[i] as number;
}

function rates(name: string, delta: Counts, total: number, seconds: number): RateRow {
  const p99 = quantileFromBuckets(latencyBuckets, delta.buckets, 0.99);
  return {
    name,
    requestsPerSecond: round(delta.count / seconds),
    errorRate: delta.count === 0 ? 0 : round(delta.errors / delta.count),
    p99Ms: p99 === undefined ? null : round(p99 * 1000),
    requests: delta.count,
    total,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The `q` quantile of a histogram, interpolated linearly inside the bucket it falls in (as Prometheus'
 * `histogram_quantile` does). `counts` are per bucket, the last one being `+Inf`; a quantile in `+Inf` is reported
 * as the highest finite bound. Undefined when the histogram is empty.
 */
export function quantileFromBuckets(
  bounds: readonly number[],
  counts: ArrayLike<number>,
  q: number,
): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total <= 0) return undefined;
  const rank = q * total;
  let running = 0;
  for (let i = 0; i < bounds.length; i++) {
    const inBucket = counts[i] as number;
    if (running + inBucket >= rank && inBucket > 0) {
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + ((upper - lower) * (rank - running)) / inBucket;
    }
    running += inBucket;
  }
  return bounds[bounds.length - 1];
}

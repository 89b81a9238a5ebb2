import { dayOf, type UsageDelta } from '../store/version-store.ts';

/** One line of a version's usage: who called it and how often. */
export interface ConsumerUsage {
  readonly consumer: string;
  readonly requests: number;
  /** Epoch ms of the last request. */
  readonly lastSeenAt: number;
}

/** Anonymous calls (no authenticated consumer) are counted under this name. */
export const ANONYMOUS = 'anonymous';
/** Past this many consumers per version, new ones are counted together so memory stays bounded. */
const MAX_CONSUMERS = 10_000;
const OTHERS = 'others';

const DAY_MS = 86_400_000;

interface Counter {
  /** Since this node started (metrics, the node's own usage). */
  requests: number;
  lastSeenAt: number;
  /** The UTC day (days since the epoch) of the last request, and its requests no flush has taken yet. */
  day: number;
  pending: number;
  pendingLastSeenAt: number;
  /** Untaken requests of earlier days: the day before, around midnight, or a flush that failed. */
  older: DayCount[] | undefined;
}

interface DayCount {
  readonly day: number;
  requests: number;
  lastSeenAt: number;
}

/**
 * Request counts per service, version and consumer, so a team knows who must move before a sunset. Kept in
 * memory across reloads (one per node).
 *
 * @example
 * usage.record('users', '1.4.0', 'mobile-app');
 * usage.forVersion('users', '1'); // [{ consumer: 'mobile-app', requests: 1, ... }]
 */
export class UsageTable {
  readonly #clock: () => number;
  /** service → version → consumer → counter. */
  readonly #counts = new Map<string, Map<string, Map<string, Counter>>>();

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  record(service: string, version: string, consumer: string | undefined): void {
    let versions = this.#counts.get(service);
    if (versions === undefined) this.#counts.set(service, (versions = new Map()));
    let consumers = versions.get(version);
    if (consumers === undefined) versions.set(version, (consumers = new Map()));
    let name = consumer ?? ANONYMOUS;
    let counter = consumers.get(name);
    if (counter === undefined && consumers.size >= MAX_CONSUMERS) {
      name = OTHERS;
      counter = consumers.get(name);
    }
    if (counter === undefined)
      consumers.set(
        name,
        (counter = {
          requests: 0,
          lastSeenAt: 0,
          day: 0,
          pending: 0,
          pendingLastSeenAt: 0,
          older: undefined,
        }),
      );
    const now = this.#clock();
    // Dated by the request's own UTC day, so a flush just after midnight does not move yesterday's last requests.
    const day = Math.floor(now / DAY_MS);
    if (day !== counter.day) {
      if (counter.pending > 0) addDay(counter, counter.day, counter.pending, counter.pendingLastSeenAt);
      counter.day = day;
      counter.pending = 0;
    }
    counter.requests++;
    counter.lastSeenAt = now;
    counter.pending++;
    counter.pendingLastSeenAt = now;
  }

  /**
   * Usage of every version that matches `version`: an exact version (`1.4.0`), a major (`1`) or a major.minor
   * (`1.4`). Consumers are summed across the matching versions, busiest first.
   */
  forVersion(service: string, version: string): { versions: string[]; consumers: ConsumerUsage[] } {
    const versions: string[] = [];
    const sums = new Map<string, { requests: number; lastSeenAt: number }>();
    for (const [v, consumers] of this.#counts.get(service) ?? []) {
      if (v !== version && !v.startsWith(`${version}.`)) continue;
      versions.push(v);
      for (const [consumer, counter] of consumers) {
        const sum = sums.get(consumer) ?? { requests: 0, lastSeenAt: 0 };
        sum.requests += counter.requests;
        sum.lastSeenAt = Math.max(sum.lastSeenAt, counter.lastSeenAt);
        sums.set(consumer, sum);
      }
    }
    const consumers = [...sums].map(([consumer, sum]) => ({ consumer, ...sum }));
    consumers.sort((a, b) => b.requests - a.requests || (a.consumer < b.consumer ? -1 : 1));
    return { versions: versions.sort(), consumers };
  }

  /**
   * The requests counted since the last call, as deltas for the store's daily buckets, each dated by the UTC day
   * its requests arrived. A flush that fails hands them back with {@link giveBack}.
   */
  takeDeltas(): UsageDelta[] {
    const out: UsageDelta[] = [];
    for (const [service, versions] of this.#counts)
      for (const [version, consumers] of versions)
        for (const [consumer, counter] of consumers) {
          for (const earlier of counter.older ?? [])
            out.push(deltaOf(service, version, consumer, earlier.day, earlier.requests, earlier.lastSeenAt));
          counter.older = undefined;
          if (counter.pending === 0) continue;
          out.push(
            deltaOf(service, version, consumer, counter.day, counter.pending, counter.pendingLastSeenAt),
          );
          counter.pending = 0;
        }
    return out;
  }

  /** Returns deltas that could not be written, so the next {@link takeDeltas} includes them again. */
  giveBack(deltas: readonly UsageDelta[]): void {
    for (const delta of deltas) {
      const counter = this.#counts.get(delta.service)?.get(delta.version)?.get(delta.consumer);
      if (counter === undefined) continue;
      const day = Math.floor(Date.parse(delta.day) / DAY_MS);
      if (day === counter.day) {
        counter.pending += delta.requests;
        counter.pendingLastSeenAt = Math.max(counter.pendingLastSeenAt, delta.lastSeenAt);
      } else addDay(counter, day, delta.requests, delta.lastSeenAt);
    }
  }

  /** Every counter, for the metrics endpoint. */
  *entries(): Generator<{ service: string; version: string; consumer: string; requests: number }> {
    for (const [service, versions] of this.#counts)
      for (const [version, consumers] of versions)
        for (const [consumer, counter] of consumers)
          yield { service, version, consumer, requests: counter.requests };
  }
}

function addDay(counter: Counter, day: number, requests: number, lastSeenAt: number): void {
  const older = (counter.older ??= []);
  const known = older.find((entry) => entry.day === day);
  if (known === undefined) older.push({ day, requests, lastSeenAt });
  else {
    known.requests += requests;
    known.lastSeenAt = Math.max(known.lastSeenAt, lastSeenAt);
  }
}

function deltaOf(
  service: string,
  version: string,
  consumer: string,
  day: number,
  requests: number,
  lastSeenAt: number,
): UsageDelta {
  return { service, version, consumer, day: dayOf(day * DAY_MS), requests, lastSeenAt };
}

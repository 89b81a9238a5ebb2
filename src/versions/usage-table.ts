import type { UsageDelta } from '../store/version-store.ts';

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

interface Counter {
  requests: number;
  lastSeenAt: number;
  /** Of `requests`, how many a flush has taken (see takeDeltas). */
  taken: number;
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
    if (counter === undefined) consumers.set(name, (counter = { requests: 0, lastSeenAt: 0, taken: 0 }));
    counter.requests++;
    counter.lastSeenAt = this.#clock();
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
   * The requests counted since the last call, as deltas dated `day`, for the store's daily buckets. A flush
   * that fails hands them back with {@link giveBack}.
   */
  takeDeltas(day: string): UsageDelta[] {
    const out: UsageDelta[] = [];
    for (const [service, versions] of this.#counts)
      for (const [version, consumers] of versions)
        for (const [consumer, counter] of consumers) {
          if (counter.requests === counter.taken) continue;
          out.push({
            service,
            version,
            consumer,
            day,
            requests: counter.requests - counter.taken,
            lastSeenAt: counter.lastSeenAt,
          });
          counter.taken = counter.requests;
        }
    return out;
  }

  /** Returns deltas that could not be written, so the next {@link takeDeltas} includes them again. */
  giveBack(deltas: readonly UsageDelta[]): void {
    for (const delta of deltas) {
      const counter = this.#counts.get(delta.service)?.get(delta.version)?.get(delta.consumer);
      if (counter !== undefined) counter.taken -= delta.requests;
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

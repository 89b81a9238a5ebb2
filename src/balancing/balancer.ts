import type { LoadBalancerName } from '../config/schema.ts';

/** What a balancer needs to know about a candidate; `Instance` satisfies it. */
export interface BalancerTarget {
  readonly id: string;
  readonly weight: number;
  /** Requests in flight to the target, kept current by the proxy. */
  inflight: number;
}

/**
 * Picks one target per request. Implementations precompute everything in `setTargets` so that
 * `pick` allocates nothing and creates no closures: it runs once per proxied request and per retry.
 *
 * @example
 * const balancer = createBalancer<Instance>('weighted');
 * balancer.setTargets(instances.available);
 * const first = balancer.pick(undefined);
 * const retry = balancer.pick(undefined, first);
 */
export interface Balancer<T extends BalancerTarget> {
  readonly name: LoadBalancerName;
  /** Replaces the candidates; called when the instance set changes, never per request. */
  setTargets(targets: readonly T[]): void;
  /** Picks a target; `key` is the consistent-hash key; `avoid` is skipped when another target exists (retries). */
  pick(key: string | undefined, avoid?: T): T | undefined;
}

/** Randomness source in [0, 1); injected so tests are exact. */
export type RandomSource = () => number;

import type { LoadBalancerName } from '../config/schema.ts';
import type { Balancer, BalancerTarget, RandomSource } from './balancer.ts';
import { ConsistentHashBalancer } from './consistent-hash.ts';
import { LeastRequestBalancer } from './least-request.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { WeightedBalancer } from './weighted.ts';

export type { Balancer, BalancerTarget, RandomSource } from './balancer.ts';

/** Options shared by all strategies; each uses what it needs. */
export interface BalancerOptions {
  /** Randomness for least-request; defaults to `Math.random`. */
  random?: RandomSource;
}

/**
 * Creates the balancer named in a service's `loadBalancer` setting.
 *
 * @example
 * const balancer = createBalancer<Instance>(service.loadBalancer);
 */
export function createBalancer<T extends BalancerTarget>(
  name: LoadBalancerName,
  options: BalancerOptions = {},
): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer<T>();
    case 'weighted':
      return new WeightedBalancer<T>();
    case 'least-request':
      return new LeastRequestBalancer<T>(options.random);
    case 'consistent-hash':
      return new ConsistentHashBalancer<T>();
  }
}

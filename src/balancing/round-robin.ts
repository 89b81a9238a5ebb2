import type { Balancer, BalancerTarget } from './balancer.ts';

/**
 * Hands out targets in turn, ignoring weights.
 *
 * @example
 * const rr = createRoundRobinBalancer<Instance>();
 * rr.setTargets([a, b]);
 * rr.pick(undefined); // a, then b, then a...
 */
export class RoundRobinBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly name = 'round-robin';
  #targets: readonly T[] = [];
  #next = 0;

  setTargets(targets: readonly T[]): void {
    this.#targets = targets;
    this.#next = targets.length === 0 ? 0 : this.#next % targets.length;
  }

  pick(_key: string | undefined, avoid?: T): T | undefined {
    const targets = this.#targets;
    const count = targets.length;
    if (count === 0) return undefined;
    let index = this.#next;
    if (targets[index] === avoid && count > 1) index = (index + 1) % count;
    this.#next = (index + 1) % count;
    return targets[index];
  }
}

/** Creates a round-robin balancer. */
export function createRoundRobinBalancer<T extends BalancerTarget>(): RoundRobinBalancer<T> {
  return new RoundRobinBalancer<T>();
}

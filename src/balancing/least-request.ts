import type { Balancer, BalancerTarget, RandomSource } from './balancer.ts';

/**
 * Power of two random choices: sample two distinct targets and take the one with fewer requests in
 * flight (on a tie, the heavier one). Unlike a full scan for the minimum, it does not send a burst
 * of requests to the single least-loaded target, and it costs O(1) per pick.
 *
 * @example
 * const lr = createLeastRequestBalancer<Instance>({ random: Math.random });
 * lr.setTargets(instances);
 * lr.pick(undefined);
 */
export class LeastRequestBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly name = 'least-request';
  #targets: readonly T[] = [];
  readonly #random: RandomSource;

  constructor(random: RandomSource = Math.random) {
    this.#random = random;
  }

  setTargets(targets: readonly T[]): void {
    this.#targets = targets;
  }

  pick(_key: string | undefined, avoid?: T): T | undefined {
    const targets = this.#targets;
    const count = targets.length;
    if (count === 0) return undefined;
    if (count === 1) return targets[0];
    // Sample among the targets other than `avoid` by drawing from a range one shorter and
    // stepping over the avoided index, so no candidate array is built.
    const skip = avoid === undefined ? -1 : targets.indexOf(avoid);
    const choices = skip === -1 ? count : count - 1;
    let first = Math.floor(this.#random() * choices);
    if (choices === 1) return targets[first >= skip ? first + 1 : first];
    let second = Math.floor(this.#random() * (choices - 1));
    if (second >= first) second++;
    if (skip !== -1) {
      if (first >= skip) first++;
      if (second >= skip) second++;
    }
    const a = targets[first]!;
    const b = targets[second]!;
    if (a.inflight !== b.inflight) return a.inflight < b.inflight ? a : b;
    return b.weight > a.weight ? b : a;
  }
}

/** Creates a least-request (power of two choices) balancer; `random` is injectable for tests. */
export function createLeastRequestBalancer<T extends BalancerTarget>(
  options: { random?: RandomSource } = {},
): LeastRequestBalancer<T> {
  return new LeastRequestBalancer<T>(options.random);
}

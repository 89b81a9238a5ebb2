import type { Balancer, BalancerTarget } from './balancer.ts';

/**
 * Smooth weighted round-robin, the scheme nginx uses: every pick adds each target's weight to its
 * running score, takes the highest score and lowers it by the total weight. Heavy targets are
 * interleaved with light ones (3:1 gives a, a, b, a) instead of served in bursts (a, a, a, b),
 * which keeps a light instance from idling and then receiving a clump of requests.
 *
 * @example
 * const weighted = createWeightedBalancer<Instance>();
 * weighted.setTargets([a3, b1]);
 * weighted.pick(undefined); // a3, a3, b1, a3, ...
 */
export class WeightedBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly name = 'weighted';
  #targets: readonly T[] = [];
  #weights = new Float64Array(0);
  #scores = new Float64Array(0);
  #total = 0;

  setTargets(targets: readonly T[]): void {
    const previous = new Map<string, number>();
    for (let i = 0; i < this.#targets.length; i++) previous.set(this.#targets[i]!.id, this.#scores[i]!);
    const weights = new Float64Array(targets.length);
    const scores = new Float64Array(targets.length);
    let total = 0;
    for (let i = 0; i < targets.length; i++) {
      const weight = Math.max(0, targets[i]!.weight);
      weights[i] = weight;
      total += weight;
      // Keeping the score of targets that stay avoids resetting the rotation on every registry change.
      scores[i] = previous.get(targets[i]!.id) ?? 0;
    }
    this.#targets = targets;
    this.#weights = weights;
    this.#scores = scores;
    this.#total = total;
  }

  pick(_key: string | undefined, avoid?: T): T | undefined {
    const targets = this.#targets;
    const count = targets.length;
    if (count === 0) return undefined;
    if (count === 1) return targets[0];
    const weights = this.#weights;
    const scores = this.#scores;
    let best = -1;
    for (let i = 0; i < count; i++) {
      scores[i]! += weights[i]!;
      if (targets[i] === avoid) continue;
      if (best === -1 || scores[i]! > scores[best]!) best = i;
    }
    if (best === -1) best = 0;
    scores[best]! -= this.#total;
    return targets[best];
  }
}

/** Creates a smooth weighted round-robin balancer. */
export function createWeightedBalancer<T extends BalancerTarget>(): WeightedBalancer<T> {
  return new WeightedBalancer<T>();
}

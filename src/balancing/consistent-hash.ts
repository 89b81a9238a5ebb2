import type { Balancer, BalancerTarget } from './balancer.ts';
import { hashString } from './hash.ts';
import { RoundRobinBalancer } from './round-robin.ts';

/** Ring points per unit of weight; enough that each target's share stays within a few percent. */
const POINTS_PER_WEIGHT = 128;
/** Cap per target so a weight of 1000 does not build a ring of millions of points. */
const MAX_POINTS_PER_TARGET = 4096;
/** Ring indices are packed into the low 16 bits of the sort key. */
const MAX_TARGETS = 0xffff;

/**
 * A hash ring with virtual nodes. A key maps to the first ring point at or after its hash. Each
 * target's points depend only on its own id and weight, so when one of N targets leaves only the
 * keys it owned move (about 1/N) and every other key keeps its target. Requests without a key
 * (no header, cookie or address to hash) fall back to round-robin.
 *
 * @example
 * const ring = createConsistentHashBalancer<Instance>();
 * ring.setTargets(instances);
 * ring.pick(request.headers['x-user-id']); // same user, same instance
 */
export class ConsistentHashBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly name = 'consistent-hash';
  #targets: readonly T[] = [];
  /** Sorted hashes of the ring points. */
  #points = new Uint32Array(0);
  /** `#owners[i]` is the index in `#targets` of the target owning `#points[i]`. */
  #owners = new Uint16Array(0);
  readonly #fallback = new RoundRobinBalancer<T>();

  setTargets(targets: readonly T[]): void {
    if (targets.length > MAX_TARGETS)
      throw new RangeError(`consistent-hash supports at most ${MAX_TARGETS} targets`);
    let size = 0;
    for (const target of targets) size += pointsFor(target.weight);
    // Hash and owner are packed in one float (hash * 2^16 + owner < 2^48, exact in a double) so a
    // single typed-array sort orders the ring, with a deterministic tie-break on collisions.
    const packed = new Float64Array(size);
    let at = 0;
    for (let owner = 0; owner < targets.length; owner++) {
      const target = targets[owner]!;
      const count = pointsFor(target.weight);
      for (let replica = 0; replica < count; replica++) {
        packed[at++] = hashString(`${target.id}#${replica}`) * 0x10000 + owner;
      }
    }
    packed.sort();
    const points = new Uint32Array(size);
    const owners = new Uint16Array(size);
    for (let i = 0; i < size; i++) {
      const value = packed[i]!;
      const owner = value % 0x10000;
      owners[i] = owner;
      points[i] = (value - owner) / 0x10000;
    }
    this.#targets = targets;
    this.#points = points;
    this.#owners = owners;
    this.#fallback.setTargets(targets);
  }

  pick(key: string | undefined, avoid?: T): T | undefined {
    const targets = this.#targets;
    if (targets.length === 0) return undefined;
    if (key === undefined) return this.#fallback.pick(undefined, avoid);
    const points = this.#points;
    const size = points.length;
    let index = lowerBound(points, hashString(key));
    if (index === size) index = 0;
    const target = targets[this.#owners[index]!]!;
    if (target !== avoid || targets.length === 1) return target;
    // A retry walks clockwise to the next distinct target, the one that would own the key if the
    // avoided target left, so retries of one key stay sticky too.
    for (let step = 1; step < size; step++) {
      const candidate = targets[this.#owners[(index + step) % size]!]!;
      if (candidate !== avoid) return candidate;
    }
    return target;
  }
}

function pointsFor(weight: number): number {
  return Math.min(MAX_POINTS_PER_TARGET, Math.max(1, Math.round(POINTS_PER_WEIGHT * weight)));
}

/** First index whose point is >= hash, or `points.length` when the hash is past the last point. */
function lowerBound(points: Uint32Array, hash: number): number {
  let low = 0;
  let high = points.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (points[mid]! < hash) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Creates a consistent-hash ring balancer. */
export function createConsistentHashBalancer<T extends BalancerTarget>(): ConsistentHashBalancer<T> {
  return new ConsistentHashBalancer<T>();
}

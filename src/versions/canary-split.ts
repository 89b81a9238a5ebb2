import { hashString } from '../balancing/hash.ts';

/** One arm of a canary split. */
export interface SplitArm {
  readonly major: number;
  readonly weight: number;
}

/** See {@link createCanarySplit}. */
export interface CanarySplit {
  readonly arms: readonly SplitArm[];
  /** The majors for `key`, best first (the caller falls back to the next when an arm has no instance). */
  order(key: string): number[];
}

/**
 * Sticky weighted choice between majors by rendezvous hashing: each arm scores `-ln(u) / weight` with `u` taken
 * from the hash of (key, major), and the lowest score wins. The same key always lands on the same arm, the
 * shares follow the weights, and changing a weight moves only the keys that must move (a key changes arm only
 * when the arm it goes to gained weight or the arm it leaves lost some).
 *
 * @example
 * const split = createCanarySplit({ '1': 90, '2': 10 });
 * split.order('mobile-app'); // [1, 2] for most keys, [2, 1] for about 10% of them
 */
export function createCanarySplit(weights: Readonly<Record<string, number>>): CanarySplit {
  const arms = Object.entries(weights)
    .map(([major, weight]) => ({ major: Number(major), weight }))
    .filter((arm) => arm.weight > 0)
    .sort((a, b) => a.major - b.major);
  return {
    arms,
    order(key) {
      const scored = arms.map((arm) => {
        const u = (hashString(`${key}#${arm.major}`) + 0.5) / 4_294_967_296;
        return { major: arm.major, score: -Math.log(u) / arm.weight };
      });
      scored.sort((a, b) => a.score - b.score);
      return scored.map((entry) => entry.major);
    },
  };
}

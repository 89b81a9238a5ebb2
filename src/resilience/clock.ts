/** Milliseconds on a monotonic-enough clock; injected so resilience state is exact in tests. */
export type Clock = () => number;

/** A random number in [0, 1); injected so jitter is exact in tests. */
export type Random = () => number;

/** The wall clock in milliseconds. */
export const systemClock: Clock = Date.now;

/** `Math.random`, the default source of jitter. */
export const systemRandom: Random = Math.random;

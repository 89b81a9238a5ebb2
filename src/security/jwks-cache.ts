import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';

type KeyResolver = ReturnType<typeof createLocalJWKSet>;
type ResolvedKey = Awaited<ReturnType<KeyResolver>>;

/** Fetches a JWKS document; rejects on any failure (network, status, JSON). */
export type JwksFetch = (url: string) => Promise<unknown>;

/** Options of {@link createJwksCache}. */
export interface JwksCacheOptions {
  readonly url: string;
  /** Keys older than this are fetched again (in the background while the old ones keep serving). */
  readonly ttlMs: number;
  /** Shortest time between two fetches, whether triggered by an unknown `kid`, the TTL or a failure. */
  readonly cooldownMs: number;
  readonly now: () => number;
  readonly fetch?: JwksFetch | undefined;
}

/** The keys of one JWKS URL, kept across reloads in the stage state. */
export interface JwksCache {
  /** The key for a token's header; refetches (at most once per cooldown) when the `kid` is unknown. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey>;
  /** Whether keys were ever fetched successfully. */
  readonly loaded: boolean;
}

/**
 * A JWKS cache that keeps serving the last good keys while the endpoint is down, refreshes them after
 * `ttlMs`, and refetches on an unknown `kid` no more than once per `cooldownMs`, so a flood of tokens with
 * made-up `kid`s cannot turn into a flood of fetches.
 *
 * @example
 * const cache = createJwksCache({ url, ttlMs: 600_000, cooldownMs: 30_000, now: Date.now });
 * await jwtVerify(token, cache.getKey, { algorithms: ['RS256'] });
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const fetchJwks = options.fetch ?? defaultFetch;
  let resolver: KeyResolver | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let inflight: Promise<void> | undefined;

  function refresh(): Promise<void> {
    inflight ??= (async () => {
      attemptedAt = options.now();
      try {
        const doc = await fetchJwks(options.url);
        if (!isJwks(doc)) throw new Error('the JWKS document has no "keys" array');
        resolver = createLocalJWKSet(doc);
        fetchedAt = options.now();
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  const cooledDown = () => options.now() - attemptedAt >= options.cooldownMs;

  return {
    get loaded() {
      return resolver !== undefined;
    },
    async getKey(header, token) {
      if (resolver === undefined) {
        if (inflight !== undefined) await inflight.catch(ignore);
        else if (cooledDown()) await refresh().catch(ignore);
        if (resolver === undefined) throw new errors.JWKSNoMatchingKey('the JWKS endpoint is unavailable');
      } else if (options.now() - fetchedAt >= options.ttlMs && inflight === undefined && cooledDown()) {
        void refresh().catch(ignore);
      }
      try {
        return await (resolver as KeyResolver)(header, token);
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey) || !cooledDown()) throw err;
        await refresh().catch(ignore);
        return await (resolver as KeyResolver)(header, token);
      }
    },
  };
}

function ignore(): void {}

function isJwks(doc: unknown): doc is JSONWebKeySet {
  return typeof doc === 'object' && doc !== null && Array.isArray((doc as { keys?: unknown }).keys);
}

async function defaultFetch(url: string): Promise<unknown> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(5000),
    headers: { accept: 'application/json' },
  });
  if (!res.ok) throw new Error(`JWKS endpoint answered ${res.status}`);
  return await res.json();
}

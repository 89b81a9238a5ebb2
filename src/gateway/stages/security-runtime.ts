import { availableParallelism } from 'node:os';
import type { Config } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { createConsumerTable, type ConsumerTable } from '../../security/consumers.ts';
import { createCorsPolicy, type CorsPolicy } from '../../security/cors.ts';
import { createJwksCache, type JwksCache } from '../../security/jwks-cache.ts';
import { createJwtVerifier, type JwtVerifier } from '../../security/jwt-verifier.ts';
import { createLocalRateLimiter } from '../../security/local-rate-limiter.ts';
import type { RateLimiter } from '../../security/rate-limiter.ts';
import { rateLimitStoreEvents } from '../../security/rate-limit-store-events.ts';
import { createRedisRateLimiter } from '../../security/redis-rate-limiter.ts';
import { describeRedisTarget, redisTargetOf } from '../../store/redis-connection.ts';
import type { StageCompileContext } from '../pipeline/stage.ts';

/** What the security stages of one config share: built once per compiled config, not once per route. */
export interface SecurityRuntime {
  readonly consumers: ConsumerTable;
  readonly jwt: JwtVerifier | undefined;
  readonly apiKeyHeader: string;
  readonly apiKeyQuery: string | undefined;
  /** The bucket store (local, or Redis when `store.kind` is redis), created on first use. */
  rateLimiter(): RateLimiter;
  readonly cors: CorsPolicy | undefined;
}

const byConfig = new WeakMap<Config, SecurityRuntime>();

/** Clock of the security stages; monotonic for rate limits would drift from token times, so wall time. */
const now = (): number => Date.now();

/**
 * The security runtime of `context.config`. JWKS caches and rate-limit buckets live in `context.shared`, so a
 * reload keeps fetched keys and counters (a reload must not hand every client a fresh budget).
 */
export function securityRuntime(context: StageCompileContext): SecurityRuntime {
  const config = context.config;
  let runtime = byConfig.get(config);
  if (runtime !== undefined) return runtime;
  const jwtConfig = config.auth?.jwt;
  let jwks: JwksCache | undefined;
  if (jwtConfig?.jwks !== undefined) {
    const ttlMs = parseDurationMs(jwtConfig.jwksCacheTtl);
    const cooldownMs = parseDurationMs(jwtConfig.jwksCooldown);
    jwks = shared(context, `security:jwks:${jwtConfig.jwks}:${ttlMs}:${cooldownMs}`, () =>
      createJwksCache({ url: jwtConfig.jwks as string, ttlMs, cooldownMs, now }),
    );
  }
  runtime = {
    consumers: createConsumerTable(config.consumers ?? []),
    jwt: jwtConfig === undefined ? undefined : createJwtVerifier({ config: jwtConfig, jwks, now }),
    apiKeyHeader: (config.auth?.apiKeys?.header ?? 'x-api-key').toLowerCase(),
    apiKeyQuery: config.auth?.apiKeys?.query,
    rateLimiter: () => rateLimiterFor(context),
    cors: config.cors === undefined ? undefined : createCorsPolicy(config.cors),
  };
  byConfig.set(config, runtime);
  return runtime;
}

function rateLimiterFor(context: StageCompileContext): RateLimiter {
  const store = context.config.store;
  if (store.kind === 'redis') {
    const url = redisTargetOf(store);
    const events = rateLimitStoreEvents(context.shared);
    return shared(context, `security:rate-limit:redis:${describeRedisTarget(url)}:${store.prefix}`, () =>
      createRedisRateLimiter({
        url,
        prefix: store.prefix,
        localShares: store.expectedNodes * workerCount(context.config.workers),
        onSwitch: (event) => events.switched(event),
      }),
    );
  }
  return shared(context, 'security:rate-limit:local', () => createLocalRateLimiter({ now }));
}

function workerCount(workers: Config['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

function shared<T>(context: StageCompileContext, key: string, create: () => T): T {
  let value = context.shared.get(key) as T | undefined;
  if (value === undefined) {
    value = create();
    context.shared.set(key, value);
  }
  return value;
}

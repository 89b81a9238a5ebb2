import { availableParallelism } from 'node:os';
import type { Config } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { createConsumerTable, type ConsumerTable } from '../../security/consumers.ts';
import { createCorsPolicy, type CorsPolicy } from '../../security/cors.ts';
import type { JwksCache } from '../../security/jwks-cache.ts';
import { createJwtVerifier, type JwtVerifier } from '../../security/jwt-verifier.ts';
import type { RateLimiter } from '../../security/rate-limiter.ts';
import { redisTargetOf } from '../../store/redis-connection.ts';
import type { StageCompileContext } from '../pipeline/stage.ts';
import type { TableState } from '../runtime/node-state.ts';

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

const byTable = new WeakMap<TableState, SecurityRuntime>();

/** Clock of the security stages; monotonic for rate limits would drift from token times, so wall time. */
const now = (): number => Date.now();

/**
 * The security runtime of the table being compiled (`context.state`). JWKS caches and Redis rate limiters are
 * claimed from the node state, so a reload keeps fetched keys and counters (a reload must not hand every client a
 * fresh budget), and a table that is never swapped in connects nothing.
 */
export function securityRuntime(context: StageCompileContext): SecurityRuntime {
  const config = context.config;
  let runtime = byTable.get(context.state);
  if (runtime !== undefined) return runtime;
  const jwtConfig = config.auth?.jwt;
  let jwks: JwksCache | undefined;
  if (jwtConfig?.jwks !== undefined) {
    jwks = context.state.jwksCache({
      url: jwtConfig.jwks,
      ttlMs: parseDurationMs(jwtConfig.jwksCacheTtl),
      cooldownMs: parseDurationMs(jwtConfig.jwksCooldown),
    });
  }
  runtime = {
    consumers: createConsumerTable(config.consumers ?? []),
    jwt: jwtConfig === undefined ? undefined : createJwtVerifier({ config: jwtConfig, jwks, now }),
    apiKeyHeader: (config.auth?.apiKeys?.header ?? 'x-api-key').toLowerCase(),
    apiKeyQuery: config.auth?.apiKeys?.query,
    rateLimiter: () => rateLimiterFor(context),
    cors: config.cors === undefined ? undefined : createCorsPolicy(config.cors),
  };
  byTable.set(context.state, runtime);
  return runtime;
}

function rateLimiterFor(context: StageCompileContext): RateLimiter {
  const store = context.config.store;
  if (store.kind !== 'redis') return context.state.node.localRateLimiter;
  return context.state.redisRateLimiter({
    url: redisTargetOf(store),
    prefix: store.prefix,
    localShares: store.expectedNodes * workerCount(context.config.workers),
  });
}

function workerCount(workers: Config['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

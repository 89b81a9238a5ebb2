import { createHash } from 'node:crypto';
import type { RateLimitConfig, RouteConfig } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { bucketShape, type BucketShape, type RateLimitOutcome } from '../../security/rate-limiter.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { StageFactory } from '../pipeline/stage.ts';
import { securityRuntime } from './security-runtime.ts';

/** One limit of a route, compiled: its bucket key prefix, what it is keyed by, and its shape. */
interface CompiledLimit extends BucketShape {
  /** Name in RateLimit-Policy / RateLimit. */
  readonly policy: string;
  /** The fixed part of the bucket key; the `by` part is appended per request. */
  readonly key: string;
  readonly by: 'global' | 'consumer' | 'ip' | 'header';
  readonly header: string;
  readonly windowSeconds: number;
  readonly failClosed: boolean;
}

/**
 * Rate limiting (traffic phase). A named limit (top-level `rateLimits`) is one budget wherever it is named;
 * a limit written on a route is that route's own; a consumer's `rateLimit` applies to it on every route that
 * authenticates it. All limits of a request are drawn from atomically (one Redis round trip in shared mode):
 * a refused request takes nothing from any of them. Every answer carries RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers); a 429 also carries Retry-After.
 */
export const rateLimitStage: StageFactory = {
  name: 'rate-limit',
  phase: 'traffic',
  create(route, context) {
    const security = securityRuntime(context);
    const limits = compileLimits(route, context.config.rateLimits ?? {});
    const routeSet = limitSet(limits);
    // A consumer's own limit joins the route's: each set, with its header, is built once here, not per request.
    const consumerSets = new Map<string, LimitSet>();
    if (route.auth !== undefined) {
      for (const consumer of context.config.consumers ?? []) {
        if (consumer.rateLimit !== undefined) {
          const own = compile('consumer', `c:${consumer.id}`, consumer.rateLimit, route);
          consumerSets.set(consumer.id, limitSet([...limits, own]));
        }
      }
    }
    if (limits.length === 0 && consumerSets.size === 0) return undefined;
    const limiter = security.rateLimiter();
    const storeDown = new PorticoError('store_unavailable', 'rate limits cannot be checked', undefined, {
      headers: { 'retry-after': '1' },
    });

    return async function rateLimit(ctx, next) {
      const set = (ctx.consumer === undefined ? undefined : consumerSets.get(ctx.consumer)) ?? routeSet;
      const applied = set.limits;
      if (applied.length === 0) return next(ctx);
      const keys = new Array<string>(applied.length);
      for (let i = 0; i < applied.length; i++) keys[i] = bucketKey(applied[i] as CompiledLimit, ctx);
      let outcome: RateLimitOutcome;
      try {
        outcome = await limiter.consume(keys, applied);
      } catch (err) {
        if (!(err instanceof PorticoError) || err.code !== 'store_unavailable') throw err;
        if (set.failClosed) throw storeDown;
        return next(ctx);
      }
      const res = ctx.res;
      res.setHeader('ratelimit-policy', set.policyHeader);
      let tightest = 0;
      for (let i = 1; i < applied.length; i++)
        if ((outcome.remaining[i] as number) < (outcome.remaining[tightest] as number)) tightest = i;
      const limit = applied[tightest] as CompiledLimit;
      const resetSeconds = Math.ceil((outcome.resetUs[tightest] as number) / 1e6);
      res.setHeader('ratelimit', `"${limit.policy}";r=${outcome.remaining[tightest]};t=${resetSeconds}`);
      if (!outcome.allowed) {
        const retryAfter = String(Math.max(1, Math.ceil(outcome.retryAfterUs / 1e6)));
        throw new PorticoError('rate_limited', `rate limit "${limit.policy}" exceeded`, undefined, {
          headers: { 'retry-after': retryAfter },
        });
      }
      return next(ctx);
    };
  },
};

/** The limits one request draws from, with their RateLimit-Policy header. */
interface LimitSet {
  readonly limits: readonly CompiledLimit[];
  readonly policyHeader: string;
  /** Whether any of the limits refuses requests while the store is down. */
  readonly failClosed: boolean;
}

function limitSet(limits: readonly CompiledLimit[]): LimitSet {
  return {
    limits,
    policyHeader: limits.map(policyOf).join(', '),
    failClosed: limits.some((limit) => limit.failClosed),
  };
}

function compileLimits(
  route: RouteConfig,
  named: Readonly<Record<string, RateLimitConfig>>,
): CompiledLimit[] {
  const spec = route.rateLimit;
  if (spec === undefined) return [];
  const list = Array.isArray(spec) ? spec : [spec];
  const ownCount = list.filter((entry) => typeof entry !== 'string').length;
  const out: CompiledLimit[] = [];
  let own = 0;
  for (const entry of list) {
    if (typeof entry === 'string') {
      const config = named[entry];
      if (config === undefined) throw new Error(`route "${route.name}" names unknown rate limit "${entry}"`);
      out.push(compile(entry, `n:${entry}`, config, route));
    } else {
      const policy = ownCount === 1 ? route.name : `${route.name}.${own}`;
      out.push(compile(policy, `r:${route.name}:${own}`, entry, route));
      own++;
    }
  }
  return out;
}

function compile(policy: string, key: string, config: RateLimitConfig, route: RouteConfig): CompiledLimit {
  const windowMs = parseDurationMs(config.window);
  const shape = bucketShape(config.limit, windowMs);
  const by = config.by;
  const base = {
    ...shape,
    policy,
    windowSeconds: Math.max(1, Math.round(windowMs / 1000)),
    failClosed: config.onStoreFailure === 'closed',
    localFallback: config.onStoreFailure === 'local',
    localLimit: config.localLimit,
    header: '',
  };
  if (by === 'global') return { ...base, key, by: 'global' };
  // `route` splits a named budget per route; on a route's own limit it is the same as global.
  if (by === 'route') return { ...base, key: `${key}:${route.name}`, by: 'global' };
  if (by === 'consumer') return { ...base, key: `${key}:`, by: 'consumer' };
  if (by === 'ip') return { ...base, key: `${key}:`, by: 'ip' };
  return { ...base, key: `${key}:`, by: 'header', header: by.slice('header:'.length).toLowerCase() };
}

function policyOf(limit: CompiledLimit): string {
  return `"${limit.policy}";q=${limit.limit};w=${limit.windowSeconds}`;
}

function bucketKey(limit: CompiledLimit, ctx: RequestContext): string {
  switch (limit.by) {
    case 'global':
      return limit.key;
    case 'ip':
      return limit.key + ctx.clientIp;
    case 'consumer':
      // An anonymous caller has no consumer id: its budget is its client address.
      return ctx.consumer === undefined ? `${limit.key}ip:${ctx.clientIp}` : `${limit.key}c:${ctx.consumer}`;
    case 'header': {
      const value = ctx.req.headers[limit.header];
      const text = value === undefined ? '' : Array.isArray(value) ? value.join(',') : value;
      // Long values are hashed so a client cannot grow the key space with big keys.
      return limit.key + (text.length <= 64 ? text : createHash('sha256').update(text).digest('base64url'));
    }
  }
}

import type { RequestContext } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import { GuardedExchange } from './guarded-exchange.ts';
import { hashKeyOf } from './hash-key.ts';
import { noInstanceError } from './no-instance.ts';
import { UpstreamTry, type ProxyOptions } from './upstream-try.ts';

export type { ProxyObserver, ProxyOptions } from './upstream-try.ts';
export type { UpstreamErrorKind } from '../../resilience/upstream-failure.ts';

/**
 * The terminal service of a proxied route: picks an instance, streams the request to it through the
 * instance's undici pool and streams the answer back (one {@link UpstreamTry}, undici's `dispatch` with one
 * handler object per request, no per-request closures).
 *
 * Policies wrap the try the way undici's interceptors or cockatiel's `wrap` do: a service with retries,
 * breakers or a bulkhead, or a route with a deadline, gets a {@link GuardedExchange} around its tries, chosen
 * here once, so routes without them pay nothing for them.
 */
export function createProxyHandler(service: ServiceRuntime, options: ProxyOptions): Handler {
  const deadlineMs = options.deadlineMs ?? 0;
  const resilience = service.resilience;
  if (resilience !== undefined || deadlineMs > 0) {
    return function proxyWithPolicies(ctx: RequestContext) {
      const callerMs = ctx.deadlineMs;
      const effectiveMs = callerMs > 0 && (deadlineMs === 0 || callerMs < deadlineMs) ? callerMs : deadlineMs;
      new GuardedExchange(ctx, service, options, resilience, effectiveMs).begin();
    };
  }
  const fallback = options.fallback;
  return function proxyToService(ctx: RequestContext) {
    // A caller's deadline (grpc-timeout) takes the guarded path for this request only.
    if (ctx.deadlineMs > 0)
      return new GuardedExchange(ctx, service, options, undefined, ctx.deadlineMs).begin();
    const instances = ctx.instances ?? service.instances;
    const instance = instances.pick(hashKeyOf(service.hashKey, ctx));
    if (instance === undefined) {
      if (fallback !== undefined) return fallback.send(ctx.res, ctx.requestId);
      throw noInstanceError(instances, service, false);
    }
    new UpstreamTry(ctx, service, options).dispatch(instance);
  };
}

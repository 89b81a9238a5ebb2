import type { Config, RouteConfig } from '../../config/schema.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { TableState } from '../runtime/node-state.ts';
import { phases, type Phase } from '../../plugins/phases.ts';
import type { RequestContext } from './request-context.ts';

export { phases, type Phase };

/** The next step of a route's chain: another stage or the terminal service. */
export type Handler = (ctx: RequestContext) => void | Promise<void>;

/** A stage short-circuits by throwing a PorticoError or by answering without calling `next`. */
export type Stage = (ctx: RequestContext, next: Handler) => void | Promise<void>;

/** Builds a route's stage at compile time from its config; returns undefined when the route does not use it. */
export interface StageFactory {
  readonly name: string;
  readonly phase: Phase;
  create(route: RouteConfig, context: StageCompileContext): Stage | undefined;
}

/** What a stage factory may use at compile time besides the route's own config. */
export interface StageCompileContext {
  /** The whole config (top-level `auth`, `consumers`, `rateLimits`, `cors`, …). */
  readonly config: Config;
  /**
   * The node state this table is compiled with: parts of the node (`state.node`: contracts, version usage,
   * counts) and the parts a stage claims (rate-limit stores, JWKS caches, cache stores), kept from the
   * serving table when their settings did not change. Claiming opens nothing: the swap does.
   */
  readonly state: TableState;
  /** The services of the table being compiled (a stage that calls another service, such as mirroring). */
  readonly services?: ReadonlyMap<string, ServiceRuntime> | undefined;
}

/**
 * Links stages and the terminal service into one handler, once per route at compile time, so a request
 * allocates no closures walking the chain. A route with no stages calls its service directly.
 *
 * Each stage gets its own `next`, which refuses a second call (hono does the same): a stage that called it
 * twice would run the rest of the chain, and the upstream request, twice. The guard reads and writes one
 * counter on the context, so it costs a request nothing to allocate.
 */
export function composeStages(stages: readonly Stage[], terminal: Handler): Handler {
  let handler = terminal;
  for (let i = stages.length - 1; i >= 0; i--) handler = linkStage(stages[i] as Stage, i, handler);
  return handler;
}

function linkStage(stage: Stage, position: number, rest: Handler): Handler {
  const next: Handler = function nextOnce(ctx) {
    if (ctx.stagesPassed > position) throw new Error(`stage "${stage.name}" called next() a second time`);
    ctx.stagesPassed = position + 1;
    return rest(ctx);
  };
  return function runStage(ctx) {
    return stage(ctx, next);
  };
}

/** Orders stage factories by phase; factories of one phase keep their registration order. */
export function sortByPhase(factories: readonly StageFactory[]): StageFactory[] {
  return [...factories].sort((a, b) => phases.indexOf(a.phase) - phases.indexOf(b.phase));
}

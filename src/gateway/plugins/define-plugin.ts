import type { Static, TSchema } from '@sinclair/typebox';
import type { Phase } from '../../plugins/phases.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Stage } from '../pipeline/stage.ts';

/** What a plugin learns about the route it is compiled for. */
export interface PluginContext {
  /** The route's name (logs, metrics labels). */
  readonly route: string;
  /** The service the route sends to. */
  readonly service: string;
}

/**
 * A custom stage: its name (what routes write under `plugins`), the phase it runs in, a TypeBox schema of
 * its options, and a factory called once per route when the config is compiled (never per request).
 */
export interface PluginDefinition<Options extends TSchema = TSchema> {
  readonly name: string;
  readonly phase: Phase;
  /** Checked when the config loads, with the file and line of a bad value; defaults are filled in. */
  readonly options?: Options;
  /** Builds the route's stage; throwing here refuses the config (a reload keeps the running one). */
  create(options: Static<Options>, context: PluginContext): Stage;
}

/**
 * Declares a plugin with its option types inferred from the schema; the module's default export.
 *
 * @example
 * export default definePlugin({
 *   name: 'add-header',
 *   phase: 'transform',
 *   options: Type.Object({ value: Type.String() }),
 *   create: (options) => (ctx, next) => {
 *     ctx.res.setHeader('x-added', options.value);
 *     return next(ctx);
 *   },
 * });
 */
export function definePlugin<Options extends TSchema>(
  definition: PluginDefinition<Options>,
): PluginDefinition<Options> {
  return definition;
}

/**
 * Sends `name: value` to the upstream instead of any copy the client sent: a header a plugin vouches for
 * (a signature, an identity) must never reach the upstream twice, once forged.
 *
 * @example setUpstreamHeader(ctx, 'x-signature', signature);
 */
export function setUpstreamHeader(ctx: RequestContext, name: string, value: string): void {
  const lower = name.toLowerCase();
  const raw = ctx.req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if ((raw[i] as string).toLowerCase() === lower) raw.splice(i, 2);
  }
  delete ctx.req.headers[lower];
  const added = ctx.upstreamHeaders;
  ctx.upstreamHeaders = added === undefined ? [lower, value] : [...added, lower, value];
}

export { upstreamPathOf } from '../pipeline/request-context.ts';

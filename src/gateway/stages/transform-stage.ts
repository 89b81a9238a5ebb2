import type { HeaderEditConfig, RouteConfig, ServiceConfig, TransformConfig } from '../../config/schema.ts';
import { compileHeaderEdit, type CompiledHeaderEdit } from '../../policies/compile-header-edit.ts';
import { compileQueryEdit, type QueryEdit } from '../../policies/query-edit.ts';
import { editResponseHeaders } from '../forwarding/response-header-edit.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { Handler, StageFactory } from '../pipeline/stage.ts';

/**
 * Request and response transforms (transform phase: after validation, so the contract sees what the client
 * sent, and last before the service): the route's own, and on a route that chooses versions, the chosen
 * major's (`services.<name>.versions.<major>.transform`) after it. Everything is compiled here, once per
 * major; a request only fills placeholders when a value has some. Request header changes are applied by the
 * upstream header builder, before the gateway's own headers are added, so a transform cannot forge them (and
 * config checks refuse naming them).
 */
export const transformStage: StageFactory = {
  name: 'transform',
  phase: 'transform',
  create(route, context) {
    const base = route.transform;
    const byMajor = versionTransforms(route, context.config.services[route.service]);
    if (base === undefined && byMajor.size === 0) return undefined;
    const fallback = compileTransforms(base === undefined ? [] : [base]);
    if (byMajor.size === 0) {
      return function transform_(ctx, next) {
        return applyTransform(fallback, ctx, next);
      };
    }
    const compiled = new Map<number, CompiledTransform>();
    for (const [major, transform] of byMajor)
      compiled.set(major, compileTransforms(base === undefined ? [transform] : [base, transform]));
    return function versionedTransform(ctx, next) {
      const major = ctx.versionMajor;
      return applyTransform((major === undefined ? undefined : compiled.get(major)) ?? fallback, ctx, next);
    };
  },
};

interface CompiledTransform {
  readonly requestHeaders: CompiledHeaderEdit | undefined;
  readonly responseHeaders: CompiledHeaderEdit | undefined;
  readonly paths: readonly { readonly pattern: RegExp; readonly replacement: string }[];
  readonly query: QueryEdit | undefined;
}

/** The majors of the route's service that carry a transform, when the route chooses versions at all. */
function versionTransforms(
  route: RouteConfig,
  service: ServiceConfig | undefined,
): Map<number, TransformConfig> {
  const out = new Map<number, TransformConfig>();
  if (route.version === undefined && route.split === undefined) return out;
  for (const [major, policy] of Object.entries(service?.versions ?? {}))
    if (policy.transform !== undefined) out.set(Number(major), policy.transform);
  return out;
}

/**
 * Compiles the route's transform and the major's into one: path rewrites run in order (the route's first);
 * for headers and query parameters the later transform wins by name, and removals add up.
 */
function compileTransforms(list: readonly TransformConfig[]): CompiledTransform {
  const requestHeaders = mergeHeaderEdits(list.map((t) => t.request?.headers));
  const responseHeaders = mergeHeaderEdits(list.map((t) => t.response?.headers));
  const queries = list.map((t) => t.request?.query).filter((q) => q !== undefined);
  const querySet: Record<string, string> = Object.assign({}, ...queries.map((q) => q.set ?? {}));
  const queryRemove = queries.flatMap((q) => q.remove ?? []);
  return {
    requestHeaders: requestHeaders === undefined ? undefined : compileHeaderEdit(requestHeaders),
    responseHeaders: responseHeaders === undefined ? undefined : compileHeaderEdit(responseHeaders),
    paths: list.flatMap((t) =>
      t.request?.path === undefined
        ? []
        : [{ pattern: new RegExp(t.request.path.pattern), replacement: t.request.path.replacement }],
    ),
    query: queries.length === 0 ? undefined : compileQueryEdit(querySet, queryRemove),
  };
}

function mergeHeaderEdits(edits: readonly (HeaderEditConfig | undefined)[]): HeaderEditConfig | undefined {
  const present = edits.filter((edit) => edit !== undefined);
  if (present.length <= 1) return present[0];
  return {
    set: Object.assign({}, ...present.map((edit) => edit.set ?? {})),
    add: Object.assign({}, ...present.map((edit) => edit.add ?? {})),
    remove: present.flatMap((edit) => edit.remove ?? []),
    rename: Object.assign({}, ...present.map((edit) => edit.rename ?? {})),
  };
}

function applyTransform(t: CompiledTransform, ctx: RequestContext, next: Handler): void | Promise<void> {
  if (t.requestHeaders !== undefined)
    ctx.requestHeaderEdit = t.requestHeaders.constant ?? t.requestHeaders.resolve(ctx);
  if (t.paths.length > 0) {
    let path = upstreamPathOf(ctx);
    for (const rule of t.paths) path = path.replace(rule.pattern, rule.replacement);
    ctx.upstreamPath = path;
  }
  if (t.query !== undefined) ctx.query = t.query.apply(ctx.query, ctx);
  if (t.responseHeaders !== undefined)
    editResponseHeaders(ctx.res, t.responseHeaders.constant ?? t.responseHeaders.resolve(ctx));
  return next(ctx);
}

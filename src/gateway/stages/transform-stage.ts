import { compileHeaderEdit } from '../../policies/compile-header-edit.ts';
import { compileQueryEdit } from '../../policies/query-edit.ts';
import { editResponseHeaders } from '../forwarding/response-header-edit.ts';
import { upstreamPathOf } from '../pipeline/request-context.ts';
import type { StageFactory } from '../pipeline/stage.ts';

/**
 * Request and response transforms (transform phase: after validation, so the contract sees what the client
 * sent, and last before the service). Everything is compiled here; a request only fills placeholders when a
 * value has some. Request header changes are applied by the upstream header builder, before the gateway's
 * own headers are added, so a transform cannot forge them (and config checks refuse naming them).
 */
export const transformStage: StageFactory = {
  name: 'transform',
  phase: 'transform',
  create(route) {
    const transform = route.transform;
    if (transform === undefined) return undefined;
    const requestHeaders =
      transform.request?.headers === undefined ? undefined : compileHeaderEdit(transform.request.headers);
    const responseHeaders =
      transform.response?.headers === undefined ? undefined : compileHeaderEdit(transform.response.headers);
    const pathRule = transform.request?.path;
    const pathPattern = pathRule === undefined ? undefined : new RegExp(pathRule.pattern);
    const pathReplacement = pathRule?.replacement ?? '';
    const queryRule = transform.request?.query;
    const query =
      queryRule === undefined ? undefined : compileQueryEdit(queryRule.set ?? {}, queryRule.remove ?? []);

    return function transform_(ctx, next) {
      if (requestHeaders !== undefined)
        ctx.requestHeaderEdit = requestHeaders.constant ?? requestHeaders.resolve(ctx);
      if (pathPattern !== undefined)
        ctx.upstreamPath = upstreamPathOf(ctx).replace(pathPattern, pathReplacement);
      if (query !== undefined) ctx.query = query.apply(ctx.query, ctx);
      if (responseHeaders !== undefined)
        editResponseHeaders(ctx.res, responseHeaders.constant ?? responseHeaders.resolve(ctx));
      return next(ctx);
    };
  },
};

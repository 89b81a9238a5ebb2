import type { StageFactory } from '../pipeline/stage.ts';
import { securityRuntime } from './security-runtime.ts';

/**
 * CORS on every route when `cors` is configured (edge phase, so it runs before authentication): preflights
 * are answered here and never reach the service; actual requests from allowed origins get the CORS headers on
 * whatever answer follows, errors included.
 */
export const corsStage: StageFactory = {
  name: 'cors',
  phase: 'edge',
  create(_route, context) {
    const cors = securityRuntime(context).cors;
    if (cors === undefined) return undefined;
    return function cors_(ctx, next) {
      const req = ctx.req;
      if (req.headers.origin === undefined) return next(ctx);
      if (cors.isPreflight(req)) return cors.answerPreflight(req, ctx.res);
      cors.decorate(req, ctx.res);
      return next(ctx);
    };
  },
};

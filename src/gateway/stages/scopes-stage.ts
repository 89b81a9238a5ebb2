import { PorticoError } from '../../errors/portico-error.ts';
import type { StageFactory } from '../pipeline/stage.ts';

/** Per-method requirements compiled from `scopes`; `fallback` is the list (or `"*"`) for other methods. */
interface Requirement {
  readonly scopes: readonly string[];
  readonly error: PorticoError;
}

/**
 * Access control (authorize phase) on routes with `scopes`: the caller must hold every scope listed for the
 * request's method (a list applies to all methods; a mapping names methods, `"*"` covering the rest).
 * Missing scopes → 403 `forbidden` with an RFC 6750 `insufficient_scope` challenge.
 */
export const scopesStage: StageFactory = {
  name: 'scopes',
  phase: 'authorize',
  create(route) {
    const spec = route.scopes;
    if (spec === undefined) return undefined;
    // `null` is "no scopes needed", so one map lookup tells a method listed with `[]` from an unlisted one.
    const requirement = (scopes: readonly string[]): Requirement | null =>
      scopes.length === 0
        ? null
        : {
            scopes,
            error: new PorticoError('forbidden', `requires the scopes: ${scopes.join(' ')}`, undefined, {
              headers: {
                'www-authenticate': `Bearer realm="portico", error="insufficient_scope", scope="${scopes.join(' ')}"`,
              },
            }),
          };
    const byMethod = new Map<string, Requirement | null>();
    let fallback: Requirement | null = null;
    if (Array.isArray(spec)) fallback = requirement(spec);
    else {
      for (const [method, scopes] of Object.entries(spec)) {
        if (method === '*') fallback = requirement(scopes);
        else byMethod.set(method.toUpperCase(), requirement(scopes));
      }
    }
    const unauthenticated = new PorticoError('unauthorized', 'credentials are missing');

    return function authorize(ctx, next) {
      const method = ctx.req.method ?? 'GET';
      const listed = byMethod.get(method);
      const required = listed === undefined ? fallback : listed;
      if (required === null) return next(ctx);
      const held = ctx.scopes;
      if (held === undefined) throw unauthenticated;
      const scopes = required.scopes;
      for (let i = 0; i < scopes.length; i++) if (!held.has(scopes[i] as string)) throw required.error;
      return next(ctx);
    };
  },
};

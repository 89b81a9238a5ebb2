import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from '../config/schema.ts';
import { parseDurationMs } from '../config/units.ts';

/** A compiled CORS policy. */
export interface CorsPolicy {
  /** Whether the request is a preflight (OPTIONS with Access-Control-Request-Method). */
  isPreflight(req: IncomingMessage): boolean;
  /** Answers a preflight: 204, with CORS headers only when origin, method and headers are all allowed. */
  answerPreflight(req: IncomingMessage, res: ServerResponse): void;
  /** Adds the CORS headers of an actual request from an allowed origin; a disallowed origin gets none. */
  decorate(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Compiles `cors` once. Origins are compared exactly (scheme, host and port, case-insensitively); `*` allows
 * any origin and, with `credentials`, is refused by the config check because it would hand every site the
 * user's cookies. The allowed origin is echoed rather than `*`, with `Vary: Origin` so caches keep answers
 * per origin.
 *
 * @example
 * const cors = createCorsPolicy({ origins: ['https://shop.example.test'], methods: ['GET'], headers: [], ... });
 * if (cors.isPreflight(req)) cors.answerPreflight(req, res);
 */
export function createCorsPolicy(config: CorsConfig): CorsPolicy {
  const anyOrigin = config.origins.includes('*');
  const origins = new Set(config.origins.map((o) => o.toLowerCase()));
  const methods = new Set(config.methods);
  const allowMethods = config.methods.join(', ');
  const headers = new Set(config.headers.map((h) => h.toLowerCase()));
  const maxAge =
    config.maxAge === undefined ? undefined : String(Math.floor(parseDurationMs(config.maxAge) / 1000));
  const expose = config.exposeHeaders.length === 0 ? undefined : config.exposeHeaders.join(', ');

  function allowedOrigin(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (origin === undefined || origin === 'null') return undefined;
    return anyOrigin || origins.has(origin.toLowerCase()) ? origin : undefined;
  }

  function headersAllowed(requested: string | undefined): boolean {
    if (requested === undefined) return true;
    for (const name of requested.split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed !== '' && !headers.has(trimmed)) return false;
    }
    return true;
  }

  return {
    isPreflight(req) {
      return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    },
    answerPreflight(req, res) {
      const origin = allowedOrigin(req);
      const method = req.headers['access-control-request-method'] as string;
      const requested = req.headers['access-control-request-headers'];
      res.setHeader('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      if (origin !== undefined && methods.has(method) && headersAllowed(requested)) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-allow-methods', allowMethods);
        if (requested !== undefined && requested.trim() !== '')
          res.setHeader('access-control-allow-headers', requested);
        if (maxAge !== undefined) res.setHeader('access-control-max-age', maxAge);
        if (config.credentials) res.setHeader('access-control-allow-credentials', 'true');
      }
      res.statusCode = 204;
      res.setHeader('content-length', '0');
      res.end();
    },
    decorate(req, res) {
      const origin = allowedOrigin(req);
      if (origin === undefined) return;
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      if (config.credentials) res.setHeader('access-control-allow-credentials', 'true');
      if (expose !== undefined) res.setHeader('access-control-expose-headers', expose);
    },
  };
}

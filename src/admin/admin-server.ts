import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { sendError, sendProblem } from '../errors/problem.ts';
import type { AdminRoute } from './admin-route.ts';

export interface AdminServerOptions {
  /** Current endpoints; read per call so features can be mounted after start. */
  readonly routes: () => readonly AdminRoute[];
  /** Current token; undefined means no token (allowed only on loopback, checked by config validation). */
  readonly token: () => string | undefined;
  readonly logger: Logger;
}

/**
 * Probes answer without a token so orchestrators can check liveness. The dashboard's page (`/`) and its static
 * files (`/dashboard/…`) load without it too: they hold no data, and the page asks for the token before it calls
 * the API. Everything else needs the token.
 */
const openPaths = new Set(['/healthz', '/readyz', '/']);
const openPrefix = '/dashboard/';

/**
 * The admin listener: admin API, registry API, /metrics. Admin traffic is light, so routes are matched by a
 * linear scan of literal and `{param}` segments rather than a router.
 */
export function createAdminServer(options: AdminServerOptions): Server {
  return createServer({ requireHostHeader: false }, (req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      if (!(err instanceof PorticoError)) options.logger.error({ err }, 'admin request failed');
      sendError(res, err);
    });
  });
}

async function handle(options: AdminServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const token = options.token();
  if (
    token !== undefined &&
    !openPaths.has(url.pathname) &&
    !url.pathname.startsWith(openPrefix) &&
    !hasToken(req, token)
  ) {
    sendProblem(res, 'unauthorized', 'a valid admin token is required', undefined, {
      'www-authenticate': 'Bearer realm="portico-admin"',
    });
    return;
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  let pathMatched = false;
  for (const route of options.routes()) {
    const params = matchPath(route.path, segments);
    if (params === undefined) continue;
    pathMatched = true;
    if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
    await route.handler(req, res, { params, url });
    return;
  }
  if (pathMatched) sendProblem(res, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
  else sendProblem(res, 'not_found', `no admin endpoint at ${url.pathname}`);
}

function matchPath(pattern: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = pattern.split('/').filter((s) => s !== '');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const segment = segments[i] as string;
    if (part.startsWith('{') && part.endsWith('}')) {
      try {
        params[part.slice(1, -1)] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (part !== segment) return undefined;
  }
  return params;
}

/** Compares digests so the comparison takes the same time whatever the token length. */
function hasToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7)).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { sendError, sendProblem } from '../errors/problem.ts';
import { mayCall, type AccessTable, type Principal } from './access.ts';
import type { AdminRoute } from './admin-route.ts';

export interface AdminServerOptions {
  /** Current endpoints; read per call so features can be mounted after start. */
  readonly routes: () => readonly AdminRoute[];
  /** Tokens of the current config; none means an open listener (allowed only on loopback, checked by validation). */
  readonly access: () => AccessTable;
  readonly logger: Logger;
}

/**
 * Probes answer without a token so orchestrators can check liveness. The dashboard's page (`/`) and its static
 * files (`/dashboard/…`) load without it too: they hold no data, and the page asks for the token before it calls
 * the API. Everything else needs a token whose role allows the call (see access.ts).
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
  const principal = options.access().identify(req.headers.authorization);
  if (req.method !== 'GET' && req.method !== 'HEAD') audit(options.logger, principal, req, url, res);
  if (principal === undefined && !openPaths.has(url.pathname) && !url.pathname.startsWith(openPrefix)) {
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
    if (principal !== undefined && !mayCall(principal, route.method, route.path, params)) {
      sendProblem(
        res,
        'forbidden',
        `the token "${principal.name}" (role ${principal.role}) may not call ${route.method} ${url.pathname}`,
      );
      return;
    }
    await route.handler(req, res, { params, url, principal });
    return;
  }
  if (pathMatched) sendProblem(res, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
  else sendProblem(res, 'not_found', `no admin endpoint at ${url.pathname}`);
}

/** One audit line per admin write, refused ones included, once the answer is sent: who, what, result. */
function audit(
  logger: Logger,
  principal: Principal | undefined,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): void {
  res.once('close', () => {
    const status = res.statusCode;
    logger.info(
      {
        audit: {
          who: principal?.name ?? 'unauthenticated',
          role: principal?.role,
          method: req.method,
          path: url.pathname,
          status,
          result: !res.writableFinished ? 'aborted' : status < 400 ? 'ok' : 'refused',
        },
      },
      'admin write',
    );
  });
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

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PorticoError } from '../errors/portico-error.ts';
import { sendError, sendProblem } from '../errors/problem.ts';
import type { Logger } from '../observability/logger.ts';
import { sha256Hex } from './access.ts';
import type { AdminRoute } from './admin-route.ts';

export interface StatusServerOptions {
  /** The admin listener's endpoints; only GET /healthz, /readyz and /metrics are served from them. */
  readonly routes: () => readonly AdminRoute[];
  /** Bearer token for /metrics; undefined leaves it open. The probes never need one. */
  readonly token: string | undefined;
  readonly logger: Logger;
}

const statusPaths = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The status listener: probes and Prometheus without admin rights. It serves the same handlers as the
 * admin listener (so a worker's /metrics still answers for the whole node) and nothing else.
 *
 * @example const server = createStatusServer({ routes: () => adminRoutes, token: undefined, logger });
 */
export function createStatusServer(options: StatusServerOptions): Server {
  const expected = options.token === undefined ? undefined : Buffer.from(sha256Hex(options.token));
  return createServer({ requireHostHeader: false }, (req, res) => {
    handle(options, expected, req, res).catch((err: unknown) => {
      if (!(err instanceof PorticoError)) options.logger.error({ err }, 'status request failed');
      sendError(res, err);
    });
  });
}

async function handle(
  options: StatusServerOptions,
  expected: Buffer | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://status.invalid');
  if (!statusPaths.has(url.pathname)) {
    sendProblem(res, 'not_found', `the status listener serves only /healthz, /readyz and /metrics`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendProblem(res, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    return;
  }
  if (url.pathname === '/metrics' && expected !== undefined && !hasToken(req, expected)) {
    sendProblem(res, 'unauthorized', 'a valid status token is required', undefined, {
      'www-authenticate': 'Bearer realm="portico-status"',
    });
    return;
  }
  const route = options.routes().find((r) => r.method === 'GET' && r.path === url.pathname);
  if (route === undefined) {
    sendProblem(res, 'not_found', `${url.pathname} is not enabled`);
    return;
  }
  await route.handler(req, res, { params: {}, url });
}

/** Compares digests so the comparison takes the same time whatever the token length. */
function hasToken(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  return timingSafeEqual(Buffer.from(sha256Hex(header.slice(7))), expected);
}

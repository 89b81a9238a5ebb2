import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './access.ts';

/** What an admin handler receives besides the raw request and response. */
export interface AdminContext {
  /** Path parameters from the route pattern, e.g. `{service}`. */
  readonly params: Readonly<Record<string, string>>;
  /** The parsed request URL (query in `url.searchParams`). */
  readonly url: URL;
  /** Who called (undefined on the open paths when no valid token was sent). */
  readonly principal?: Principal | undefined;
}

export type AdminHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: AdminContext,
) => void | Promise<void>;

/**
 * One endpoint of the admin listener. Feature modules (registry, config, metrics) export arrays of these;
 * the admin server mounts them behind the token check and turns thrown PorticoErrors into problem+json.
 *
 * @example
 * const ping: AdminRoute = { method: 'GET', path: '/v1/ping', handler: (_req, res) => res.end('pong') };
 */
export interface AdminRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';
  /** Literal segments and `{name}` parameters, e.g. `/v1/services/{service}/instances/{id}`. */
  readonly path: string;
  readonly handler: AdminHandler;
}

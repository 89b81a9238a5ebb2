import type { ServerResponse } from 'node:http';
import type { RouteConfig } from '../../config/schema.ts';

/** A route's static answer, built once at compile time. */
export interface FallbackAnswer {
  /** Sends the answer (with the request id and `Portico-Fallback: true`). */
  send(res: ServerResponse, requestId: string): void;
}

/**
 * The route's `fallback`: a static JSON answer used when its service has no available instance or its
 * circuit breaker is open, so a degraded dependency gives a well-formed answer instead of a 503. The body
 * is serialised once; an answer only copies a few header strings.
 *
 * @example
 * createFallbackAnswer({ status: 200, body: { status: 'degraded' } })?.send(res, requestId);
 */
export function createFallbackAnswer(config: RouteConfig['fallback']): FallbackAnswer | undefined {
  if (config === undefined) return undefined;
  const body = config.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(config.body));
  const headers: string[] = [];
  let hasType = false;
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') hasType = true;
    headers.push(name, value);
  }
  if (!hasType && body.length > 0) headers.push('content-type', 'application/json');
  headers.push(
    'content-length',
    String(body.length),
    'portico-fallback',
    'true',
    'cache-control',
    'no-store',
  );
  const status = config.status;
  return {
    send(res, requestId) {
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, [...headers, 'x-request-id', requestId]);
      res.end(body);
    },
  };
}

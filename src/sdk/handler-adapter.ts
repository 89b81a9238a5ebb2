import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** A web-standard app, such as Hono's: `app.fetch(request)`. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** A Fastify instance (not listening: the SDK's server feeds it through `routing`). */
export interface RoutingApp {
  ready(): PromiseLike<unknown>;
  routing(req: IncomingMessage, res: ServerResponse): void;
}

/** What `createService` can serve: a node:http handler or an Express app (both plain functions), Hono, Fastify. */
export type ServiceApp = RequestListener | FetchApp | RoutingApp;

/** Turns any supported app into a node:http request listener. */
export async function toRequestListener(app: ServiceApp): Promise<RequestListener> {
  if (typeof app === 'function') return app;
  if ('routing' in app && typeof app.routing === 'function') {
    await app.ready();
    return (req, res) => app.routing(req, res);
  }
  if ('fetch' in app && typeof app.fetch === 'function') return fetchListener(app);
  throw new TypeError(
    'app must be a (req, res) handler, an Express app, a Hono app (fetch) or a Fastify instance',
  );
}

function fetchListener(app: FetchApp): RequestListener {
  return function serveFetchApp(req, res) {
    respond(app, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      else res.destroy(err as Error);
    });
  };
}

async function respond(app: FetchApp, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: 'half',
  } as RequestInit);
  const response = await app.fetch(request);
  const cookies = response.headers.getSetCookie();
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  if (cookies.length > 0) out['set-cookie'] = cookies;
  res.writeHead(response.status, out);
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream), res);
}

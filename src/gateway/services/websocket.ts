import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../observability/logger.ts';
import { problemBody } from '../../errors/problem.ts';
import type { ErrorCode } from '../../errors/catalog.ts';
import { errorCatalog } from '../../errors/catalog.ts';
import { buildUpstreamHeaders, resolveClientIp } from '../forwarding/upstream-headers.ts';
import { normalizePath } from '../../paths/normalize-path.ts';
import { isTrustedPeer, requestIdOf } from '../forwarding/request-identity.ts';
import { checkFraming } from '../../security/framing.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';
import { hashKeyOf } from './hash-key.ts';
import { RequestContext } from '../pipeline/request-context.ts';

/**
 * Proxies an HTTP/1.1 Upgrade (WebSocket) on a matching route: the handshake goes to a picked instance with
 * the usual forwarding headers; on 101 the two sockets are piped together. Upgrades are rare next to plain
 * requests, so this path favours clarity over the proxy's allocation discipline.
 */
export function proxyUpgrade(
  runtime: Runtime,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  logger: Logger,
): void {
  socket.on('error', () => socket.destroy());
  if (checkFraming(req) !== undefined) return refuse(socket, 'bad_request');
  const target = normalizePath(req.url ?? '');
  if (target === undefined) return refuse(socket, 'bad_request');
  const match = runtime.router.find(req.method ?? 'GET', req.headers.host, target.path, req.headers);
  if (match === undefined || !match.entry.value.websocket) return refuse(socket, 'route_not_found');
  const route = match.entry.value;
  // The route's stages (authentication, scopes, rate limits) do not run on this path yet: refuse rather
  // than let an Upgrade header walk around them.
  if (
    route.config.auth !== undefined ||
    route.config.scopes !== undefined ||
    route.config.rateLimit !== undefined
  )
    return refuse(socket, route.config.auth === undefined ? 'forbidden' : 'unauthorized');
  const peer = req.socket.remoteAddress ?? '';
  const trusted = isTrustedPeer(req.socket, peer, runtime.trustedProxies);
  const clientIp = resolveClientIp(peer, trusted, req.headers['x-forwarded-for'], runtime.trustedProxies);
  const requestId = requestIdOf(req);
  const ctx = new RequestContext(
    req,
    undefined as never,
    route,
    match.params,
    target.path,
    target.query,
    clientIp,
    trusted,
    requestId,
    performance.now(),
  );
  const instance = route.service.instances.pick(hashKeyOf(route.service.hashKey, ctx));
  if (instance === undefined) return refuse(socket, 'no_healthy_instance');
  const headers = buildUpstreamHeaders(req, {
    peer,
    fromTrustedProxy: trusted,
    requestId,
    upstreamHost: route.preserveHost ? (req.headers.host ?? instance.url.host) : instance.url.host,
    contentLength: -1,
  });
  headers.push('connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
  const path = instance.pathPrefix + route.upstreamPath(target.path, match.params);
  const upstreamReq = request({
    host: instance.url.hostname,
    port: instance.url.port,
    method: req.method,
    path: target.query === '' ? path : `${path}?${target.query}`,
    headers,
    timeout: route.service.connectTimeoutMs,
  });
  instance.inflight++;
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      instance.inflight--;
    }
  };
  upstreamReq.on('timeout', () =>
    upstreamReq.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
  );
  upstreamReq.on('upgrade', (res, upstreamSocket, upstreamHead) => {
    upstreamReq.setTimeout(0);
    let head101 = `HTTP/1.1 ${res.statusCode ?? 101} ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < res.rawHeaders.length; i += 2)
      head101 += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
    socket.write(`${head101}\r\n`);
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('close', () => {
      upstreamSocket.destroy();
      release();
    });
    upstreamSocket.on('close', () => {
      socket.destroy();
      release();
    });
    upstreamSocket.pipe(socket).pipe(upstreamSocket);
  });
  upstreamReq.on('response', (res) => {
    // The instance refused the upgrade: relay its answer as a normal response.
    let text = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\nconnection: close\r\n`;
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = (res.rawHeaders[i] as string).toLowerCase();
      if (name !== 'connection' && name !== 'transfer-encoding' && name !== 'keep-alive') {
        text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      }
    }
    socket.write(`${text}\r\n`);
    res.pipe(socket);
    res.on('end', release);
  });
  upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
    release();
    logger.debug({ err: err.message, requestId }, 'websocket upstream failed');
    refuse(socket, err.code === 'ETIMEDOUT' ? 'upstream_timeout' : 'upstream_unavailable');
  });
  upstreamReq.end();
}

function refuse(socket: Duplex, code: ErrorCode): void {
  if (!socket.writable) return void socket.destroy();
  const body = problemBody(code);
  const status = errorCatalog[code].status;
  socket.end(
    `HTTP/1.1 ${status} ${errorCatalog[code].title}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

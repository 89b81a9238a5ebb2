import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * How long and how much of an unread request body is read and dropped after an early answer before the
 * connection is cut (nginx's lingering_time is 30 s; Portico's answers are small and loopback-fast).
 */
const LINGER_TIME_MS = 5_000;
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/** Bodies up to this size are read through by Node's parser and the connection stays open. */
const DRAIN_ON_KEEP_ALIVE_BYTES = 64 * 1024;

const kLingering = Symbol('portico.lingering');
type LingeringSocket = Socket & { [kLingering]?: { bytesAtStart: number; timer: NodeJS.Timeout } };

/**
 * After an answer made before the request body was read (413, 401, 429, 404…): closing the socket
 * while the client still sends makes its kernel answer with a reset, and the client can lose the answer
 * it has not read yet. Like nginx's lingering close, the answer goes out with `Connection: close`, then the
 * write side closes (FIN) and whatever the client still sends is read and dropped, bounded in time and
 * size, before the socket is destroyed. A small declared body is simply drained by Node's parser and the
 * connection is kept.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  // HTTP/2: the answer ends its own stream, the connection stays. Once it is out, RST_STREAM(NO_ERROR) asks the
  // client to stop sending the rest of the request (RFC 9113 §8.1); until then what it sends is read and dropped.
  if (req.httpVersionMajor === 2) {
    req.resume();
    (res as unknown as Partial<Http2ServerResponse>).stream?.once('finish', endHttp2Stream);
    return;
  }
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (
    !chunked &&
    declared !== undefined &&
    Number(declared) <= DRAIN_ON_KEEP_ALIVE_BYTES &&
    !res.headersSent
  ) {
    req.resume();
    return;
  }
  res.shouldKeepAlive = false;
  // Node's server calls destroySoon() once the last answer is flushed: linger instead.
  const socket = req.socket;
  if (socket.destroySoon === (Object.getPrototypeOf(socket) as Socket).destroySoon)
    socket.destroySoon = lingerThenDestroy;
  req.resume();
}

/** Replaces `socket.destroySoon` on a socket that must linger; `this` is the socket. */
function lingerThenDestroy(this: LingeringSocket): void {
  if (this[kLingering] !== undefined || this.destroyed) return;
  this.end();
  // The HTTP parser's listeners go: nothing after this point is parsed as a request.
  this.removeAllListeners('data');
  this.removeAllListeners('end');
  this[kLingering] = { bytesAtStart: this.bytesRead, timer: setTimeout(destroySocket, LINGER_TIME_MS, this) };
  this[kLingering].timer.unref();
  this.on('data', dropLingeringBytes);
  this.once('end', destroyThis);
  this.once('close', clearLinger);
  this.resume();
}

function dropLingeringBytes(this: LingeringSocket): void {
  const linger = this[kLingering];
  if (linger !== undefined && this.bytesRead - linger.bytesAtStart > LINGER_MAX_BYTES) this.destroy();
}

function endHttp2Stream(this: ServerHttp2Stream): void {
  if (!this.closed) this.close(constants.NGHTTP2_NO_ERROR);
}

function destroyThis(this: Socket): void {
  this.destroy();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function clearLinger(this: LingeringSocket): void {
  const linger = this[kLingering];
  if (linger !== undefined) clearTimeout(linger.timer);
}

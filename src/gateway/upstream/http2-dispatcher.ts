import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import type { UpstreamTls } from './upstream-tls.ts';

/** Where and how an {@link Http2Dispatcher} connects. */
export interface Http2DispatcherOptions {
  /** `http://host:port` (h2c with prior knowledge) or `https://host:port` (h2 by ALPN). */
  readonly origin: string;
  readonly connectTimeoutMs: number;
  /** A session with no stream open for this long is closed (the pool's keep-alive timeout); 0 keeps it. */
  readonly idleTimeoutMs?: number | undefined;
  readonly lookup?: GuardedLookup | undefined;
  readonly tls?: UpstreamTls | undefined;
}

/** The part of undici's handler contract the proxy's tries implement (`UpstreamTry`). */
export interface LegacyHandler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Record<string, string | string[] | undefined> | null): void;
  onError(err: Error): void;
}

/** An error with the code undici would give the same failure, so `classifyUpstreamFailure` reads it the same. */
function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Headers that belong to one HTTP/1.1 connection and must not appear in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/**
 * Sends requests to one HTTP/2 origin over a single multiplexed `node:http2` session (undici runs each POST
 * alone on its own connection, see ADR 8). Used for gRPC calls, which are all POSTs with streamed bodies. A
 * session that received GOAWAY lets its running streams finish (undici fails them) while new requests open a
 * new session. Speaks undici's `dispatch(options, handler)` so the proxy's try, its retries, deadlines and
 * breakers stay as they are; errors carry the codes undici uses for the same failures.
 */
export class Http2Dispatcher {
  readonly #options: Http2DispatcherOptions;
  #session: ClientHttp2Session | undefined;
  #closed = false;
  /** Streams open on the current session; the idle timer runs while there are none. */
  #open = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #onStreamClose = (): void => {
    if (--this.#open === 0) this.#armIdleTimer();
  };

  constructor(options: Http2DispatcherOptions) {
    this.#options = options;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: LegacyHandler): boolean {
    if (this.#closed) {
      handler.onError(failure('UND_ERR_CLOSED', 'the HTTP/2 dispatcher is closed'));
      return false;
    }
    const session = this.#sessionNow();
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(toHttp2Headers(options), { endStream: options.body == null });
    } catch (err) {
      // A session out of stream ids (2^31 of them) or going away: the next call opens a new one.
      if (this.#session === session) this.#session = undefined;
      session.close();
      handler.onError(asUndiciError(err as Error));
      return false;
    }
    new Http2Exchange(stream, options, handler);
    if (this.#open++ === 0) clearTimeout(this.#idleTimer);
    stream.once('close', this.#onStreamClose);
    return true;
  }

  /**
   * Closes the session once it has carried no stream for `idleTimeoutMs`, as undici's keep-alive timeout does
   * for its connections: an idle session to an instance that went away without a FIN (a partition, a host
   * gone) is never reused, and the next call opens a fresh one, whose failure to connect is retried elsewhere.
   * Long streams are never cut: the timer runs only while no stream is open.
   */
  #armIdleTimer(): void {
    const idleMs = this.#options.idleTimeoutMs ?? 0;
    if (idleMs <= 0) return;
    clearTimeout(this.#idleTimer);
    const session = this.#session;
    this.#idleTimer = setTimeout(() => {
      if (this.#open > 0 || session === undefined || this.#session !== session) return;
      this.#session = undefined;
      session.close();
    }, idleMs);
    this.#idleTimer.unref();
  }

  /** Lets running streams finish, then closes the session. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined || session.destroyed) return;
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }

  #sessionNow(): ClientHttp2Session {
    const current = this.#session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const { origin, tls, lookup, connectTimeoutMs } = this.#options;
    const session = connect(origin, {
      ...(lookup === undefined ? {} : { lookup }),
      ...(tls === undefined ? {} : tls),
    });
    this.#session = session;
    const forget = (): void => {
      if (this.#session === session) this.#session = undefined;
    };
    // Streams below the GOAWAY's last stream id go on; new requests must not start on this session.
    session.once('goaway', forget);
    session.once('close', forget);
    session.on('error', forget);
    if (connectTimeoutMs > 0) {
      const timer = setTimeout(() => {
        if (!session.connecting) return;
        session.destroy(failure('UND_ERR_CONNECT_TIMEOUT', `connect timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      session.once('connect', () => clearTimeout(timer));
      session.once('close', () => clearTimeout(timer));
    }
    return session;
  }
}

/** One request on a session, driving the handler. */
class Http2Exchange {
  readonly #handler: LegacyHandler;
  readonly #stream: ClientHttp2Stream;
  readonly #bodyTimeoutMs: number;
  #trailers: Record<string, string | string[] | undefined> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(stream: ClientHttp2Stream, options: Dispatcher.DispatchOptions, handler: LegacyHandler) {
    this.#handler = handler;
    this.#bodyTimeoutMs = options.bodyTimeout ?? 0;
    const body = options.body as Buffer | string | Readable | null | undefined;
    this.#stream = stream;
    // Listening first: a try aborted at once (its deadline already passed) still owns the stream's events.
    stream.on('error', (err: Error & { code?: string }) => this.#fail(asUndiciError(err)));
    handler.onConnect((err) => this.#fail(err ?? failure('UND_ERR_ABORTED', 'aborted')));
    if (this.#done) return;
    const headersTimeoutMs = options.headersTimeout ?? 0;
    if (headersTimeoutMs > 0)
      this.#timer = setTimeout(() => {
        this.#fail(failure('UND_ERR_HEADERS_TIMEOUT', 'headers timeout'));
      }, headersTimeoutMs);
    stream.on('response', (head) => this.#onResponse(head));
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('trailers', (trailers) => (this.#trailers = withoutPseudo(trailers)));
    stream.on('end', () => this.#complete());
    stream.on('close', () => {
      if (this.#done) return;
      // Closed before its end: reset by the instance (RST_STREAM), or its session went away.
      this.#fail(failure('UND_ERR_SOCKET', `stream closed (code ${stream.rstCode ?? 0})`));
    });
    if (body != null) writeBody(stream, body, (err) => this.#fail(asUndiciError(err)));
  }

  #onResponse(head: IncomingHttpHeaders): void {
    if (this.#done) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armBodyTimer();
    const status = Number(head[':status']);
    const raw: Buffer[] = [];
    for (const name in head) {
      if (name.charCodeAt(0) === 0x3a) continue;
      const value = head[name];
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value])
        raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(one), 'latin1'));
    }
    if (!this.#handler.onHeaders(status, raw, () => this.#stream.resume(), '')) this.#stream.pause();
  }

  #onData(chunk: Buffer): void {
    if (this.#done) return;
    this.#armBodyTimer();
    if (!this.#handler.onData(chunk)) this.#stream.pause();
  }

  #armBodyTimer(): void {
    if (this.#bodyTimeoutMs <= 0) return;
    if (this.#timer === undefined)
      this.#timer = setTimeout(() => {
        this.#fail(failure('UND_ERR_BODY_TIMEOUT', 'body timeout'));
      }, this.#bodyTimeoutMs);
    else this.#timer.refresh();
  }

  #complete(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#handler.onComplete(this.#trailers);
  }

  #fail(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    if (!this.#stream.destroyed) this.#stream.close(constants.NGHTTP2_CANCEL);
    this.#handler.onError(err);
  }
}

/** undici's header list (flat array or object) as HTTP/2 request headers, with the pseudo-headers. */
function toHttp2Headers(options: Dispatcher.DispatchOptions): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': options.method, ':path': options.path };
  const add = (name: string, value: string | string[] | undefined): void => {
    const lower = name.toLowerCase();
    if (value === undefined) return;
    if (lower === 'host') {
      out[':authority'] = Array.isArray(value) ? value[0] : value;
      return;
    }
    if (CONNECTION_SPECIFIC.has(lower)) return;
    // `te` may only carry "trailers" in HTTP/2 (RFC 9113 §8.2.2), which gRPC sends.
    if (lower === 'te' && value !== 'trailers') return;
    const prior = out[lower];
    out[lower] =
      prior === undefined
        ? value
        : [...(Array.isArray(prior) ? prior : [String(prior)]), ...(Array.isArray(value) ? value : [value])];
  };
  const headers = options.headers;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), String(headers[i + 1]));
  } else if (headers !== null && headers !== undefined) {
    for (const [name, value] of Object.entries(headers as Record<string, string | string[] | undefined>))
      add(name, value);
  }
  return out;
}

function withoutPseudo(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (name.charCodeAt(0) !== 0x3a) out[name] = headers[name];
  return out;
}

function writeBody(
  stream: ClientHttp2Stream,
  body: Buffer | string | Readable | null | undefined,
  onError: (err: Error) => void,
): void {
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    stream.end(body);
    return;
  }
  const source = body as Readable;
  source.on('error', onError);
  // Not `stream.pipeline`: it allocates an AbortController per call, a measurable cost on unary gRPC calls.
  source.pipe(stream);
}

/**
 * Node's HTTP/2 and socket errors under the codes undici gives the same failures. A stream that never started
 * because its session failed to connect is cancelled with the connection's error as its cause (ECONNREFUSED…):
 * that cause is the failure, so a refused connection stays retryable as "not sent".
 */
function asUndiciError(err: Error & { code?: string; cause?: unknown }): Error {
  const cause = err.cause as (Error & { code?: string }) | undefined;
  if (err.code === 'ERR_HTTP2_STREAM_CANCEL' && cause instanceof Error && cause.code !== undefined)
    return asUndiciError(cause);
  // Reset streams, failed sessions and a session out of stream ids read as a reset socket; errno codes
  // (ECONNRESET…) and TLS codes stay.
  if (err.code?.startsWith('ERR_HTTP2_') === true) return Object.assign(err, { code: 'UND_ERR_SOCKET' });
  return err;
}

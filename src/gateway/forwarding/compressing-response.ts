import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import {
  brotliCompress,
  constants,
  createBrotliCompress,
  createGzip,
  createZstdCompress,
  gzip,
  zstdCompress,
  type BrotliCompress,
  type Gzip,
  type ZstdCompress,
} from 'node:zlib';

export type Encoding = 'zstd' | 'br' | 'gzip';

/** What a route's compression needs per answer, compiled once. */
export interface CompressionSettings {
  readonly minBytes: number;
  readonly compressible: (contentType: string) => boolean;
}

const kCompress = Symbol('portico.compress');

type HeaderArgument = OutgoingHttpHeaders | readonly string[] | undefined;
type AnyWriteHead = (this: ServerResponse, status: number, ...rest: unknown[]) => ServerResponse;
type AnyWrite = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean;
type AnyEnd = (this: ServerResponse, ...rest: unknown[]) => ServerResponse;
type Compressor = Gzip | BrotliCompress | ZstdCompress;
type CompressedResponse = ServerResponse & { [kCompress]?: CompressingResponse };
type Stream = Compressor & { [kCompress]?: CompressingResponse };

/** Brotli's default quality (11) is meant for static files; 4 keeps per-answer compression cheap. */
const brotliOptions = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };
const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);
const zstdAsync = promisify(zstdCompress);

/** Receives the compressed bytes of one answer as the client got them (undefined: too large, or failed). */
export type CompressedTap = (body: Buffer | undefined) => void;

/**
 * Compresses one answer on its way to the client, standing in for the response's `writeHead`, `write` and
 * `end` (like the cache), so every terminal is covered unchanged. At `writeHead` it decides: a compressible
 * type, no Content-Encoding yet, no `Cache-Control: no-transform`, not a bodiless status and not declared
 * smaller than the route's minimum. Then the body streams through a node:zlib compressor with backpressure
 * both ways: a full compressor holds the service back, a slow client pauses the compressor.
 */
export class CompressingResponse {
  readonly #res: CompressedResponse;
  readonly #settings: CompressionSettings;
  readonly #encoding: Encoding;
  readonly #writeHead: AnyWriteHead;
  readonly #write: AnyWrite;
  readonly #end: AnyEnd;
  /** Set at writeHead when the answer is compressed; undefined passes it through untouched. */
  #stream: Stream | undefined = undefined;
  /** Set by {@link release}: the answer is already encoded (a stored variant), headers pass untouched. */
  #released = false;
  #tap: CompressedTap | undefined = undefined;
  #tapLimit = 0;
  #tapBytes = 0;
  #tapped: Buffer[] = [];

  constructor(res: ServerResponse, settings: CompressionSettings, encoding: Encoding) {
    this.#res = res as CompressedResponse;
    this.#settings = settings;
    this.#encoding = encoding;
    this.#writeHead = res.writeHead as AnyWriteHead;
    this.#write = res.write as AnyWrite;
    this.#end = res.end as AnyEnd;
    const target = this.#res;
    target[kCompress] = this;
    target.writeHead = compressWriteHead as ServerResponse['writeHead'];
    target.write = compressWrite as ServerResponse['write'];
    target.end = compressEnd as ServerResponse['end'];
  }

  /** The content-coding negotiated for this request. */
  get encoding(): Encoding {
    return this.#encoding;
  }

  /** Whether writeHead decided to compress this answer. */
  get compressing(): boolean {
    return this.#stream !== undefined;
  }

  /** Whether an answer with this status and these headers would be compressed (the writeHead decision). */
  wouldCompress(status: number, headers: readonly string[]): boolean {
    return this.#shouldCompress(status, headers);
  }

  /**
   * The answer about to be written is already encoded (the cache's stored variant): pass it through without
   * copying its headers. The stand-ins stay in place, since stages installed later wrap them.
   */
  release(): void {
    this.#released = true;
  }

  /** Hands the compressed bytes of this answer to `tap` once complete, if they stay within `maxBytes`. */
  tap(maxBytes: number, tap: CompressedTap): void {
    this.#tap = tap;
    this.#tapLimit = maxBytes;
  }

  writeHead(status: number, reason: string | undefined, given: HeaderArgument): ServerResponse {
    const res = this.#res;
    if (this.#released)
      return reason === undefined
        ? this.#writeHead.call(res, status, given)
        : this.#writeHead.call(res, status, reason, given);
    const list = toFlatList(given);
    if (this.#shouldCompress(status, list)) {
      rewriteHeaders(list, this.#encoding);
      // Headers set earlier with setHeader would be merged by Node after this list.
      res.removeHeader('content-length');
      const stream = createCompressor(this.#encoding) as Stream;
      stream[kCompress] = this;
      stream.on('data', onCompressedData);
      stream.on('drain', onCompressorDrain);
      stream.once('end', onCompressedEnd);
      stream.once('error', onCompressorError);
      this.#stream = stream;
    }
    return reason === undefined
      ? this.#writeHead.call(res, status, list)
      : this.#writeHead.call(res, status, reason, list);
  }

  write(chunk: unknown, rest: unknown[]): boolean {
    const stream = this.#stream;
    if (stream === undefined) return this.#write.call(this.#res, chunk, ...rest);
    return stream.write(chunk as Buffer, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8');
  }

  end(args: unknown[]): ServerResponse {
    const res = this.#res;
    const stream = this.#stream;
    if (stream === undefined) return this.#end.apply(res, args);
    const chunk = args[0];
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') stream.end(chunk as Buffer);
    else stream.end();
    return res;
  }

  /** Compressed bytes for the client; a full socket pauses the compressor until the response drains. */
  forward(chunk: Buffer): void {
    if (this.#tap !== undefined) {
      this.#tapBytes += chunk.length;
      if (this.#tapBytes > this.#tapLimit) this.#endTap(false);
      else this.#tapped.push(chunk);
    }
    if (!this.#write.call(this.#res, chunk)) {
      (this.#stream as Stream).pause();
      this.#res.once('drain', onResponseDrain);
    }
  }

  resumeCompressor(): void {
    this.#stream?.resume();
  }

  /** The compressor took everything in: the terminal waiting on the response's 'drain' may write again. */
  compressorDrained(): void {
    this.#res.emit('drain');
  }

  finish(): void {
    // Before the end: the tap stores the variant before requests waiting on this one look again.
    this.#endTap(true);
    this.#end.call(this.#res);
  }

  fail(): void {
    this.#endTap(false);
    this.#res.destroy();
  }

  #endTap(complete: boolean): void {
    const tap = this.#tap;
    if (tap === undefined) return;
    this.#tap = undefined;
    const chunks = this.#tapped;
    this.#tapped = [];
    tap(complete ? (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)) : undefined);
  }

  #shouldCompress(status: number, list: readonly string[]): boolean {
    if (status < 200 || status === 204 || status === 304) return false;
    let contentType: string | undefined;
    for (let i = 0; i < list.length; i += 2) {
      const name = (list[i] as string).toLowerCase();
      const value = list[i + 1] as string;
      if (name === 'content-encoding' && value.trim().toLowerCase() !== 'identity') return false;
      if (name === 'cache-control' && /no-transform/i.test(value)) return false;
      if (name === 'content-length' && Number(value) < this.#settings.minBytes) return false;
      if (name === 'content-type') contentType = value;
    }
    contentType ??= this.#res.getHeader('content-type') as string | undefined;
    return contentType !== undefined && this.#settings.compressible(contentType);
  }
}

/**
 * Content-Length goes (the length changes), Content-Encoding and `Vary: Accept-Encoding` come, and the ETag
 * becomes weak and names the coding (`"v1"` → `W/"v1-gzip"`): the bytes differ (RFC 9110 §8.8.1), and a
 * cache holding several encodings must tell a client's validator of one from another's, which a plain weak
 * tag would not (weak comparison ignores `W/`).
 */
export function rewriteHeaders(list: string[], encoding: Encoding): void {
  let kept = 0;
  let varyAt = -1;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    let value = list[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'content-encoding') continue;
    if (lower === 'etag') value = encodedEtag(value, encoding);
    if (lower === 'vary') varyAt = kept;
    list[kept++] = name;
    list[kept++] = value;
  }
  list.length = kept;
  list.push('content-encoding', encoding);
  if (varyAt < 0) list.push('vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(list[varyAt + 1] as string))
    list[varyAt + 1] = `${list[varyAt + 1] as string}, Accept-Encoding`;
}

function encodedEtag(etag: string, encoding: Encoding): string {
  const tag = etag.startsWith('W/') ? etag.slice(2) : etag;
  return tag.endsWith('"') ? `W/${tag.slice(0, -1)}-${encoding}"` : `W/${tag}-${encoding}`;
}

function createCompressor(encoding: Encoding): Compressor {
  switch (encoding) {
    case 'gzip':
      return createGzip();
    case 'br':
      return createBrotliCompress(brotliOptions);
    case 'zstd':
      return createZstdCompress();
  }
}

/**
 * Compresses a whole body off the event loop (libuv's pool) with the same settings as a streamed answer:
 * the cache encodes a stored answer once per coding with it.
 */
export function compressBody(encoding: Encoding, body: Buffer): Promise<Buffer> {
  switch (encoding) {
    case 'gzip':
      return gzipAsync(body);
    case 'br':
      return brotliAsync(body, brotliOptions);
    case 'zstd':
      return zstdAsync(body);
  }
}

/** The compression a route's compress stage installed on this response, if any (none: identity). */
export function compressionOf(res: ServerResponse): CompressingResponse | undefined {
  return (res as CompressedResponse)[kCompress];
}

function compressWriteHead(
  this: CompressedResponse,
  status: number,
  reasonOrHeaders?: string | HeaderArgument,
  maybeHeaders?: HeaderArgument,
): ServerResponse {
  const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
  const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
  return (this[kCompress] as CompressingResponse).writeHead(status, reason, given);
}

function compressWrite(this: CompressedResponse, chunk: unknown, ...rest: unknown[]): boolean {
  return (this[kCompress] as CompressingResponse).write(chunk, rest);
}

function compressEnd(this: CompressedResponse, ...args: unknown[]): ServerResponse {
  return (this[kCompress] as CompressingResponse).end(args);
}

function onCompressedData(this: Stream, chunk: Buffer): void {
  this[kCompress]?.forward(chunk);
}

function onCompressorDrain(this: Stream): void {
  this[kCompress]?.compressorDrained();
}

function onResponseDrain(this: CompressedResponse): void {
  this[kCompress]?.resumeCompressor();
}

function onCompressedEnd(this: Stream): void {
  this[kCompress]?.finish();
}

function onCompressorError(this: Stream): void {
  this[kCompress]?.fail();
}

function toFlatList(headers: HeaderArgument): string[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return headers.slice() as string[];
  const list: string[] = [];
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) list.push(name, item);
    else list.push(name, String(value));
  }
  return list;
}

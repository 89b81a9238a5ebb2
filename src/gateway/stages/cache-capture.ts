import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import CachePolicy from 'http-cache-semantics';
import {
  directiveSeconds,
  encodedIn,
  freshUntilOf,
  usableOnError,
  type CachedResponse,
  type EncodedBody,
} from '../../policies/cache/cached-response.ts';
import type { CacheStats } from '../../policies/cache/cache-state.ts';
import type { CacheStore } from '../../policies/cache/cache-store.ts';
import {
  rewriteHeaders,
  type CompressingResponse,
  type Encoding,
} from '../forwarding/compressing-response.ts';

const kCapture = Symbol('portico.cacheCapture');

type HeaderArgument = OutgoingHttpHeaders | readonly string[] | undefined;
type AnyWriteHead = (this: ServerResponse, status: number, ...rest: unknown[]) => ServerResponse;
type AnyWrite = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean;
type AnyEnd = (this: ServerResponse, ...rest: unknown[]) => ServerResponse;
type CapturedResponse = ServerResponse & { [kCapture]?: CacheCapture };

/** The request as http-cache-semantics sees it; the URL is the cache key's business, so it is constant. */
export interface PolicyRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * On a route that compresses: the content-coding negotiated for this request (`identity` when none),
   * standing for Accept-Encoding wherever an answer's Vary names it, so clients that negotiate the same
   * coding share a variant however they spell the header.
   */
  readonly coding?: string | undefined;
}

/** What a capture needs from its route, compiled once. */
export interface CaptureSettings {
  readonly store: CacheStore;
  readonly stats: CacheStats;
  readonly maxBodyBytes: number;
  /** `s-maxage` given to answers without a freshness of their own (the route's `ttl`), in seconds. */
  readonly defaultTtlSec: number;
}

/** Headers never stored: written per answer, or framing that the stored body fixes. */
const unstored = new Set([
  'x-request-id',
  'portico-cache',
  'age',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
]);
/** Headers a 304 refreshes on the stored answer (RFC 9111 §4.3.4). */
const refreshedBy304 = new Set(['cache-control', 'expires', 'date', 'etag', 'last-modified']);

/**
 * Watches the answer of a request that went to the service (a miss, or a revalidation of a stored answer)
 * by standing in for the response's `writeHead`, `write` and `end`, so any terminal — proxy, fallback,
 * the gateway's own errors — is seen without changing it. It copies the body (up to the route's bound) and
 * stores the answer when RFC 9111 allows; it swallows a `304` to a revalidation, or an error while a stale
 * answer may stand in (`stale-if-error`), and answers with the stored one instead. Only cached routes pay:
 * the stand-ins are shared functions, the state one object per miss.
 */
export class CacheCapture {
  readonly #res: CapturedResponse;
  readonly #settings: CaptureSettings;
  readonly #key: string;
  readonly #request: PolicyRequest;
  /** A stored answer that may stand in: revalidated by a 304, or served stale on an error. */
  readonly #stale: CachedResponse | undefined;
  readonly #revalidating: boolean;
  readonly #head: boolean;
  readonly #requestId: string;
  readonly #writeHead: AnyWriteHead;
  readonly #write: AnyWrite;
  readonly #end: AnyEnd;
  readonly #settle: () => void;
  /** The route's compression of this answer, when the client negotiated a coding. */
  readonly #compression: CompressingResponse | undefined;
  /** The compressed bytes are awaited before storing: the stored variant is the one the client got. */
  #awaitingTap = false;
  #tapped: Buffer | undefined = undefined;
  #ended = false;
  #status = 0;
  #headers: string[] | undefined = undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #capturing = true;
  /** 'hit' after a 304 to our revalidation, 'stale' after an error: the stored answer goes out at `end`. */
  #standIn: 'hit' | 'stale' | undefined = undefined;
  #notModifiedHeaders: string[] | undefined = undefined;
  #settled = false;

  constructor(
    res: ServerResponse,
    settings: CaptureSettings,
    key: string,
    request: PolicyRequest,
    stale: CachedResponse | undefined,
    revalidating: boolean,
    head: boolean,
    requestId: string,
    settle: () => void,
    compression: CompressingResponse | undefined,
  ) {
    this.#res = res as CapturedResponse;
    this.#settings = settings;
    this.#key = key;
    this.#request = request;
    this.#stale = stale;
    this.#revalidating = revalidating;
    this.#head = head;
    this.#requestId = requestId;
    this.#settle = settle;
    this.#compression = compression;
    this.#writeHead = res.writeHead as AnyWriteHead;
    this.#write = res.write as AnyWrite;
    this.#end = res.end as AnyEnd;
    const captured = this.#res;
    captured[kCapture] = this;
    captured.writeHead = captureWriteHead as ServerResponse['writeHead'];
    captured.write = captureWrite as ServerResponse['write'];
    captured.end = captureEnd as ServerResponse['end'];
    res.once('close', onCapturedClose);
  }

  writeHead(status: number, reason: string | undefined, given: HeaderArgument): ServerResponse {
    const res = this.#res;
    const list = toFlatList(given);
    const stale = this.#stale;
    if (stale !== undefined) {
      if (this.#revalidating && status === 304) {
        this.#standIn = 'hit';
        this.#notModifiedHeaders = list;
        return res;
      }
      if (status >= 500 && usableOnError(stale)) {
        this.#standIn = 'stale';
        return res;
      }
    }
    this.#status = status;
    this.#headers = list;
    this.#settings.stats.miss++;
    res.setHeader('portico-cache', 'miss');
    const written =
      reason === undefined
        ? this.#writeHead.call(res, status, list)
        : this.#writeHead.call(res, status, reason, list);
    // The compression (installed before the cache) decided at that writeHead: its output is kept as the
    // coding's variant, so a miss is compressed once, for the client and the store alike.
    const compression = this.#compression;
    if (compression !== undefined && compression.compressing && !this.#head) {
      this.#awaitingTap = true;
      compression.tap(this.#settings.maxBodyBytes, (body) => this.#onCompressed(body));
    }
    return written;
  }

  write(chunk: unknown, rest: unknown[]): boolean {
    if (this.#standIn !== undefined) return true;
    this.#capture(chunk, rest[0]);
    return this.#write.call(this.#res, chunk, ...rest);
  }

  end(args: unknown[]): ServerResponse {
    const res = this.#res;
    if (this.#standIn !== undefined) {
      this.#answerWithStored();
      return res;
    }
    const chunk = args[0];
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') this.#capture(chunk, args[1]);
    this.#ended = true;
    this.#end.apply(res, args);
    if (!this.#awaitingTap) {
      this.#storeIfAllowed();
      this.settle();
    }
    return res;
  }

  #onCompressed(body: Buffer | undefined): void {
    this.#awaitingTap = false;
    this.#tapped = body;
    if (!this.#ended) return;
    this.#storeIfAllowed();
    this.settle();
  }

  /** The exchange is over (answered, or the connection closed first): waiting requests may look again. */
  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#res[kCapture] = undefined;
    this.#settle();
  }

  #capture(chunk: unknown, encoding: unknown): void {
    if (!this.#capturing) return;
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk as Uint8Array);
    this.#bytes += buffer.length;
    if (this.#bytes > this.#settings.maxBodyBytes) {
      this.#capturing = false;
      this.#chunks = [];
      return;
    }
    this.#chunks.push(buffer);
  }

  #storeIfAllowed(): void {
    const headers = this.#headers;
    if (!this.#capturing || headers === undefined || this.#head) return;
    const entry = storableEntry(
      this.#request,
      this.#status,
      headers,
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks),
      this.#settings.defaultTtlSec,
    );
    if (entry === undefined) return;
    const compressed = this.#tapped;
    const compression = this.#compression;
    if (compressed !== undefined && compression !== undefined) {
      addEncoded(entry, compression.encoding, compressed);
      this.#settings.stats.compressed++;
    }
    this.#settings.store.put(this.#key, entry);
    this.#settings.stats.stored++;
  }

  /** A 304 confirmed the stored answer, or an error lets a stale one stand in: send the stored answer. */
  #answerWithStored(): void {
    const stale = this.#stale as CachedResponse;
    const label = this.#standIn as 'hit' | 'stale';
    const notModified = this.#notModifiedHeaders;
    if (label === 'hit' && notModified !== undefined) {
      const { policy } = stale.policy.revalidatedPolicy(hostless(this.#request), {
        status: 304,
        headers: toHeaderObject(notModified),
      });
      stale.policy = policy;
      refreshHeaders(stale, notModified);
      stale.freshUntil = freshUntilOf(policy, headerValue(stale.headers, 'cache-control'), Date.now());
      this.#settings.store.put(this.#key, stale);
    }
    this.#settings.stats[label]++;
    const res = this.#res;
    // The stand-ins are removed first: the stored answer goes straight to the client.
    res.writeHead = this.#writeHead as ServerResponse['writeHead'];
    res.write = this.#write as ServerResponse['write'];
    res.end = this.#end as ServerResponse['end'];
    this.settle();
    // A problem answer may have set headers of its own (content-type): they belong to the dropped answer.
    for (const name of res.getHeaderNames()) if (name !== 'portico-cache') res.removeHeader(name);
    // A coding already stored goes out as stored; otherwise the compression encodes this answer on its way.
    const compression = this.#compression;
    const encoded = compression === undefined ? undefined : encodedIn(stale, compression.encoding);
    if (encoded !== undefined) compression?.release();
    const etag = encoded === undefined ? stale.etag : encoded.etag;
    const ifNoneMatch = this.#request.headers['if-none-match'];
    if (label === 'hit' && ifNoneMatch !== undefined && etag !== undefined && matchesEtag(ifNoneMatch, etag))
      return sendNotModified(res, stale, this.#requestId, encoded);
    sendStored(res, stale, label, this.#requestId, this.#head, encoded);
  }
}

function captureWriteHead(
  this: CapturedResponse,
  status: number,
  reasonOrHeaders?: string | HeaderArgument,
  maybeHeaders?: HeaderArgument,
): ServerResponse {
  const capture = this[kCapture];
  const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
  const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
  if (capture === undefined) return ServerResponseWriteHead(this, status, reason, given);
  return capture.writeHead(status, reason, given);
}

function captureWrite(this: CapturedResponse, chunk: unknown, ...rest: unknown[]): boolean {
  const capture = this[kCapture];
  if (capture === undefined)
    return (Object.getPrototypeOf(this) as AnyWriteProto).write.call(this, chunk, ...rest);
  return capture.write(chunk, rest);
}

function captureEnd(this: CapturedResponse, ...args: unknown[]): ServerResponse {
  const capture = this[kCapture];
  if (capture === undefined) return (Object.getPrototypeOf(this) as AnyWriteProto).end.apply(this, args);
  return capture.end(args);
}

interface AnyWriteProto {
  write: AnyWrite;
  end: AnyEnd;
  writeHead: AnyWriteHead;
}

function ServerResponseWriteHead(
  res: ServerResponse,
  status: number,
  reason: string | undefined,
  given: HeaderArgument,
): ServerResponse {
  const writeHead = (Object.getPrototypeOf(res) as AnyWriteProto).writeHead;
  return reason === undefined
    ? writeHead.call(res, status, given)
    : writeHead.call(res, status, reason, given);
}

function onCapturedClose(this: CapturedResponse): void {
  this[kCapture]?.settle();
}

/** Writes a stored answer: its headers, then Age, Portico-Cache and this request's id. */
export function sendStored(
  res: ServerResponse,
  entry: CachedResponse,
  label: string,
  requestId: string,
  head: boolean,
  encoded?: EncodedBody,
): void {
  const headers = (encoded === undefined ? entry.headers : encoded.headers).concat(
    'age',
    String(Math.floor(entry.policy.age())),
    'portico-cache',
    label,
    'x-request-id',
    requestId,
  );
  res.writeHead(entry.status, headers);
  if (head) res.end();
  else res.end(encoded === undefined ? entry.body : encoded.body);
}

/** A 304 to a client whose If-None-Match names the stored answer's ETag (weak comparison, RFC 9110 §13.1.2). */
export function sendNotModified(
  res: ServerResponse,
  entry: CachedResponse,
  requestId: string,
  encoded?: EncodedBody,
): void {
  const headers: string[] = [];
  const kept = encoded === undefined ? entry.headers : encoded.headers;
  for (let i = 0; i < kept.length; i += 2) {
    const lower = (kept[i] as string).toLowerCase();
    if (refreshedBy304.has(lower) || lower === 'vary' || lower === 'content-location')
      headers.push(kept[i] as string, kept[i + 1] as string);
  }
  headers.push(
    'age',
    String(Math.floor(entry.policy.age())),
    'portico-cache',
    'hit',
    'x-request-id',
    requestId,
  );
  res.writeHead(304, headers);
  res.end();
}

/** Whether an If-None-Match value names `etag` (or is `*`). */
export function matchesEtag(ifNoneMatch: string, etag: string): boolean {
  const wanted = weak(etag);
  for (const token of ifNoneMatch.split(',')) {
    const trimmed = token.trim();
    if (trimmed === '*' || weak(trimmed) === wanted) return true;
  }
  return false;
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * The answer as a stored entry, or undefined when a shared cache must not keep it: what http-cache-semantics
 * refuses (no-store, private, Authorization without public/s-maxage, uncacheable status…), `Vary: *`, and
 * answers that set cookies (one client's session must never be handed to another).
 */
export function storableEntry(
  request: PolicyRequest,
  status: number,
  headers: string[],
  body: Buffer,
  defaultTtlSec: number,
): CachedResponse | undefined {
  const object = toHeaderObject(headers);
  if (object['set-cookie'] !== undefined) return undefined;
  const vary = object.vary as string | undefined;
  if (vary !== undefined && vary.includes('*')) return undefined;
  const cacheControl = object['cache-control'] as string | undefined;
  const explicit =
    object.expires !== undefined ||
    (cacheControl !== undefined && /(^|[\s,])(s-maxage|max-age)\s*=/i.test(cacheControl));
  // The route's ttl stands for the freshness the answer did not give (as s-maxage: shared caches only).
  const policyHeaders = explicit
    ? object
    : {
        ...object,
        'cache-control':
          cacheControl === undefined
            ? `s-maxage=${defaultTtlSec}`
            : `${cacheControl}, s-maxage=${defaultTtlSec}`,
      };
  const policy = new CachePolicy(
    hostless(request),
    { status, headers: policyHeaders },
    { shared: true, cacheHeuristic: 0 },
  );
  if (!policy.storable()) return undefined;
  const kept: string[] = [];
  let headerBytes = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (unstored.has(name.toLowerCase())) continue;
    const value = headers[i + 1] as string;
    kept.push(name, value);
    headerBytes += name.length + value.length;
  }
  kept.push('content-length', String(body.length));
  let variant = '';
  if (vary !== undefined) {
    for (const name of vary.split(',')) variant += `${requestHeader(request, name.trim().toLowerCase())}\n`;
  }
  return {
    policy,
    status,
    headers: kept,
    body,
    variant,
    etag: object.etag as string | undefined,
    freshUntil: freshUntilOf(policy, cacheControl, Date.now()),
    staleIfErrorSec: directiveSeconds(cacheControl, 'stale-if-error'),
    encoded: [],
    size: body.length + headerBytes + variant.length + 256,
  };
}

/** Headers a 304 carries replace the stored ones of the same name. */
export function refreshHeaders(entry: CachedResponse, notModified: readonly string[]): void {
  const fresh = new Map<string, [string, string]>();
  for (let i = 0; i < notModified.length; i += 2) {
    const name = notModified[i] as string;
    if (refreshedBy304.has(name.toLowerCase()))
      fresh.set(name.toLowerCase(), [name, notModified[i + 1] as string]);
  }
  if (fresh.size === 0) return;
  const headers: string[] = [];
  for (let i = 0; i < entry.headers.length; i += 2) {
    const name = entry.headers[i] as string;
    if (!fresh.has(name.toLowerCase())) headers.push(name, entry.headers[i + 1] as string);
  }
  for (const [name, value] of fresh.values()) headers.push(name, value);
  entry.headers = headers;
  const etag = fresh.get('etag');
  if (etag !== undefined) entry.etag = etag[1];
  for (const encoded of entry.encoded) {
    encoded.headers = encodedHeaders(headers, encoded.encoding as Encoding, encoded.body.length);
    encoded.etag = headerValue(encoded.headers, 'etag');
  }
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

/**
 * The request as the cache's policies see it: Host blanked. The route (and `host` in its key, when asked)
 * decides which hosts share an answer, so that nodes reached under different names share one store;
 * http-cache-semantics compares Host strictly, so every policy is built and asked with this view.
 */
export function hostless(request: PolicyRequest): PolicyRequest {
  const headers: IncomingHttpHeaders = { ...request.headers, host: '' };
  if (request.coding !== undefined) headers['accept-encoding'] = request.coding;
  return { url: request.url, method: request.method, headers };
}

/** A request header's value as the cache's Vary matching sees it (see {@link PolicyRequest.coding}). */
export function requestHeader(request: PolicyRequest, name: string): string {
  if (name === 'accept-encoding' && request.coding !== undefined) return request.coding;
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

/**
 * Adds the answer compressed in `encoding` to a stored entry, with the headers a compressed answer gets
 * (the same rewrite as the streaming compression, so a hit and a miss look alike), and charges its bytes.
 */
export function addEncoded(entry: CachedResponse, encoding: Encoding, body: Buffer): EncodedBody {
  const existing = encodedIn(entry, encoding);
  if (existing !== undefined) return existing;
  const headers = encodedHeaders(entry.headers, encoding, body.length);
  const encoded: EncodedBody = { encoding, headers, body, etag: headerValue(headers, 'etag') };
  entry.encoded = [...entry.encoded, encoded];
  let headerBytes = 0;
  for (const item of headers) headerBytes += item.length;
  entry.size += body.length + headerBytes;
  return encoded;
}

function encodedHeaders(identity: readonly string[], encoding: Encoding, length: number): string[] {
  const headers = identity.slice();
  rewriteHeaders(headers, encoding);
  headers.push('content-length', String(length));
  return headers;
}

/** The first value of header `name` (lower case) in a flat list. */
export function headerValue(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if ((list[i] as string).toLowerCase() === name) return list[i + 1];
  return undefined;
}

/** Lower-case names; repeated headers joined with `, ` (set-cookie kept as a list). */
export function toHeaderObject(list: readonly string[]): Record<string, string | string[]> {
  const object: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    const value = list[i + 1] as string;
    const prior = object[name];
    if (prior === undefined) object[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prior)) prior.push(value);
    else object[name] = `${prior}, ${value}`;
  }
  return object;
}

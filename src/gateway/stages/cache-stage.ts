import type { Dispatcher } from 'undici';
import type { ResponseCacheConfig } from '../../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import { compileCacheKey } from '../../policies/cache/cache-key.ts';
import type { CacheStats } from '../../policies/cache/cache-state.ts';
import type { CacheStore } from '../../policies/cache/cache-store.ts';
import {
  encodedIn,
  freshUntilOf,
  type CachedResponse,
  type EncodedBody,
} from '../../policies/cache/cached-response.ts';
import { chainHeaderEdits, type HeaderEdit } from '../../policies/header-edit.ts';
import { compressBody, compressionOf, type CompressingResponse } from '../forwarding/compressing-response.ts';
import { buildUpstreamHeaders } from '../forwarding/upstream-headers.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { Handler, StageFactory } from '../pipeline/stage.ts';
import { hashKeyOf } from '../services/hash-key.ts';
import {
  addEncoded,
  CacheCapture,
  headerValue,
  hostless,
  matchesEtag,
  refreshHeaders,
  requestHeader,
  sendNotModified,
  sendStored,
  storableEntry,
  toHeaderObject,
  type CaptureSettings,
  type PolicyRequest,
} from './cache-capture.ts';

/** Conditional request headers of the client, replaced by the cache's own when it revalidates. */
const conditionalHeaders = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
]);
const noRenames = new Map<string, string>();
const emptyEdit: HeaderEdit = { drop: new Set(), renames: noRenames, append: [] };

/**
 * Shared response cache (transform phase, after the route's transform, so a stored answer is keyed, fetched
 * and refreshed exactly as the service sees the request, and a hit still gets the response transform;
 * docs/policies.md).
 * RFC 9111 semantics come from http-cache-semantics: what may be stored (no-store, private, Authorization),
 * freshness (s-maxage, max-age, Expires, the route's ttl otherwise), Vary, revalidation with the stored
 * ETag / Last-Modified, stale-while-revalidate (served stale, refreshed in the background) and
 * stale-if-error. Concurrent misses of one key wait for the first one's answer instead of all going to
 * the service. Answers carry `Portico-Cache: hit|miss|stale|bypass` and, from the store, `Age`.
 *
 * With `compress` on the route, each stored answer also keeps its body in every coding clients negotiated:
 * the compression stage runs first (it negotiates and wraps the response), and the cache, seeing which coding
 * this request gets, sends a stored coding as it is, or compresses the stored body once and keeps it. A miss
 * keeps what the compression produced for the client, so every coding is compressed once per answer.
 */
export const cacheStage: StageFactory = {
  name: 'cache',
  phase: 'transform',
  create(route, context) {
    const config = route.cache;
    if (config === undefined) return undefined;
    const top = context.config.responseCache as ResponseCacheConfig | undefined;
    const state = context.state;
    const memory = state.memoryCache(parseSizeBytes(top?.maxSize ?? '64mb'));
    const storeConfig = context.config.store;
    const settings: CaptureSettings = {
      store:
        config.store === 'redis' && storeConfig.kind === 'redis' && storeConfig.url !== undefined
          ? state.sharedCache(storeConfig.url, storeConfig.prefix)
          : memory,
      stats: state.cacheStats(route.name),
      maxBodyBytes: parseSizeBytes(config.maxBodySize),
      defaultTtlSec: Math.max(1, Math.round(parseDurationMs(config.ttl) / 1000)),
    };
    const compresses = route.compress !== undefined;
    const keyOf = compileCacheKey(route.name, config.key);
    const keyHasConsumer = config.key.includes('consumer');
    const cache = new RouteCache(settings);

    return function cache_(ctx, next) {
      const req = ctx.req;
      const method = req.method;
      // A WebSocket upgrade is a GET whose answer is a relay, never a stored document.
      if (ctx.upgradeHead !== undefined) return next(ctx);
      if ((method !== 'GET' && method !== 'HEAD') || /no-store/i.test(req.headers['cache-control'] ?? '')) {
        settings.stats.bypass++;
        ctx.res.setHeader('portico-cache', 'bypass');
        return next(ctx);
      }
      // An authenticated request shares answers only with authenticated ones, and only those the service
      // marked shareable (RFC 9111 §3.5); an API key counts as Authorization unless the key holds the consumer.
      const authenticated =
        req.headers.authorization !== undefined || (ctx.consumer !== undefined && !keyHasConsumer);
      const key = authenticated ? `${keyOf(ctx)} [authenticated]` : keyOf(ctx);
      const compression = compresses ? compressionOf(ctx.res) : undefined;
      const request: PolicyRequest = {
        url: '',
        method: 'GET',
        headers:
          authenticated && req.headers.authorization === undefined
            ? { ...req.headers, authorization: 'consumer' }
            : req.headers,
        coding: compresses ? (compression?.encoding ?? 'identity') : undefined,
      };
      return cache.handle(ctx, next, key, request, method === 'HEAD', true);
    };
  },
};

/** One route's cache: lookups, coalescing of misses, background refreshes. */
class RouteCache {
  readonly #settings: CaptureSettings;
  readonly #store: CacheStore;
  readonly #stats: CacheStats;
  /** Keys whose answer is being fetched: later misses wait for it. */
  readonly #inflight = new Map<string, Promise<void>>();
  /** Keys being refreshed in the background (stale-while-revalidate): one refresh at a time. */
  readonly #refreshing = new Set<string>();
  /** Stored answers being compressed into a coding, by key, variant and coding: one compression each. */
  readonly #encoding = new Map<string, Promise<EncodedBody | undefined>>();

  constructor(settings: CaptureSettings) {
    this.#settings = settings;
    this.#store = settings.store;
    this.#stats = settings.stats;
  }

  handle(
    ctx: RequestContext,
    next: Handler,
    key: string,
    request: PolicyRequest,
    head: boolean,
    mayWait: boolean,
  ): void | Promise<void> {
    const found = this.#store.get(key);
    if (!(found instanceof Promise)) return this.#decide(ctx, next, key, request, head, mayWait, found);
    // A shared store answers later: a request that would only wait for another's fetch waits at once.
    const pending = this.#inflight.get(key);
    if (pending !== undefined && mayWait) return this.#waitFor(pending, ctx, next, key, request, head);
    return found.then(
      (variants) => this.#decide(ctx, next, key, request, head, mayWait, variants),
      // An unreachable store is a miss: the service answers, as without a cache.
      () => this.#decide(ctx, next, key, request, head, mayWait, undefined),
    );
  }

  #decide(
    ctx: RequestContext,
    next: Handler,
    key: string,
    request: PolicyRequest,
    head: boolean,
    mayWait: boolean,
    variants: readonly CachedResponse[] | undefined,
  ): void | Promise<void> {
    let stale: CachedResponse | undefined;
    if (variants !== undefined) {
      // The common hit: one variant, fresh, and a request without directives of its own. Asking
      // http-cache-semantics would give the same answer, at the cost of copying every header per request.
      const only = variants.length === 1 ? (variants[0] as CachedResponse) : undefined;
      const headers = request.headers;
      if (
        only !== undefined &&
        only.variant === '' &&
        only.freshUntil > Date.now() &&
        headers['cache-control'] === undefined &&
        headers.pragma === undefined
      )
        return this.#hit(ctx, only, 'hit', head, key);
      const view = hostless(request);
      for (let i = variants.length - 1; i >= 0; i--) {
        const entry = variants[i] as CachedResponse;
        const verdict = entry.policy.evaluateRequest(view);
        if (verdict.response !== undefined) {
          if (verdict.revalidation === undefined) return this.#hit(ctx, entry, 'hit', head, key);
          this.#refresh(ctx, key, request, entry);
          return this.#hit(ctx, entry, 'stale', head, key);
        }
        if (stale === undefined && entry.variant === variantOf(entry, request)) stale = entry;
      }
    }
    const pending = this.#inflight.get(key);
    if (pending !== undefined && mayWait) return this.#waitFor(pending, ctx, next, key, request, head);
    let settle!: () => void;
    if (pending === undefined) {
      const done = new Promise<void>((resolve) => (settle = resolve));
      this.#inflight.set(key, done);
      const inflight = this.#inflight;
      const resolve = settle;
      settle = () => {
        if (inflight.get(key) === done) inflight.delete(key);
        resolve();
      };
    } else settle = noop;
    const conditional = stale === undefined ? undefined : conditionalEdit(stale);
    if (conditional !== undefined)
      ctx.requestHeaderEdit = chainHeaderEdits(ctx.requestHeaderEdit, conditional);
    new CacheCapture(
      ctx.res,
      this.#settings,
      key,
      request,
      stale,
      conditional !== undefined,
      head,
      ctx.requestId,
      settle,
      compressionOf(ctx.res),
    );
    return next(ctx);
  }

  async #waitFor(
    pending: Promise<void>,
    ctx: RequestContext,
    next: Handler,
    key: string,
    request: PolicyRequest,
    head: boolean,
  ): Promise<void> {
    await pending;
    // The first answer may not be storable (or may vary): then this request goes to the service itself.
    await this.handle(ctx, next, key, request, head, false);
  }

  #hit(
    ctx: RequestContext,
    entry: CachedResponse,
    label: 'hit' | 'stale',
    head: boolean,
    key: string,
  ): void | Promise<void> {
    this.#stats[label]++;
    const compression = compressionOf(ctx.res);
    if (compression === undefined) return send(ctx, entry, label, head, undefined);
    const encoded = encodedIn(entry, compression.encoding);
    if (encoded !== undefined) {
      compression.release();
      return send(ctx, entry, label, head, encoded);
    }
    // Not compressible (type, size, no-transform): the compression passes it through as it is.
    if (!compression.wouldCompress(entry.status, entry.headers))
      return send(ctx, entry, label, head, undefined);
    return this.#encodeThenSend(ctx, entry, label, head, key, compression);
  }

  /** A coding not stored yet: compress the stored body once (concurrent requests share it), keep it, send it. */
  async #encodeThenSend(
    ctx: RequestContext,
    entry: CachedResponse,
    label: 'hit' | 'stale',
    head: boolean,
    key: string,
    compression: CompressingResponse,
  ): Promise<void> {
    const encoding = compression.encoding;
    const id = `${key}\n${entry.variant}\n${encoding}`;
    let pending = this.#encoding.get(id);
    if (pending === undefined) {
      const store = this.#store;
      const stats = this.#stats;
      const encodings = this.#encoding;
      pending = compressBody(encoding, entry.body)
        .then((body) => {
          const encoded = addEncoded(entry, encoding, body);
          // Put again: the memory store sizes an entry when it is set, and Redis holds a copy.
          store.put(key, entry);
          stats.compressed++;
          return encoded;
        })
        .catch(() => undefined)
        .finally(() => encodings.delete(id));
      this.#encoding.set(id, pending);
    }
    const encoded = await pending;
    // A failed compression leaves the answer to the streaming compression, as without the stored coding.
    if (encoded !== undefined) compression.release();
    send(ctx, entry, label, head, encoded);
  }

  /**
   * stale-while-revalidate: the client got the stale answer; one request per key asks the service again,
   * straight through an instance's pool (there is no client to answer), and updates the store.
   */
  #refresh(ctx: RequestContext, key: string, request: PolicyRequest, entry: CachedResponse): void {
    if (this.#refreshing.has(key)) return;
    const service = ctx.route.service;
    const instance = (ctx.instances ?? service.instances).pick(hashKeyOf(service.hashKey, ctx));
    if (instance === undefined) return;
    this.#refreshing.add(key);
    const req = ctx.req;
    const headers = buildUpstreamHeaders(req, {
      peer: req.socket.remoteAddress ?? '',
      fromTrustedProxy: ctx.fromTrustedProxy,
      requestId: ctx.requestId,
      upstreamHost: ctx.route.preserveHost ? (req.headers.host ?? instance.url.host) : instance.url.host,
      contentLength: -1,
      extra: ctx.upstreamHeaders,
      edit: chainHeaderEdits(ctx.requestHeaderEdit, conditionalEdit(entry) ?? emptyEdit),
    });
    const path = instance.pathPrefix + upstreamPathOf(ctx);
    const options: Dispatcher.RequestOptions = {
      path: ctx.query === '' ? path : `${path}?${ctx.query}`,
      method: 'GET',
      headers,
      headersTimeout: service.requestTimeoutMs,
      bodyTimeout: service.idleTimeoutMs,
    };
    const store = this.#store;
    const settings = this.#settings;
    const refreshing = this.#refreshing;
    instance.pool
      .request(options)
      .then(async (answer) => {
        const flat = flatHeaders(answer.headers);
        if (answer.statusCode === 304) {
          await answer.body.dump();
          entry.policy = entry.policy.revalidatedPolicy(hostless(request), {
            status: 304,
            headers: toHeaderObject(flat),
          }).policy;
          refreshHeaders(entry, flat);
          entry.freshUntil = freshUntilOf(
            entry.policy,
            headerValue(entry.headers, 'cache-control'),
            Date.now(),
          );
          store.put(key, entry);
          return;
        }
        if (answer.statusCode >= 500) return void (await answer.body.dump());
        const body = Buffer.from(await answer.body.arrayBuffer());
        if (body.length > settings.maxBodyBytes) return;
        const fresh = storableEntry(request, answer.statusCode, flat, body, settings.defaultTtlSec);
        if (fresh !== undefined) {
          store.put(key, fresh);
          settings.stats.stored++;
        }
      })
      .catch(noop)
      .finally(() => refreshing.delete(key));
  }
}

function noop(): void {}

function send(
  ctx: RequestContext,
  entry: CachedResponse,
  label: 'hit' | 'stale',
  head: boolean,
  encoded: EncodedBody | undefined,
): void {
  const etag = encoded === undefined ? entry.etag : encoded.etag;
  const ifNoneMatch = ctx.req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && etag !== undefined && matchesEtag(ifNoneMatch, etag))
    return sendNotModified(ctx.res, entry, ctx.requestId, encoded);
  sendStored(ctx.res, entry, label, ctx.requestId, head, encoded);
}

/** The Vary values of the request as the entry records them. */
function variantOf(entry: CachedResponse, request: PolicyRequest): string {
  if (entry.variant === '') return '';
  const vary = entry.headers.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'vary');
  if (vary < 0) return '';
  let variant = '';
  for (const name of (entry.headers[vary + 1] as string).split(','))
    variant += `${requestHeader(request, name.trim().toLowerCase())}\n`;
  return variant;
}

/**
 * The cache's conditional headers: the stored answer's own validators (RFC 9111 §4.3.1), never the
 * client's, which may name answers the cache does not hold. Undefined when the answer has none.
 */
function conditionalEdit(entry: CachedResponse): HeaderEdit | undefined {
  const append: string[] = [];
  if (entry.etag !== undefined) append.push('if-none-match', entry.etag);
  const headers = entry.headers;
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === 'last-modified')
      append.push('if-modified-since', headers[i + 1] as string);
  }
  if (append.length === 0) return undefined;
  return { drop: conditionalHeaders, renames: noRenames, append };
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const list: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) list.push(name, item);
    else list.push(name, value);
  }
  return list;
}

import type CachePolicy from 'http-cache-semantics';

/**
 * The answer compressed in one content-coding, as sent to clients that negotiate it on a route that also
 * compresses: stored once, sent as stored.
 */
export interface EncodedBody {
  /** The content-coding (`gzip`, `br`, `zstd`). */
  readonly encoding: string;
  /** Flat header list sent with it (Content-Encoding, Vary, the coding's ETag, its Content-Length). */
  headers: string[];
  readonly body: Buffer;
  /** The coding's own ETag (`W/"v1-gzip"`), for If-None-Match. */
  etag: string | undefined;
}

/** One stored answer: a variant of a cache key (answers with `Vary` have one per varying request). */
export interface CachedResponse {
  /** RFC 9111 freshness, Vary matching and revalidation, from http-cache-semantics. */
  policy: CachePolicy;
  readonly status: number;
  /**
   * Flat `[name, value, …]` list sent on a hit, `Content-Length` included; without Age, X-Request-Id and
   * Portico-Cache, which are written per answer.
   */
  headers: string[];
  readonly body: Buffer;
  /** The request header values the answer's Vary names, joined: a new answer replaces the same variant. */
  readonly variant: string;
  /** The answer's ETag, for a client's If-None-Match on a hit. */
  etag: string | undefined;
  /**
   * Epoch ms until which a plain request (no Cache-Control or Pragma of its own) may take this answer
   * without asking http-cache-semantics; 0 when every use needs the full evaluation (must-revalidate,
   * no-cache). Set when stored and after each revalidation.
   */
  freshUntil: number;
  /** `stale-if-error` of the answer in seconds (0 when absent). */
  staleIfErrorSec: number;
  /**
   * The same answer in other content-codings, added as clients ask for them (at most one per coding the
   * route offers); they share this entry's freshness, validation and lifetime.
   */
  encoded: EncodedBody[];
  /** Bytes charged to the store's bound: body, headers, encoded bodies and bookkeeping. */
  size: number;
}

/** The entry's body in `encoding`, if stored. */
export function encodedIn(entry: CachedResponse, encoding: string): EncodedBody | undefined {
  const encoded = entry.encoded;
  for (let i = 0; i < encoded.length; i++)
    if ((encoded[i] as EncodedBody).encoding === encoding) return encoded[i];
  return undefined;
}

/** The fast-path freshness bound of an answer (see {@link CachedResponse.freshUntil}). */
export function freshUntilOf(policy: CachePolicy, cacheControl: string | undefined, now: number): number {
  if (cacheControl !== undefined && /must-revalidate|no-cache/i.test(cacheControl)) return 0;
  return now + (policy.maxAge() - policy.age()) * 1000;
}

/** Whether a stale answer may still be served because the fresh try failed (RFC 5861 stale-if-error). */
export function usableOnError(entry: CachedResponse): boolean {
  return entry.policy.maxAge() + entry.staleIfErrorSec > entry.policy.age();
}

/** Reads one numeric Cache-Control directive (`stale-if-error=60`), 0 when absent. */
export function directiveSeconds(cacheControl: string | undefined, name: string): number {
  if (cacheControl === undefined) return 0;
  const at = cacheControl.toLowerCase().indexOf(name);
  if (at < 0) return 0;
  const match = /^\s*=\s*"?([0-9]+)/.exec(cacheControl.slice(at + name.length));
  return match === null ? 0 : Number(match[1]);
}

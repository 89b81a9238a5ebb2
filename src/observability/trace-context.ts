import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A parsed W3C `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header). */
export interface TraceParent {
  readonly version: string;
  /** 32 lowercase hex digits, never all zeros. */
  readonly traceId: string;
  /** 16 lowercase hex digits, never all zeros: the caller's span. */
  readonly parentId: string;
  /** Two hex digits; bit 0 is `sampled`. */
  readonly flags: string;
}

/** Fills a buffer with random bytes; injectable so tests get exact ids. */
export type RandomFill = (buffer: Buffer) => void;

/**
 * Hands out random span and trace ids as hex. Bytes come from a pooled buffer refilled in one crypto call, so an
 * id costs one string and no Buffer.
 *
 * @example
 * const ids = new TraceIdSource();
 * ids.spanId(); // '00f067aa0ba902b7'
 */
export class TraceIdSource {
  readonly #fill: RandomFill;
  readonly #pool: Buffer;
  #offset: number;

  constructor(fill: RandomFill = randomFillSync, poolBytes = 4096) {
    this.#fill = fill;
    this.#pool = Buffer.allocUnsafe(poolBytes);
    this.#offset = poolBytes;
  }

  /** `bytes` random bytes as lowercase hex; an all-zero draw (invalid as an id) is drawn again. */
  hex(bytes: number): string {
    for (;;) {
      if (this.#offset + bytes > this.#pool.length) {
        this.#fill(this.#pool);
        this.#offset = 0;
      }
      const start = this.#offset;
      this.#offset += bytes;
      for (let i = start; i < start + bytes; i++) {
        if (this.#pool[i] !== 0) return this.#pool.toString('hex', start, start + bytes);
      }
    }
  }

  /** A new 8-byte span id. */
  spanId(): string {
    return this.hex(8);
  }

  /** A new 16-byte trace id. */
  traceId(): string {
    return this.hex(16);
  }
}

const hexDigit = new Uint8Array(128);
for (const c of '0123456789abcdef') hexDigit[c.charCodeAt(0)] = 1;

function isLowerHex(value: string, from: number, to: number): boolean {
  let nonZero = false;
  for (let i = from; i < to; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || hexDigit[code] !== 1) return false;
    if (code !== 48) nonZero = true;
  }
  return nonZero || to - from === 2;
}

/**
 * Whether `value` is a `traceparent` the gateway may continue. Version 00 must be exactly 55 characters; a later
 * version may carry more fields after a `-`, which are ignored (the spec's forward-compatibility rule). Version
 * `ff`, uppercase hex and all-zero ids are invalid.
 */
export function isValidTraceparent(value: string): boolean {
  if (value.length < 55) return false;
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return false;
  if (!isLowerHex(value, 0, 2) || value.startsWith('ff')) return false;
  if (value.length !== 55 && (value.startsWith('00') || value.charCodeAt(55) !== 45)) return false;
  return isLowerHex(value, 3, 35) && isLowerHex(value, 36, 52) && isLowerHex(value, 53, 55);
}

/** Parses a `traceparent`; undefined when it is missing or invalid (see {@link isValidTraceparent}). */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined || !isValidTraceparent(value)) return undefined;
  return {
    version: value.slice(0, 2),
    traceId: value.slice(3, 35),
    parentId: value.slice(36, 52),
    flags: value.slice(53, 55),
  };
}

const simpleKey = '[a-z0-9][_0-9a-z*/-]{0,255}';
const tenantKey = '[a-z0-9][_0-9a-z*/-]{0,240}@[a-z][_0-9a-z*/-]{0,13}';
const memberValue = '[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,255}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]';
const memberPattern = new RegExp(`^(?:${simpleKey}|${tenantKey})=${memberValue}$`);
const maxMembers = 32;

/**
 * Whether `value` is a well-formed `tracestate`: at most 32 `key=value` members separated by commas (empty members
 * and spaces around commas allowed), keys unique. Duplicate header lines arrive already joined by `, `, which is
 * how the spec combines them.
 */
export function isValidTracestate(value: string): boolean {
  if (value.length > 8192) return false;
  const keys = new Set<string>();
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    if (!memberPattern.test(member)) return false;
    const key = member.slice(0, member.indexOf('='));
    if (keys.has(key) || keys.size === maxMembers) return false;
    keys.add(key);
  }
  return true;
}

/**
 * The `traceparent` the gateway sends upstream: the caller's trace id and sampled flag with the gateway's own new
 * span id, or a new (sampled) trace when the caller sent none or an invalid one. Always version 00, the version
 * this code speaks; flags other than `sampled` are not forwarded since the gateway does not know their meaning.
 */
export function nextTraceparent(incoming: string | undefined, ids: TraceIdSource): string {
  return incoming !== undefined && isValidTraceparent(incoming)
    ? continueTrace(incoming, ids)
    : startTrace(ids);
}

function continueTrace(incoming: string, ids: TraceIdSource): string {
  const sampled = (parseInt(incoming.slice(53, 55), 16) & 1) === 1;
  return `00-${incoming.slice(3, 35)}-${ids.spanId()}-${sampled ? '01' : '00'}`;
}

function startTrace(ids: TraceIdSource): string {
  const id = ids.hex(24);
  return `00-${id.slice(0, 32)}-${id.slice(32)}-01`;
}

const defaultIds = new TraceIdSource();
const kTraceparent = Symbol('portico.traceparent');
const kTracestate = Symbol('portico.tracestate');
type TracedRequest = IncomingMessage & { [kTraceparent]?: string; [kTracestate]?: string | undefined };

/**
 * The gateway's span of one request, as the `traceparent` sent upstream. Made once per request and kept on it, so
 * every try, every aggregate call and the access log share one span.
 */
export function traceparentOf(req: IncomingMessage, ids: TraceIdSource = defaultIds): string {
  const traced = req as TracedRequest;
  let traceparent = traced[kTraceparent];
  if (traceparent === undefined) {
    const incoming = req.headers.traceparent;
    const continued = typeof incoming === 'string' && isValidTraceparent(incoming);
    traceparent = continued ? continueTrace(incoming, ids) : startTrace(ids);
    const state = req.headers.tracestate;
    // tracestate belongs to the caller's trace: it is forwarded only when that trace is continued.
    traced[kTracestate] =
      continued && typeof state === 'string' && isValidTracestate(state) ? state : undefined;
    traced[kTraceparent] = traceparent;
  }
  return traceparent;
}

/**
 * Appends `traceparent` (and the caller's `tracestate` when its trace is continued) to a flat [name, value, …]
 * header list. Call it wherever the gateway sends a request upstream on behalf of a client request.
 *
 * @example
 * const headers = ['accept', 'application/json'];
 * appendTraceHeaders(ctx.req, headers);
 */
export function appendTraceHeaders(req: IncomingMessage, out: string[]): void {
  out.push('traceparent', traceparentOf(req));
  const state = tracestateOf(req);
  if (state !== undefined) out.push('tracestate', state);
}

/**
 * The caller's `tracestate` as checked once by {@link traceparentOf}: undefined when the caller sent none, sent an
 * invalid one, or its trace was not continued.
 */
export function tracestateOf(req: IncomingMessage): string | undefined {
  traceparentOf(req);
  return (req as TracedRequest)[kTracestate];
}

/** The trace id in a traceparent made by {@link nextTraceparent}. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** The span id in a traceparent made by {@link nextTraceparent}. */
export function spanIdOf(traceparent: string): string {
  return traceparent.slice(36, 52);
}

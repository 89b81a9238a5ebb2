import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The W3C trace context of the request being handled (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** The caller's span id (16 hex digits), or undefined when this process started the trace. */
  readonly parentId: string | undefined;
  /** Two hex digits; `01` means sampled. */
  readonly flags: string;
  /** The incoming `tracestate`, passed on unchanged. */
  readonly traceState: string | undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const storage = new AsyncLocalStorage<TraceContext>();

/** Reads `traceparent`/`tracestate`; an absent or invalid header starts a new trace (trace context §3.2.2). */
export function traceContextFrom(headers: IncomingHttpHeaders): TraceContext {
  const header = headers.traceparent;
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim()) : null;
  const traceId = match?.[1];
  if (match === null || traceId === undefined || /^0+$/.test(traceId) || /^0+$/.test(match[2] ?? '')) {
    return {
      traceId: randomBytes(16).toString('hex'),
      parentId: undefined,
      flags: '01',
      traceState: undefined,
    };
  }
  const state = headers.tracestate;
  return {
    traceId,
    parentId: match[2],
    flags: match[3] ?? '01',
    traceState: typeof state === 'string' ? state : Array.isArray(state) ? state.join(',') : undefined,
  };
}

/**
 * Runs `fn` with the trace context of an incoming request, so that SDK client calls made inside it (however
 * deep the awaits) carry the same trace id. `createService` does this for every request; use it directly
 * when serving requests with your own server.
 *
 * @example
 * http.createServer((req, res) => runWithTraceContext(req.headers, () => handle(req, res)));
 */
export function runWithTraceContext<T>(headers: IncomingHttpHeaders, fn: () => T): T {
  return storage.run(traceContextFrom(headers), fn);
}

/** The trace context of the request being handled, if any. */
export function currentTraceContext(): TraceContext | undefined {
  return storage.getStore();
}

/**
 * The `traceparent` for an outgoing call: the current trace with a new span id for this call, or a new
 * sampled trace outside any request.
 */
export function outgoingTraceparent(context: TraceContext | undefined = storage.getStore()): string {
  const spanId = randomBytes(8).toString('hex');
  if (context === undefined) return `00-${randomBytes(16).toString('hex')}-${spanId}-01`;
  return `00-${context.traceId}-${spanId}-${context.flags}`;
}

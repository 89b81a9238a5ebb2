import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { isValidTracestate, parseTraceparent, TraceIdSource } from '../observability/trace-context.ts';

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

const storage = new AsyncLocalStorage<TraceContext>();
const ids = new TraceIdSource();

/** Reads `traceparent`/`tracestate` as the gateway does; an absent or invalid header starts a new trace. */
function traceContextFrom(headers: IncomingHttpHeaders): TraceContext {
  const header = headers.traceparent;
  const parent = parseTraceparent(typeof header === 'string' ? header.trim() : undefined);
  if (parent === undefined) {
    return { traceId: ids.traceId(), parentId: undefined, flags: '01', traceState: undefined };
  }
  const state = headers.tracestate;
  const joined = Array.isArray(state) ? state.join(',') : state;
  return {
    traceId: parent.traceId,
    parentId: parent.parentId,
    flags: parent.flags,
    traceState: joined !== undefined && isValidTracestate(joined) ? joined : undefined,
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
  const spanId = ids.spanId();
  if (context === undefined) return `00-${ids.traceId()}-${spanId}-01`;
  return `00-${context.traceId}-${spanId}-${context.flags}`;
}

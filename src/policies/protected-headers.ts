import { isHopByHop } from '../http/hop-by-hop.ts';

/**
 * Request headers a transform may not set, add, rename to or remove: connection-level ones (RFC 9110
 * §7.6.1) and framing, which Portico writes itself, and the headers upstreams trust because only Portico
 * writes them (forwarding, identity, request id, trace context); hop-by-hop ones come from isHopByHop. Forging any of them through config would
 * undo what the gateway guarantees.
 */
const protectedRequest = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  'traceparent',
  'tracestate',
]);

/** Response headers a transform may not touch: framing, connection-level, and Portico's own. */
const protectedResponse = new Set(['x-request-id', 'portico-cache', 'portico-version']);

/** Why a transform may not touch request header `name`, or undefined when it may. */
export function protectedRequestHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (isHopByHop(lower) || protectedRequest.has(lower) || lower.startsWith('x-consumer-'))
    return `"${name}" is set by Portico (connection, framing, forwarding, identity or trace header) and cannot be changed by a transform`;
  return undefined;
}

/** Why a transform may not touch response header `name`, or undefined when it may. */
export function protectedResponseHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (isHopByHop(lower) || protectedResponse.has(lower))
    return `"${name}" is set by Portico (connection, framing or gateway header) and cannot be changed by a transform`;
  return undefined;
}

import type { IncomingMessage } from 'node:http';
import { appendTraceHeaders } from '../../observability/trace-context.ts';
import { applyHeaderEdit, type HeaderEdit } from '../../policies/header-edit.ts';
import type { AddressMatcher } from '../net/address-matcher.ts';
import { isHopByHop, removeConnectionNamed } from '../../http/hop-by-hop.ts';
import { grpcFramingOf } from '../../http/grpc-framing.ts';
import { clientCertHeaderOf } from '../tls/client-cert-header.ts';

/** Headers the gateway sets itself; a client's copies are dropped, except forwarding ones from trusted proxies. */
const gatewayHeaders = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-request-id',
  // Identity headers: only the gateway's authentication stages may set them (security/identity.ts).
  'x-consumer-id',
  'x-consumer-scopes',
  'x-consumer-subject',
  // W3C trace context: replaced by the gateway's own span (observability/trace-context.ts).
  'traceparent',
  'tracestate',
  // Client certificates (RFC 9440): only a TLS listener with clientAuth.forward sets them.
  'client-cert',
  'client-cert-chain',
]);
const gatewayHeaderLengths = new Set([...gatewayHeaders].map((name) => name.length));

export interface ForwardingInfo {
  /** The peer address of the client connection. */
  readonly peer: string;
  readonly fromTrustedProxy: boolean;
  readonly requestId: string;
  /** Host header to send upstream. */
  readonly upstreamHost: string;
  /** Declared request body length (already validated by Node), or -1 when none / chunked. */
  readonly contentLength: number;
  /** Verified headers added by stages (identity), as a flat [name, value, …] list. */
  readonly extra?: readonly string[] | undefined;
  /**
   * The route's header transform, applied to the client's headers before the gateway's own are added, so it
   * can never replace a forwarding, identity or trace header.
   */
  readonly edit?: HeaderEdit | undefined;
}

/**
 * Builds the flat [name, value, …] header list sent upstream: hop-by-hop headers and every header named in
 * Connection are removed (after which the gateway's own headers are added, so `Connection: X-Forwarded-For`
 * cannot strip them), header names containing `_` or `.` are dropped (an upstream that maps them to `-`
 * would otherwise see an alias of a header the gateway controls), and the forwarding headers are rebuilt:
 * client-sent values are kept only from trusted proxies. `traceparent` carries the gateway's own span of the
 * request (the caller's trace continued, or a new one).
 */
export function buildUpstreamHeaders(req: IncomingMessage, info: ForwardingInfo): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let connection: string | undefined;
  let priorFor: string | undefined;
  let priorProto: string | undefined;
  let priorHost: string | undefined;
  let priorForwarded: string | undefined;
  let clientHost = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 0x3a) {
      // HTTP/2 pseudo-headers: undici writes the upstream's own; `:authority` is the client's Host.
      if (name === ':authority' && clientHost === '') clientHost = value;
      continue;
    }
    if (isHopByHop(name)) {
      // `TE: trailers` is hop-by-hop, but gRPC servers require it on every call (Portico relays trailers).
      if (
        name.length === 2 &&
        value === 'trailers' &&
        name.toLowerCase() === 'te' &&
        grpcFramingOf(req.headers['content-type']) === 'grpc'
      )
        out.push('te', value);
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        connection = connection === undefined ? value : `${connection},${value}`;
      }
      continue;
    }
    if (name.includes('_') || name.includes('.')) continue;
    if (gatewayHeaderLengths.has(name.length)) {
      const lower = name.toLowerCase();
      if (gatewayHeaders.has(lower)) {
        if (lower === 'host') clientHost = value;
        else if (info.fromTrustedProxy) {
          if (lower === 'x-forwarded-for')
            priorFor = priorFor === undefined ? value : `${priorFor}, ${value}`;
          else if (lower === 'x-forwarded-proto') priorProto ??= value;
          else if (lower === 'x-forwarded-host') priorHost ??= value;
          else if (lower === 'forwarded')
            priorForwarded = priorForwarded === undefined ? value : `${priorForwarded}, ${value}`;
        }
        continue;
      }
    }
    out.push(name, value);
  }
  // Most clients send no Connection header or only keep-alive/close: headers it names are filtered in a
  // second pass only when it names something else.
  if (connection !== undefined) removeConnectionNamed(out, connection);
  if (info.edit !== undefined) applyHeaderEdit(out, info.edit);
  const peer = info.peer;
  // The listener's own scheme, unless a trusted proxy in front already said how the client came in.
  const proto =
    priorProto ?? ((req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http');
  const host = priorHost ?? clientHost;
  const forwardedFor = peer.includes(':') ? `"[${peer}]"` : peer;
  const quotedHost = host.includes('"') || host.includes('\\') ? host.replace(/["\\]/g, '') : host;
  const forwarded = `for=${forwardedFor};proto=${proto}${host === '' ? '' : `;host="${quotedHost}"`}`;
  out.push(
    'host',
    info.upstreamHost,
    'x-forwarded-for',
    priorFor === undefined ? peer : `${priorFor}, ${peer}`,
    'x-forwarded-proto',
    proto,
    'forwarded',
    priorForwarded === undefined ? forwarded : `${priorForwarded}, ${forwarded}`,
    'x-request-id',
    info.requestId,
  );
  if (host !== '') out.push('x-forwarded-host', host);
  if (info.contentLength >= 0) out.push('content-length', String(info.contentLength));
  appendTraceHeaders(req, out);
  const clientCert = clientCertHeaderOf(req.socket);
  if (clientCert !== undefined) out.push('client-cert', clientCert);
  const extra = info.extra;
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) out.push(extra[i] as string);
  return out;
}

/**
 * The client address: the peer itself, or — behind trusted proxies — the right-most X-Forwarded-For entry
 * that is not itself a trusted proxy (entries further left could have been written by the client).
 */
export function resolveClientIp(
  peer: string,
  fromTrustedProxy: boolean,
  forwardedFor: string | string[] | undefined,
  trusted: AddressMatcher,
): string {
  if (!fromTrustedProxy || forwardedFor === undefined) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim();
    if (hop !== '' && !trusted.has(hop)) return hop;
  }
  return peer;
}

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * Set on the connections of a listener that forwards client certificates: undefined elsewhere, null until the
 * header value was computed, then the value ('' when the connection has no verified certificate).
 */
const kClientCert = Symbol('portico.clientCertHeader');
type ForwardingSocket = TLSSocket & { [kClientCert]?: string | null };

/** Marks a TLS connection whose verified client certificate goes upstream in `Client-Cert`. */
export function forwardClientCertificate(socket: TLSSocket): void {
  (socket as ForwardingSocket)[kClientCert] = null;
}

/**
 * The `Client-Cert` value of a connection (RFC 9440: the DER certificate in base64 between colons), computed
 * once per connection; undefined when the listener does not forward certificates or the client sent no
 * verified one.
 */
export function clientCertHeaderOf(socket: Socket | null): string | undefined {
  const tls = socket as ForwardingSocket | null;
  const cached = tls?.[kClientCert];
  if (cached === undefined || tls === null) return undefined;
  if (cached !== null) return cached === '' ? undefined : cached;
  const cert = tls.authorized ? tls.getPeerX509Certificate() : undefined;
  const value = cert === undefined ? '' : `:${cert.raw.toString('base64')}:`;
  tls[kClientCert] = value;
  return value === '' ? undefined : value;
}

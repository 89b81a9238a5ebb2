import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { listenersOf } from '../../config/listeners.ts';
import type { Config, ListenerTlsConfig } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ListenerSpec } from '../server.ts';
import { ListenerCertificates } from './listener-certificates.ts';

/** The client listeners of a config, ready for `createGatewayServer`, with the certificates they own. */
export interface EdgeListeners {
  readonly specs: readonly ListenerSpec[];
  /** Per listener, its certificates (undefined for plain listeners). */
  readonly certificates: readonly (ListenerCertificates | undefined)[];
  /** Addresses in the order of `specs`. */
  readonly addresses: readonly string[];
  close(): void;
}

/**
 * Loads the certificates of every TLS listener (a file that does not load fails start-up, with its path) and
 * derives each listener's spec: TLS options, the HSTS value, the port a redirect listener points to.
 */
export function createEdgeListeners(config: Config, baseDir: string, logger: Logger): EdgeListeners {
  const listeners = listenersOf(config);
  const firstTls = listeners.find((listener) => listener.tls !== undefined);
  const certificates = listeners.map((listener) =>
    listener.tls === undefined
      ? undefined
      : new ListenerCertificates(listener.address, listener.tls, baseDir, logger),
  );
  const specs = listeners.map((listener, i): ListenerSpec => {
    const certs = certificates[i];
    if (listener.tls !== undefined && certs !== undefined)
      return {
        tls: certs.serverOptions(),
        hsts: hstsOf(listener.tls),
        forwardClientCertificate: listener.tls.clientAuth?.forward === true,
      };
    if (listener.redirectToHttps === true)
      return { redirectToHttpsPort: listener.httpsPort ?? portOf(firstTls?.address ?? '') };
    return {};
  });
  return {
    specs,
    certificates,
    addresses: listeners.map((listener) => listener.address),
    close() {
      for (const certs of certificates) certs?.close();
    },
  };
}

/** Metrics of certificate reloads and expiry, and the watch that feeds them. */
export function watchCertificates(edge: EdgeListeners, registry: Registry): void {
  const reloads = new Counter({
    name: 'portico_tls_certificate_reloads_total',
    help: 'Reloads of TLS certificate files after they changed, by listener and result (applied, rejected).',
    labelNames: ['listener', 'result'],
    registers: [registry],
  });
  new Gauge({
    name: 'portico_tls_certificate_expiry_timestamp_seconds',
    help: 'Not-after time of each certificate served, as a Unix timestamp, by listener and first name.',
    labelNames: ['listener', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const certs of edge.certificates) {
        if (certs === undefined) continue;
        for (const info of certs.status().certificates)
          this.set({ listener: certs.listener, name: info.names[0] ?? '' }, Date.parse(info.notAfter) / 1000);
      }
    },
  });
  for (const certs of edge.certificates) {
    certs?.watch((ok) => reloads.inc({ listener: certs.listener, result: ok ? 'applied' : 'rejected' }));
  }
}

/** `GET /v1/certificates`: what every TLS listener serves and whether its last reload failed. */
export function createCertificateRoutes(edge: EdgeListeners): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/certificates',
      handler: function listCertificates(_req, res) {
        const listeners = [];
        for (const certs of edge.certificates) if (certs !== undefined) listeners.push(certs.status());
        sendJson(res, 200, { listeners });
      },
    },
  ];
}

function hstsOf(tls: ListenerTlsConfig): string | undefined {
  const hsts = tls.hsts;
  if (hsts === undefined) return undefined;
  let value = `max-age=${Math.floor(parseDurationMs(hsts.maxAge ?? '180d') / 1000)}`;
  if (hsts.includeSubDomains === true) value += '; includeSubDomains';
  if (hsts.preload === true) value += '; preload';
  return value;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1)) || 0;
}

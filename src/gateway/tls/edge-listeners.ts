import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { listenersOf } from '../../config/listeners.ts';
import type { Config, ListenerConfig, ListenerTlsConfig } from '../../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Http2ListenerSpec, ListenerSpec } from '../server.ts';
import { AcmeManager } from './acme-manager.ts';
import { ListenerCertificates } from './listener-certificates.ts';

/** The client listeners of a config, ready for `createGatewayServer`, with the certificates they own. */
export interface EdgeListeners {
  readonly specs: readonly ListenerSpec[];
  /** Per listener, its certificates (undefined for plain listeners). */
  readonly certificates: readonly (ListenerCertificates | undefined)[];
  /** Per listener, its ACME manager (undefined without `tls.acme`). */
  readonly acme: readonly (AcmeManager | undefined)[];
  /** Addresses in the order of `specs`. */
  readonly addresses: readonly string[];
  close(): Promise<void>;
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
  const acme = listeners.map((listener, i) => {
    const certs = certificates[i];
    if (listener.tls?.acme === undefined || certs === undefined) return undefined;
    return new AcmeManager({
      listener: listener.address,
      config: listener.tls.acme,
      baseDir,
      certificates: certs,
      logger,
    });
  });
  const managers = acme.filter((manager) => manager !== undefined);
  // Any plain listener answers the HTTP-01 tokens of every ACME listener (the CA connects to port 80).
  const acmeChallenge =
    managers.length === 0
      ? undefined
      : (token: string): string | undefined => {
          for (const manager of managers) {
            const answer = manager.challenge(token);
            if (answer !== undefined) return answer;
          }
          return undefined;
        };
  const specs = listeners.map((listener, i): ListenerSpec => {
    const certs = certificates[i];
    if (listener.tls !== undefined && certs !== undefined)
      return {
        tls: certs.serverOptions(),
        hsts: hstsOf(listener.tls),
        forwardClientCertificate: listener.tls.clientAuth?.forward === true,
        http2: http2Of(listener, config),
      };
    if (listener.redirectToHttps === true)
      return { redirectToHttpsPort: listener.httpsPort ?? portOf(firstTls?.address ?? ''), acmeChallenge };
    return { acmeChallenge, http2: http2Of(listener, config) };
  });
  return {
    specs,
    certificates,
    acme,
    addresses: listeners.map((listener) => listener.address),
    async close() {
      for (const certs of certificates) certs?.close();
      await Promise.all(managers.map((manager) => manager.close()));
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

/** Starts the ACME managers (stored certificates at once, orders in the background) and counts their orders. */
export function startAcme(edge: EdgeListeners, registry: Registry): void {
  if (edge.acme.every((manager) => manager === undefined)) return;
  const orders = new Counter({
    name: 'portico_tls_acme_orders_total',
    help: 'ACME certificate orders (first issuance and renewals) by listener and result (issued, failed).',
    labelNames: ['listener', 'result'],
    registers: [registry],
  });
  edge.acme.forEach((manager, i) => {
    if (manager === undefined) return;
    const listener = edge.addresses[i] ?? '';
    manager.onOrder = (ok) => orders.inc({ listener, result: ok ? 'issued' : 'failed' });
    manager.start();
  });
}

/** `GET /v1/certificates`: what every TLS listener serves and whether its last reload failed. */
export function createCertificateRoutes(edge: EdgeListeners): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/certificates',
      handler: function listCertificates(_req, res) {
        const listeners: object[] = [];
        edge.certificates.forEach((certs, i) => {
          if (certs === undefined) return;
          const acme = edge.acme[i];
          listeners.push(acme === undefined ? certs.status() : { ...certs.status(), acme: acme.status() });
        });
        sendJson(res, 200, { listeners });
      },
    },
  ];
}

/** HTTP/2 settings of a listener: on by default with TLS (ALPN), opt-in on a plain listener (h2c). */
function http2Of(listener: ListenerConfig, config: Config): Http2ListenerSpec | undefined {
  const h2 = listener.http2;
  if (!(h2?.enabled ?? listener.tls !== undefined)) return undefined;
  return {
    settings: {
      maxConcurrentStreams: h2?.maxConcurrentStreams ?? 100,
      maxHeaderListSize: parseSizeBytes(h2?.maxHeaderListSize ?? config.limits.headerSize),
      initialWindowSize: parseSizeBytes(h2?.initialWindowSize ?? '64kb'),
    },
    flood: {
      windowMs: parseDurationMs(h2?.floodWindow ?? '10s'),
      maxResets: h2?.maxResets ?? 200,
      maxPings: h2?.maxPings ?? 100,
      maxSettings: h2?.maxSettings ?? 100,
    },
  };
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

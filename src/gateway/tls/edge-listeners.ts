import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { listenersOf } from '../../config/listeners.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { Config, ListenerConfig, ListenerTlsConfig } from '../../config/schema.ts';
import { parseDurationMs, parseSizeBytes } from '../../config/units.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Http2ListenerSpec, ListenerSpec } from '../server.ts';
import type { AcmeStore } from '../../store/acme-store.ts';
import { AcmeManager } from './acme-manager.ts';
import { createFolderAcmeStorage, createStoreAcmeStorage } from './acme-storage.ts';
import { createRecordSealer } from './sealed-records.ts';
import { ListenerCertificates } from './listener-certificates.ts';

type AcmeConfig = NonNullable<ListenerTlsConfig['acme']>;

/** The client listeners of a config, ready for `createGatewayServer`, with the certificates they own. */
export interface EdgeListeners {
  readonly specs: readonly ListenerSpec[];
  /** Per listener, its certificates (undefined for plain listeners). */
  readonly certificates: readonly (ListenerCertificates | undefined)[];
  /** Per listener, the managers of certificates ordered on demand, by name (undefined without `onDemand`). */
  readonly onDemand: readonly (ReadonlyMap<string, AcmeManager> | undefined)[];
  /** Told of every order's result, on-demand ones included (metrics). */
  onOrder: ((listener: string, ok: boolean) => void) | undefined;
  /** Per listener, its ACME manager (undefined without `tls.acme.domains`). */
  readonly acme: readonly (AcmeManager | undefined)[];
  /** Addresses in the order of `specs`. */
  readonly addresses: readonly string[];
  close(): Promise<void>;
}

/**
 * Loads the certificates of every TLS listener (a file that does not load fails start-up, with its path) and
 * derives each listener's spec: TLS options, the HSTS value, the port a redirect listener points to.
 */
export function createEdgeListeners(
  config: Config,
  baseDir: string,
  logger: Logger,
  store?: AcmeStore | undefined,
): EdgeListeners {
  const listeners = listenersOf(config);
  const firstTls = listeners.find((listener) => listener.tls !== undefined);
  const certificates = listeners.map((listener) =>
    listener.tls === undefined
      ? undefined
      : new ListenerCertificates(listener.address, listener.tls, baseDir, logger),
  );
  // Every manager, the on-demand ones included as they are made: closed together, HTTP-01 answered by all.
  const managers: AcmeManager[] = [];
  const http01: AcmeManager[] = [];
  let onOrder: ((listener: string, ok: boolean) => void) | undefined;
  const makeManager = (
    address: string,
    config: AcmeConfig,
    certs: ListenerCertificates,
    domains: readonly string[],
  ): AcmeManager => {
    const inStore = config.encryptionKey !== undefined && store !== undefined;
    const id = hashOf(`${config.directory}\n${domains.join(',')}`);
    const manager = new AcmeManager({
      listener: address,
      config,
      domains,
      baseDir,
      certificates: certs,
      storage: inStore
        ? createStoreAcmeStorage(
            store,
            createRecordSealer(config.encryptionKey as string),
            hashOf(config.directory),
            id,
          )
        : createFolderAcmeStorage(join(resolve(baseDir, config.storage ?? './.portico/acme'), id)),
      storageKind: inStore ? 'store' : 'folder',
      logger,
    });
    manager.onOrder = (ok) => onOrder?.(address, ok);
    managers.push(manager);
    if (manager.challengeType === 'http-01') http01.push(manager);
    return manager;
  };
  const onDemand = listeners.map((listener, i) => {
    const certs = certificates[i];
    const config = listener.tls?.acme;
    if (config?.onDemand === undefined || certs === undefined) return undefined;
    const made = new Map<string, AcmeManager>();
    const allowed = allowListOf(config.onDemand.allow);
    const max = config.onDemand.max ?? 100;
    certs.onUnknownName = (name) => {
      if (made.has(name) || made.size >= max || !allowed(name)) return;
      const manager = makeManager(listener.address, config, certs, [name]);
      made.set(name, manager);
      logger.info({ listener: listener.address, name }, 'ACME certificate ordered on demand');
      manager.start().catch((err: unknown) => logger.error({ err, name }, 'on-demand ACME start failed'));
    };
    return made;
  });
  const acme = listeners.map((listener, i) => {
    const certs = certificates[i];
    const config = listener.tls?.acme;
    if (config === undefined || certs === undefined) return undefined;
    const manager =
      config.domains === undefined ? undefined : makeManager(listener.address, config, certs, config.domains);
    if ((config.challenge ?? 'http-01') === 'tls-alpn-01') {
      const byName = onDemand[i];
      certs.alpnChallenge = async (name) => (byName?.get(name.toLowerCase()) ?? manager)?.alpnContext(name);
    }
    return manager;
  });
  // Any plain listener answers the HTTP-01 tokens of every ACME listener (the CA connects to port 80).
  const acmeChallenge = listeners.some((listener) => listener.tls?.acme !== undefined)
    ? (token: string) => answerHttp01(http01, token)
    : undefined;
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
    onDemand,
    set onOrder(hook: ((listener: string, ok: boolean) => void) | undefined) {
      onOrder = hook;
    },
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
export async function startAcme(edge: EdgeListeners, registry: Registry): Promise<void> {
  if (
    edge.acme.every((manager) => manager === undefined) &&
    edge.onDemand.every((made) => made === undefined)
  )
    return;
  const orders = new Counter({
    name: 'portico_tls_acme_orders_total',
    help: 'ACME certificate orders (first issuance, renewals, on-demand names) by listener and result (issued, failed).',
    labelNames: ['listener', 'result'],
    registers: [registry],
  });
  edge.onOrder = (listener, ok) => orders.inc({ listener, result: ok ? 'issued' : 'failed' });
  await Promise.all(edge.acme.map((manager) => manager?.start()));
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
          const onDemand = edge.onDemand[i];
          listeners.push({
            ...certs.status(),
            ...(acme === undefined ? {} : { acme: acme.status() }),
            ...(onDemand === undefined
              ? {}
              : { onDemand: [...onDemand.values()].map((manager) => manager.status()) }),
          });
        });
        sendJson(res, 200, { listeners });
      },
    },
    {
      method: 'POST',
      path: '/v1/certificates/{listener}/revoke',
      handler: async function revokeCertificate(_req, res, ctx) {
        const listener = ctx.params.listener ?? '';
        const manager = edge.acme[edge.addresses.indexOf(listener)];
        if (manager === undefined)
          throw new PorticoError('not_found', `no TLS listener ${listener} with tls.acme on this node`);
        try {
          await manager.revoke();
        } catch (err) {
          throw new PorticoError('acme_revoke_failed', err instanceof Error ? err.message : String(err));
        }
        sendJson(res, 202, { listener, acme: manager.status() });
      },
    },
  ];
}

/**
 * The answer to an HTTP-01 token: a string when a manager of this process ordered it, else a promise over the
 * storages (another process or node may be ordering), else undefined.
 */
function answerHttp01(
  managers: readonly AcmeManager[],
  token: string,
): string | Promise<string | undefined> | undefined {
  const pending: Promise<string | undefined>[] = [];
  for (const manager of managers) {
    const answer = manager.challenge(token);
    if (typeof answer === 'string') return answer;
    if (answer !== undefined) pending.push(answer);
  }
  if (pending.length === 0) return undefined;
  return Promise.all(pending).then((answers) => answers.find((answer) => answer !== undefined));
}

/** Whether an SNI name (lower case) is on an on-demand allow-list: exact names, `*.parent` for one label. */
function allowListOf(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const parents = new Set<string>();
  for (const pattern of patterns) {
    const lower = pattern.toLowerCase();
    if (lower.startsWith('*.')) parents.add(lower.slice(2));
    else exact.add(lower);
  }
  return (name) => {
    if (exact.has(name)) return true;
    const dot = name.indexOf('.');
    return dot > 0 && parents.has(name.slice(dot + 1));
  };
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
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

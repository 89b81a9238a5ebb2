import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { parseDurationMs } from '../config/units.ts';
import { toRequestListener, type ServiceApp } from './handler-adapter.ts';
import { Registration } from './registration.ts';
import { RegistryConnection, type RegistryOptions } from './registry-connection.ts';
import { runWithTraceContext } from './trace-context.ts';

/** Where the SDK reports what happens to a service (registration failures, drain steps). */
export interface ServiceLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Options of {@link createService}. */
export interface ServiceOptions {
  /** Service name in the registry (`^[a-z0-9][a-z0-9-]{0,62}$`). */
  readonly name: string;
  /** Semantic version of this build (`1.4.0`). */
  readonly version: string;
  /** OpenAPI 3 document published with the registration. */
  readonly contract?: object | undefined;
  /** The registry (Portico's admin listener). Default: `$PORTICO_REGISTRY_URL` or `http://127.0.0.1:8081`. */
  readonly registry?: RegistryOptions | undefined;
  /** A node:http request handler; or pass `app`. */
  readonly handler?: RequestListener | undefined;
  /** An Express app, a Hono app (`fetch`), or a Fastify instance that is not listening. */
  readonly app?: ServiceApp | undefined;
  /** Port to listen on. Default: `$PORT`, else any free port. */
  readonly port?: number | undefined;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined;
  /** URL the registry hands out to callers. Default `http://<host>:<port>` (the machine's name for `0.0.0.0`). */
  readonly url?: string | undefined;
  /** Instance id. Default `<name>-<hostname>-<port>`. */
  readonly id?: string | undefined;
  /** Lease length (`15s`). Default `15s`. */
  readonly ttl?: string | undefined;
  /** Time between heartbeats. Default a third of the TTL. */
  readonly heartbeatMs?: number | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** Active health check the registry runs against this instance (`{ path: '/healthz', interval: '5s' }`). */
  readonly healthCheck?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Time between marking the instance draining and waiting for in-flight requests, so that callers (gateways
   * and SDK clients watching the registry) learn about the drain before the server stops. Default 1000.
   */
  readonly drainGraceMs?: number | undefined;
  /** Longest wait for in-flight requests during a drain. Default 30000. */
  readonly drainTimeoutMs?: number | undefined;
  /** Drain and exit on SIGTERM and SIGINT. Default true. */
  readonly handleSignals?: boolean | undefined;
  /** Default: `console`. */
  readonly logger?: ServiceLogger | undefined;
}

/** A running service instance. */
export interface PorticoService {
  readonly name: string;
  readonly version: string;
  readonly id: string;
  /** The URL registered for this instance. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Whether the registry last confirmed the registration. */
  readonly registered: boolean;
  /** Requests being handled now. */
  readonly inflight: number;
  readonly draining: boolean;
  /**
   * Drains and stops: marks the instance draining, waits `drainGraceMs`, waits for in-flight requests,
   * deregisters and closes the server. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

const ID_UNSAFE = /[^A-Za-z0-9._:-]/g;

/**
 * Serves a handler or app, registers the instance (with its contract) in Portico's registry, keeps it alive
 * with heartbeats, registers again when the registry forgot it, and on SIGTERM/SIGINT drains before exiting:
 * draining → in-flight requests finish → deregistered → exit 0.
 *
 * @example
 * import { createService } from 'portico/sdk';
 *
 * const service = await createService({
 *   name: 'orders',
 *   version: '3.1.0',
 *   registry: 'http://127.0.0.1:8081',
 *   handler(req, res) {
 *     res.setHeader('content-type', 'application/json');
 *     res.end(JSON.stringify({ orders: [] }));
 *   },
 * });
 * console.log(`orders ${service.id} on ${service.url}`);
 */
export async function createService(options: ServiceOptions): Promise<PorticoService> {
  const source = options.handler ?? options.app;
  if (source === undefined) throw new TypeError('createService needs a handler or an app');
  const listener = await toRequestListener(source);
  const logger = options.logger ?? console;
  const host = options.host ?? '127.0.0.1';

  let inflight = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  const server = createServer(function handlePorticoRequest(req, res) {
    inflight++;
    res.once('close', () => {
      if (--inflight === 0 && idle !== undefined) idle();
    });
    // Once draining, each answer closes its connection, so keep-alive callers reconnect to other instances.
    if (draining) res.setHeader('connection', 'close');
    runWithTraceContext(req.headers, () => listener(req, res));
  });
  const port = options.port ?? Number(process.env.PORT ?? 0);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  const advertisedHost = host === '0.0.0.0' || host === '::' ? hostname() : host;
  const url =
    options.url ??
    `http://${advertisedHost.includes(':') ? `[${advertisedHost}]` : advertisedHost}:${boundPort}`;
  const id = options.id ?? `${options.name}-${hostname()}-${boundPort}`.replace(ID_UNSAFE, '-').slice(0, 128);
  const ttl = options.ttl ?? '15s';

  const connection = new RegistryConnection(options.registry);
  const registration = new Registration(connection, {
    service: options.name,
    id,
    body: {
      url,
      version: options.version,
      ttl,
      metadata: options.metadata,
      healthCheck: options.healthCheck,
      contract: options.contract,
    },
    heartbeatMs: options.heartbeatMs ?? Math.max(250, Math.floor(parseDurationMs(ttl) / 3)),
    onError: (err) => logger.warn(`portico sdk: ${options.name} ${id}: ${err.message}`),
  });

  let closing: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(`portico sdk: ${signal}: draining ${options.name} ${id}`);
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.warn(`portico sdk: drain failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  const handleSignals = options.handleSignals ?? true;

  async function drainAndStop(): Promise<void> {
    if (handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    draining = true;
    await registration.drain();
    await delay(options.drainGraceMs ?? 1_000);
    if (inflight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (idle = resolve)),
        delay(options.drainTimeoutMs ?? 30_000),
      ]);
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await registration.deregister();
    server.closeAllConnections();
    await closed;
    await connection.close();
  }

  const service: PorticoService = {
    name: options.name,
    version: options.version,
    id,
    url,
    port: boundPort,
    server,
    get registered() {
      return registration.registered;
    },
    get inflight() {
      return inflight;
    },
    get draining() {
      return draining;
    },
    close() {
      closing ??= drainAndStop();
      return closing;
    },
  };

  if (!(await registration.start())) {
    logger.warn(`portico sdk: ${options.name} ${id} is serving but not registered yet; retrying`);
  }
  if (handleSignals) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return service;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

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

/**
 * What the SDK needs of a `@grpc/grpc-js` `Server` (structurally, so the SDK does not load grpc-js unless it
 * binds the server itself).
 */
export interface GrpcServerLike {
  bindAsync(address: string, credentials: never, callback: (error: Error | null, port: number) => void): void;
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/** The gRPC server a {@link createService} call registers instead of an HTTP handler. */
export interface GrpcServiceOptions {
  /** A `@grpc/grpc-js` `Server` with its services added. */
  readonly server: GrpcServerLike;
  /**
   * The port the server is already bound to (`bindAsync` done). Absent: the SDK binds it on `host` and `port`
   * (of the service options) with `credentials`.
   */
  readonly boundPort?: number | undefined;
  /** `ServerCredentials` for the SDK's bind. Default: insecure (h2c), loaded from `@grpc/grpc-js`. */
  readonly credentials?: unknown;
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
  /**
   * A gRPC server to register (with `protocol: grpc`) instead of an HTTP handler; see {@link GrpcServiceOptions}.
   * Its drain stops new calls with `tryShutdown` and waits for the running ones.
   */
  readonly grpc?: GrpcServiceOptions | undefined;
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
  /** The HTTP server (for a gRPC service, one that never listens; use `grpcServer`). */
  readonly server: Server;
  /** The gRPC server of a service created with `grpc`. */
  readonly grpcServer?: GrpcServerLike | undefined;
  /** Whether the registry last confirmed the registration. */
  readonly registered: boolean;
  /** Requests being handled now (always 0 for a gRPC service: grpc-js counts its own calls). */
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
 *
 * @example
 * // A gRPC server (@grpc/grpc-js) with its services added: the SDK binds it and registers `protocol: grpc`.
 * const server = new grpc.Server();
 * server.addService(GreeterService, { sayHello: (call, done) => done(null, { message: 'hi' }) });
 * await createService({ name: 'greeter', version: '1.0.0', grpc: { server } });
 */
export async function createService(options: ServiceOptions): Promise<PorticoService> {
  if (options.grpc !== undefined) return createGrpcService(options, options.grpc);
  const source = options.handler ?? options.app;
  if (source === undefined) throw new TypeError('createService needs a handler, an app or a grpc server');
  const listener = await toRequestListener(source);
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

  return startLifecycle(options, host, boundPort, undefined, server, {
    get inflight() {
      return inflight;
    },
    async stop(registration) {
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
    },
  });
}

/**
 * Registers a `@grpc/grpc-js` server: binds it unless it is bound, registers `protocol: grpc` (the gateway
 * speaks HTTP/2 to it: h2c for an http url, h2 for https), heartbeats, and drains with `tryShutdown`, which
 * refuses new calls and waits for the running ones (`forceShutdown` after `drainTimeoutMs`).
 */
async function createGrpcService(options: ServiceOptions, grpc: GrpcServiceOptions): Promise<PorticoService> {
  const host = options.host ?? '127.0.0.1';
  const { server: grpcServer } = grpc;
  let boundPort = grpc.boundPort;
  if (boundPort === undefined) {
    // Loaded only here: services that bind their own server, and HTTP services, never load grpc-js through the SDK.
    const credentials =
      grpc.credentials ?? (await import('@grpc/grpc-js')).ServerCredentials.createInsecure();
    const port = options.port ?? Number(process.env.PORT ?? 0);
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    boundPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(address, credentials as never, (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
  }
  let running = true;
  return startLifecycle(options, host, boundPort, 'grpc', createServer(), {
    inflight: 0,
    grpcServer,
    async stop(registration) {
      await registration.drain();
      await delay(options.drainGraceMs ?? 1_000);
      const shutdown = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
      // tryShutdown refuses new calls (GOAWAY) and waits for the running ones.
      const forced = delay(options.drainTimeoutMs ?? 30_000).then(() => {
        if (running) grpcServer.forceShutdown();
      });
      await Promise.race([shutdown, forced]);
      running = false;
      await registration.deregister();
    },
  });
}

/** What differs between an HTTP and a gRPC service once it listens. */
interface ServingParts {
  readonly inflight: number;
  readonly grpcServer?: GrpcServerLike | undefined;
  /** Drains the registration, stops serving and deregisters. */
  stop(registration: Registration): Promise<void>;
}

/** Registers a listening server, heartbeats, and drains on close and on SIGTERM/SIGINT. */
async function startLifecycle(
  options: ServiceOptions,
  host: string,
  boundPort: number,
  protocol: 'grpc' | undefined,
  server: Server,
  parts: ServingParts,
): Promise<PorticoService> {
  const logger = options.logger ?? console;
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
      ...(protocol === undefined ? {} : { protocol }),
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
  let draining = false;
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
    await parts.stop(registration);
    await connection.close();
  }

  const service: PorticoService = {
    name: options.name,
    version: options.version,
    id,
    url,
    port: boundPort,
    server,
    grpcServer: parts.grpcServer,
    get registered() {
      return registration.registered;
    },
    get inflight() {
      return parts.inflight;
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

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createClient, createService, type PorticoClient, type PorticoService } from '../sdk/index.ts';
import { startGreeter } from './greeter-service.ts';

/** The demo's services, registered in the gateway's registry through the SDK. */
export interface DemoServices {
  readonly services: readonly PorticoService[];
  readonly client: PorticoClient;
  /** Drains and deregisters every service, then closes the client. */
  close(): Promise<void>;
}

const quiet = { info: () => {}, warn: () => {} };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What every demo answer says about who answered, so routing, versions and balancing are visible. */
function who(service: PorticoService | undefined, name: string, version: string, req: IncomingMessage) {
  return {
    service: name,
    version,
    instance: service?.id,
    method: req.method,
    path: req.url,
    requestId: req.headers['x-request-id'],
  };
}

/** Control-plane tokens of the demo: one `service:NAME` token per service, and a `read` token for discovery. */
export interface DemoTokens {
  readonly read: string;
  readonly services: Readonly<Record<string, string>>;
}

/**
 * Starts the demo's services with the SDK, each registering itself (and its version) in the registry at
 * `registryUrl` with its own service token: users 1.4.0 and 2.1.0, two orders 3.0.0 instances that call
 * users through the SDK client, carts 1.0.0 (two instances) with a 2.0.0 canary, and a gRPC greeter (when
 * `@grpc/grpc-js` is installed).
 */
export async function startDemoServices(registryUrl: string, tokens?: DemoTokens): Promise<DemoServices> {
  const client = createClient({ registry: { url: registryUrl, token: tokens?.read } });
  const users = client.service('users', '^2');
  const started: PorticoService[] = [];

  const start = async (
    name: string,
    version: string,
    index: number,
    answer: (req: IncomingMessage, self: PorticoService | undefined) => Promise<unknown> | unknown,
  ): Promise<void> => {
    const holder: { self?: PorticoService } = {};
    const service = await createService({
      name,
      version,
      id: `${name}-${version.split('.')[0]}-${index}`,
      registry: { url: registryUrl, token: tokens?.services[name] },
      ttl: '10s',
      drainGraceMs: 0,
      handleSignals: false,
      logger: quiet,
      async handler(req, res) {
        if (req.url === '/healthz') return sendJson(res, 200, { status: 'ok', service: name, version });
        try {
          sendJson(res, 200, {
            ...who(holder.self, name, version, req),
            ...((await answer(req, holder.self)) as object),
          });
        } catch (err) {
          sendJson(res, 502, { title: 'a dependency failed', detail: (err as Error).message });
        }
      },
    });
    holder.self = service;
    started.push(service);
  };

  const userOf = (req: IncomingMessage) => /^\/users\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? 'unknown';
  await Promise.all([
    start('users', '1.4.0', 1, (req) => ({
      id: userOf(req),
      name: `User ${userOf(req)}`,
      cartId: `c-${userOf(req)}`,
    })),
    start('users', '2.1.0', 1, (req) => ({
      id: userOf(req),
      name: { first: 'User', last: userOf(req) },
      cartId: `c-${userOf(req)}`,
    })),
    ...[1, 2].map((i) =>
      start('orders', '3.0.0', i, async (req) => {
        const url = new URL(req.url ?? '/', 'http://orders');
        const userId = url.searchParams.get('user') ?? /^\/orders\/([^/]+)/.exec(url.pathname)?.[1] ?? '42';
        // A service-to-service call through the SDK: discovered in the registry, balanced, same trace id.
        const owner = await users.get<{ id: string; instance: string }>(
          `/users/${encodeURIComponent(userId)}`,
        );
        return {
          orders: [{ id: `o-${userId}-1`, total: 42 }],
          owner: { id: owner.id, answeredBy: owner.instance },
        };
      }),
    ),
    ...[1, 2].map((i) => start('carts', '1.0.0', i, () => ({ items: 2 }))),
    start('carts', '2.0.0', 1, () => ({ items: 2, canary: true })),
    startGreeter('greeter-1-1', {
      registry: { url: registryUrl, token: tokens?.services.greeter },
      logger: quiet,
    }).then((greeter) => {
      if (greeter !== undefined) started.push(greeter);
    }),
  ]);

  return {
    services: started,
    client,
    async close() {
      await Promise.all(started.map((service) => service.close()));
      await client.close();
    },
  };
}

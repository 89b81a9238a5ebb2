import type { ServerResponse } from 'node:http';
import type { AdminRoute } from '../admin/admin-route.ts';
import { readJsonBody, sendJson } from '../admin/json-body.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { InstanceStatus } from '../store/registry-store.ts';
import type { Registry } from './registry.ts';
import { registrationLimits } from './validate-registration.ts';
import { createWatchHandler, type WatchOptions } from './watch.ts';

/** Options of {@link createRegistryRoutes}. */
export interface RegistryRoutesOptions extends WatchOptions {
  /** Largest registration body. Default: the contract limit plus 64 KiB for the other fields. */
  readonly maxBodyBytes?: number;
}

const STATUSES: ReadonlySet<string> = new Set<InstanceStatus>(['passing', 'critical', 'draining']);
const INSTANCE = '/v1/services/{service}/instances/{id}';

/**
 * The registry API for the admin listener (token check and problem+json rendering are the admin server's).
 *
 * @example
 * adminServer.mount(createRegistryRoutes(registry, { keepAliveMs: 15_000 }));
 */
export function createRegistryRoutes(registry: Registry, options: RegistryRoutesOptions = {}): AdminRoute[] {
  const maxBodyBytes = options.maxBodyBytes ?? registrationLimits.maxContractBytes + 65_536;
  return [
    {
      method: 'PUT',
      path: INSTANCE,
      handler: async function registerInstance(req, res, { params }) {
        const { service = '', id = '' } = params;
        const body = await readJsonBody(req, maxBodyBytes);
        const { instance, created } = await registry.register(service, id, body);
        if (created) res.setHeader('location', `/v1/services/${service}/instances/${encodeURIComponent(id)}`);
        sendJson(res, created ? 201 : 200, instance);
      },
    },
    {
      method: 'PUT',
      path: `${INSTANCE}/heartbeat`,
      handler: async function renewLease(_req, res, { params }) {
        sendJson(res, 200, await registry.heartbeat(params.service ?? '', params.id ?? ''));
      },
    },
    {
      method: 'POST',
      path: `${INSTANCE}/drain`,
      handler: async function drainInstance(_req, res, { params }) {
        sendJson(res, 200, await registry.drain(params.service ?? '', params.id ?? ''));
      },
    },
    {
      method: 'DELETE',
      path: INSTANCE,
      handler: async function deregisterInstance(_req, res, { params }) {
        await registry.deregister(params.service ?? '', params.id ?? '');
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: '/v1/services',
      handler: function listServices(_req, res) {
        sendJson(res, 200, { revision: registry.revision, services: registry.listServices() });
      },
    },
    {
      method: 'GET',
      path: '/v1/services/{service}/instances',
      handler: function listInstances(_req, res, { params, url }) {
        const version = url.searchParams.get('version') ?? undefined;
        const status = url.searchParams.get('status') ?? undefined;
        if (status !== undefined && !STATUSES.has(status)) {
          throw new PorticoError('bad_request', 'status must be passing, critical or draining', {
            field: 'status',
          });
        }
        const instances = registry.listInstances(params.service ?? '', {
          version,
          status: status as InstanceStatus | undefined,
        });
        sendJson(res, 200, { revision: registry.revision, instances });
      },
    },
    {
      method: 'GET',
      path: '/v1/services/{service}/versions/{version}/contract',
      handler: async function getContract(_req, res, { params }) {
        const { service = '', version = '' } = params;
        const document = await registry.getContract(service, version);
        if (document === undefined) {
          throw new PorticoError('not_found', `no contract for ${service} ${version}`);
        }
        sendText(res, document);
      },
    },
    { method: 'GET', path: '/v1/watch', handler: createWatchHandler(registry, options) },
  ];
}

function sendText(res: ServerResponse, json: string): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

import type { TestContext } from 'node:test';
import { createService, type PorticoService, type ServiceOptions } from '../../src/sdk/index.ts';

/** Parsed JSON as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- registry answers are checked field by field in the tests
export type Json = any;

/** Admin token used by the SDK tests' Portico processes. */
export const adminToken = 'sdk-test-token-0123456789';

/** A Portico config with the admin token and the given services and routes. */
export function porticoConfig(port: number, adminPort: number, extra = ''): string {
  return `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort}, token: ${adminToken} }
logging: { level: warn, accessLog: false }
${extra}`;
}

/** Calls the registry API with the admin token; resolves with the status and parsed body. */
export async function registryCall(
  adminUrl: string,
  method: string,
  path: string,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(adminUrl + path, { method, headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** The instances the registry lists for `service`. */
export async function listed(adminUrl: string, service: string): Promise<Json[]> {
  const { status, body } = await registryCall(adminUrl, 'GET', `/v1/services/${service}/instances`);
  if (status !== 200) throw new Error(`list answered ${status}`);
  return body.instances;
}

const quiet = { info: () => {}, warn: () => {} };

/** A service answering `{ service, version, id, path }` as JSON, registered with fast test timings; closed after the test. */
export async function startTestService(
  t: TestContext,
  adminUrl: string,
  options: Partial<ServiceOptions> & { name: string; version: string },
): Promise<PorticoService> {
  const self: { id?: string } = {};
  const service = await createService({
    registry: { url: adminUrl, token: adminToken },
    ttl: '2s',
    heartbeatMs: 200,
    drainGraceMs: 150,
    handleSignals: false,
    logger: quiet,
    handler(req, res) {
      const body = JSON.stringify({
        service: options.name,
        version: options.version,
        id: self.id,
        path: req.url,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    },
    ...options,
  });
  self.id = service.id;
  t.after(() => service.close());
  return service;
}

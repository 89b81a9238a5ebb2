import { Pool } from 'undici';

/** How a batch of registry calls went. */
export interface BatchResult {
  done: number;
  failed: number;
  elapsedMs: number;
  /** Calls per second over the batch, failures excluded. */
  perSecond: number;
  /** The first unexpected answer, for the notes. */
  firstError: string | undefined;
}

/** The admin API of one Portico node, through a small keep-alive pool. */
export interface RegistryClient {
  register(service: string, id: string, body: object): Promise<number>;
  deregister(service: string, id: string): Promise<number>;
  /** Registers `ids` with `concurrency` calls in flight. */
  registerMany(
    service: string,
    ids: readonly string[],
    body: object,
    concurrency: number,
  ): Promise<BatchResult>;
  heartbeatMany(service: string, ids: readonly string[], concurrency: number): Promise<BatchResult>;
  close(): Promise<void>;
}

/** Instance ids `i00000`, `i00001`, … */
export function instanceIds(count: number, prefix = 'i'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

/** Creates a client for the admin listener at `adminOrigin`. */
export function createRegistryClient(adminOrigin: string, connections = 32): RegistryClient {
  const pool = new Pool(adminOrigin, { connections, keepAliveTimeout: 30_000 });

  async function call(
    method: 'PUT' | 'DELETE',
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    const res = await pool.request({
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body ?? null,
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async function batch(
    ids: readonly string[],
    concurrency: number,
    one: (id: string) => Promise<{ status: number; text: string }>,
  ): Promise<BatchResult> {
    let next = 0;
    let done = 0;
    let failed = 0;
    let firstError: string | undefined;
    const started = performance.now();
    async function worker(): Promise<void> {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          const { status, text } = await one(id);
          if (status >= 200 && status < 300) done++;
          else {
            failed++;
            firstError ??= `${status} ${text.slice(0, 160)}`;
          }
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, () => worker()));
    const elapsedMs = performance.now() - started;
    return { done, failed, elapsedMs, perSecond: done / (elapsedMs / 1000), firstError };
  }

  const instancePath = (service: string, id: string): string =>
    `/v1/services/${encodeURIComponent(service)}/instances/${encodeURIComponent(id)}`;

  return {
    async register(service, id, body) {
      return (await call('PUT', instancePath(service, id), JSON.stringify(body))).status;
    },
    async deregister(service, id) {
      return (await call('DELETE', instancePath(service, id))).status;
    },
    registerMany(service, ids, body, concurrency) {
      const text = JSON.stringify(body);
      return batch(ids, concurrency, (id) => call('PUT', instancePath(service, id), text));
    },
    heartbeatMany(service, ids, concurrency) {
      return batch(ids, concurrency, (id) => call('PUT', `${instancePath(service, id)}/heartbeat`));
    },
    close: () => pool.close(),
  };
}

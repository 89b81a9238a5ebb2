import { Agent, request } from 'undici';

/**
 * Where the registry is: its base URL (Portico's admin listener), or the URL with a token. A `service:NAME`
 * token is all a service needs (docs/admin-api.md). Defaults to `$PORTICO_REGISTRY_URL` (else
 * `http://127.0.0.1:8081`) and `$PORTICO_TOKEN` (else `$PORTICO_ADMIN_TOKEN`).
 */
export type RegistryOptions = string | { readonly url: string; readonly token?: string | undefined };

/** An instance as the registry API lists it (docs/registry.md). */
export interface RegistryInstance {
  readonly service: string;
  readonly id: string;
  readonly url: string;
  /** What the instance speaks, when its registration said (`grpc` for gRPC servers). */
  readonly protocol?: 'http1' | 'h2' | 'h2c' | 'grpc' | undefined;
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly status: 'passing' | 'critical' | 'draining';
  readonly ttlMs: number;
  readonly expiresAt: number;
}

/** A registry answer: the status and the parsed JSON body (undefined when empty). */
export interface RegistryAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Calls to the registry API over one connection pool; shared by a service's registration and a client. */
export class RegistryConnection {
  readonly url: string;
  readonly #authorization: string | undefined;
  readonly agent: Agent;

  constructor(options: RegistryOptions | undefined) {
    const resolved =
      options === undefined
        ? {
            url: process.env.PORTICO_REGISTRY_URL ?? 'http://127.0.0.1:8081',
            token: process.env.PORTICO_TOKEN ?? process.env.PORTICO_ADMIN_TOKEN,
          }
        : typeof options === 'string'
          ? { url: options, token: process.env.PORTICO_TOKEN ?? process.env.PORTICO_ADMIN_TOKEN }
          : options;
    this.url = resolved.url.replace(/\/+$/, '');
    this.#authorization =
      resolved.token === undefined || resolved.token === '' ? undefined : `Bearer ${resolved.token}`;
    this.agent = new Agent({ connections: 4, keepAliveTimeout: 4_000 });
  }

  /** Headers every registry call carries. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#authorization === undefined ? extra : { ...extra, authorization: this.#authorization };
  }

  /** One registry call; network failures reject, HTTP errors resolve with their status. */
  async call(method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<RegistryAnswer> {
    const res = await request(this.url + path, {
      method: method as 'GET',
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.agent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.statusCode, body: parsed };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Registry path of one instance. */
export function instancePath(service: string, id: string): string {
  return `/v1/services/${encodeURIComponent(service)}/instances/${encodeURIComponent(id)}`;
}

import type { Logger } from '../../observability/logger.ts';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import type { RegistryChange, StoredInstance } from '../../store/registry-store.ts';
import type { Runtime } from '../runtime/compile-runtime.ts';
import { Instance, type UpstreamProtocol } from './instance.ts';

const defaultConnectTimeoutMs = 2_000;
const keepAliveTimeoutMs = 4_000;

/**
 * The gateway's copy of registered instances: applies registry changes synchronously to the current
 * runtime's instance sets (copy-on-write, so requests never wait) and hands them to every new runtime on
 * reload. In-flight requests to a removed instance finish; its pool closes after them.
 */
export class RegisteredInstances {
  readonly #byKey = new Map<string, Instance>();
  readonly #runtime: () => Runtime | undefined;
  readonly #lookup: GuardedLookup | undefined;
  readonly #logger: Logger;

  constructor(runtime: () => Runtime | undefined, lookup: GuardedLookup | undefined, logger: Logger) {
    this.#runtime = runtime;
    this.#lookup = lookup;
    this.#logger = logger;
  }

  /** Registered instances of one service, for a runtime being compiled. */
  forService(service: string): Instance[] {
    const out: Instance[] = [];
    for (const instance of this.#byKey.values()) if (instance.service === service) out.push(instance);
    return out;
  }

  /** Replaces everything with a snapshot (start, or a resync after the store lost its feed). */
  load(instances: readonly StoredInstance[]): void {
    const seen = new Set<string>();
    for (const stored of instances) {
      seen.add(keyOf(stored.service, stored.id));
      this.#upsert(stored);
    }
    for (const [key, instance] of this.#byKey)
      if (!seen.has(key)) this.#remove(instance.service, instance.id);
  }

  apply(change: RegistryChange): void {
    if (change.kind === 'upsert') this.#upsert(change.instance);
    else this.#remove(change.service, change.id);
  }

  #upsert(stored: StoredInstance): void {
    const key = keyOf(stored.service, stored.id);
    const existing = this.#byKey.get(key);
    const service = this.#runtime()?.services.get(stored.service);
    const set = service?.instances;
    const protocol = upstreamProtocolOf(stored) ?? service?.config.protocol;
    if (
      existing !== undefined &&
      existing.url.href === new URL(stored.url).href &&
      existing.version === stored.version &&
      existing.protocol === (protocol ?? 'http1')
    ) {
      if (set !== undefined && set.get(existing.id) === existing) set.setStatus(existing, stored.status);
      else existing.status = stored.status;
      return;
    }
    const instance = new Instance(
      {
        id: stored.id,
        service: stored.service,
        url: stored.url,
        version: stored.version,
        metadata: { ...stored.metadata },
        source: 'registry',
      },
      {
        connectTimeoutMs: service?.connectTimeoutMs ?? defaultConnectTimeoutMs,
        tls: service?.tls,
        protocol,
        keepAliveTimeoutMs,
        lookup: this.#lookup,
      },
    );
    instance.status = stored.status;
    this.#byKey.set(key, instance);
    const replaced = set?.add(instance);
    if (replaced !== undefined && replaced !== instance) void replaced.close();
    else if (existing !== undefined && existing !== instance) void existing.close();
    this.#logger.debug(
      { service: stored.service, instance: stored.id, url: stored.url },
      'instance registered',
    );
  }

  #remove(service: string, id: string): void {
    const key = keyOf(service, id);
    const instance = this.#byKey.get(key);
    if (instance === undefined) return;
    this.#byKey.delete(key);
    const set = this.#runtime()?.services.get(service)?.instances;
    if (set !== undefined && set.get(id) === instance) set.remove(id);
    void instance.close();
    this.#logger.debug({ service, instance: id }, 'instance deregistered');
  }
}

/**
 * The HTTP version the gateway speaks to a registered instance that declared its protocol: a gRPC server is
 * HTTP/2, by ALPN over TLS or with prior knowledge on a plain connection, whatever its service's config says.
 * Undefined when the registration did not say (the service's `protocol` applies).
 */
export function upstreamProtocolOf(stored: StoredInstance): UpstreamProtocol | undefined {
  if (stored.protocol !== 'grpc') return stored.protocol;
  return stored.url.startsWith('https:') ? 'h2' : 'h2c';
}

function keyOf(service: string, id: string): string {
  return `${service}\u0000${id}`;
}

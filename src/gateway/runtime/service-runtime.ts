import type { ServiceConfig } from '../../config/schema.ts';
import type { ServiceResilience } from '../services/service-resilience.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';
import type { UpstreamTls } from '../upstream/upstream-tls.ts';

/** How the consistent-hash key of a request is found. */
export type HashKeySource =
  | { readonly kind: 'none' }
  | { readonly kind: 'ip' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** A service compiled from config: its instance set and the settings every request to it uses. */
export interface ServiceRuntime {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly instances: InstanceSet;
  readonly hashKey: HashKeySource;
  readonly connectTimeoutMs: number;
  /** TLS towards https instances (files read at compile); undefined: system CAs and the URL host. */
  readonly tls: UpstreamTls | undefined;
  /** Time to the response headers of one try. */
  readonly requestTimeoutMs: number;
  /** Longest pause between response body chunks (0 = same as requestTimeoutMs). */
  readonly idleTimeoutMs: number;
  /** Retries, breakers and bulkhead; undefined when the service configures none (the plain proxy path). */
  readonly resilience: ServiceResilience | undefined;
}

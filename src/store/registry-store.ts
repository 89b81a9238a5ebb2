import type { AcmeStore } from './acme-store.ts';
import type { VersionStore } from './version-store.ts';
/**
 * The storage contract of the registry. Two implementations (embedded SQLite, Redis) pass one shared
 * contract suite; the registry logic above them is the same for both.
 */

export type InstanceStatus = 'passing' | 'critical' | 'draining';

/**
 * What a registered instance speaks: HTTP/1.1, HTTP/2 over TLS (h2) or with prior knowledge (h2c), or gRPC
 * (HTTP/2: h2c for an http url, h2 for https).
 */
export type InstanceProtocol = 'http1' | 'h2' | 'h2c' | 'grpc';

export interface InstanceHealthCheck {
  /** `/grpc.health.v1.Health/Check` makes the check a gRPC health call. */
  readonly path: string;
  /** The service named in a gRPC health call (`HealthCheckRequest.service`); absent: the whole server. */
  readonly grpcService?: string | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

/** A registered instance as stored. Times are epoch milliseconds. */
export interface StoredInstance {
  readonly service: string;
  readonly id: string;
  readonly url: string;
  /** Absent when the registration did not say (HTTP/1.1, or the service's configured protocol). */
  readonly protocol?: InstanceProtocol | undefined;
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly status: InstanceStatus;
  readonly ttlMs: number;
  readonly expiresAt: number;
  readonly registeredAt: number;
  readonly updatedAt: number;
  readonly healthCheck?: InstanceHealthCheck | undefined;
  /** sha256 of the contract stored for (service, version), when one was published. */
  readonly contractHash?: string | undefined;
}

export type ChangeReason = 'register' | 'update' | 'drain' | 'status' | 'deregister' | 'expire';

/** One entry of the change feed. Heartbeats are not changes (they only move `expiresAt`). */
export interface RegistryChange {
  /** Monotonic across the whole store (all nodes sharing it). */
  readonly revision: number;
  readonly kind: 'upsert' | 'delete';
  readonly reason: ChangeReason;
  readonly service: string;
  readonly id: string;
  /** The instance after an upsert, or as it was before a delete. */
  readonly instance: StoredInstance;
}

export interface RegistrySnapshot {
  readonly revision: number;
  readonly instances: readonly StoredInstance[];
}

/**
 * Decides which node runs the active health check of an instance when several nodes share the store, so each
 * instance is probed by one node at a time (see `createRedisCheckLease`).
 */
export interface CheckLease {
  /** True when `nodeId` now holds the lease on `key` for `ttlMs` (newly taken or extended). */
  tryAcquire(key: string, nodeId: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up early; false when not held. */
  release(key: string, nodeId: string): Promise<boolean>;
}

/** What the registry's sweep knows about store outages; see {@link RegistryStore.expire}. */
export interface ExpireOptions {
  /** After an outage every lease lasts at least max(its TTL, `graceMs`) from `now`. */
  readonly graceMs: number;
  /** The caller could not reach the store at some point since its last successful sweep. */
  readonly afterOutage: boolean;
  /** No sweep by any node for longer than this (by the store's clock) counts as an outage too; 0 turns it off. */
  readonly idleMs: number;
}

export interface RegistryStore {
  readonly kind: 'embedded' | 'redis';
  /** Everything current, with the revision it reflects. */
  snapshot(): Promise<RegistrySnapshot>;
  /** Creates or replaces an instance; durable before it resolves. */
  upsert(instance: StoredInstance, reason: ChangeReason): Promise<RegistryChange>;
  /**
   * Moves the lease end of an instance forward (never back: a late renewal cannot undo a later one); false when
   * the instance is unknown (the client registers again).
   */
  renew(service: string, id: string, expiresAt: number): Promise<boolean>;
  /** Removes an instance; undefined when it was not there. */
  remove(service: string, id: string, reason: 'deregister' | 'expire'): Promise<RegistryChange | undefined>;
  /**
   * Removes every instance whose lease ended before `now`, atomically and once across nodes. A shared store that
   * was unreachable (see {@link ExpireOptions}) first extends every lease to at least `now` + max(TTL, grace), so
   * instances whose heartbeats failed only because the store was away are not expired when it comes back. The
   * embedded store cannot be away; its restart grace is the registry's.
   */
  expire(now: number, options?: ExpireOptions): Promise<RegistryChange[]>;
  /** Changes after `revision` in order, or undefined when that revision is too old to replay. */
  changesSince(revision: number): Promise<RegistryChange[] | undefined>;
  putContract(service: string, version: string, document: string): Promise<string>;
  getContract(service: string, version: string): Promise<string | undefined>;
  /** Every change made through this store by any node, in revision order, exactly once each. */
  onChange(listener: (change: RegistryChange) => void): () => void;
  /**
   * Optional (the Redis store has it): called when the change feed cannot continue where it was — the follower
   * fell behind the trimmed feed, or the shared store lost its data (e.g. Redis restarted empty). The listener
   * gets a fresh snapshot, taken before any later change is delivered through `onChange`; the consumer replaces
   * its state with it and its revision with `snapshot.revision` (which may be lower than before after data loss).
   */
  onResync?(listener: (snapshot: RegistrySnapshot) => void): () => void;
  /** Version usage and consumer pins, shared by every node of the store. */
  readonly versions: VersionStore;
  /** Account keys, certificates, challenge answers and order leases of automatic certificates (ACME). */
  readonly acme: AcmeStore;
  /** Present when several nodes share the store (Redis): who checks which instance. */
  readonly checkLease?: CheckLease | undefined;
  close(): Promise<void>;
}

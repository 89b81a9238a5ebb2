import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { GRPC_HEALTH_PATH } from '../../http/grpc-health.ts';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import type { Registry } from '../../registry/registry.ts';
import type {
  CheckLease,
  InstanceHealthCheck,
  InstanceStatus,
  StoredInstance,
} from '../../store/registry-store.ts';
import { countStreak, withAbort, type HealthCheckTimers } from './health-checker.ts';
import { checkGrpcHealth, ProbeAgents } from './probe-agents.ts';
import { upstreamProtocolOf } from './registered-instances.ts';

/** Probes one registered instance; resolves true when it is healthy. `signal` aborts on timeout or stop. */
export type RegisteredProbe = (instance: StoredInstance, signal: AbortSignal) => Promise<boolean>;

/** Options of {@link createRegisteredHealthChecks}. */
export interface RegisteredHealthOptions {
  readonly registry: Registry;
  /** Without a lease (embedded store, one node) this node checks every instance. */
  readonly lease?: CheckLease | undefined;
  /** This node's name in the lease; random by default. */
  readonly nodeId?: string | undefined;
  /** Replaces the HTTP probe (tests). */
  readonly probe?: RegisteredProbe | undefined;
  /** DNS lookup of the HTTP probe, re-checking addresses against the allow-list. */
  readonly lookup?: GuardedLookup | undefined;
  readonly timers?: HealthCheckTimers | undefined;
  /** Lease length as a multiple of the check interval (default 2.5): a dead holder is replaced within it. */
  readonly leaseIntervals?: number | undefined;
  /** Called after this node published a status change. */
  readonly onTransition?: ((instance: StoredInstance, status: InstanceStatus) => void) | undefined;
  /** A status that could not be published or a lease that could not be asked for (store unreachable). */
  readonly onError?: ((err: unknown) => void) | undefined;
}

/** Active health checks of registered instances; see {@link createRegisteredHealthChecks}. */
export interface RegisteredHealthChecks {
  start(): void;
  /** Stops every check, gives up held leases (bounded) and closes the probe's connections. */
  stop(): Promise<void>;
}

interface Tracked {
  readonly key: string;
  instance: StoredInstance;
  check: InstanceHealthCheck;
  failures: number;
  successes: number;
  holding: boolean;
  timer: unknown;
  controller: AbortController | undefined;
}

const realTimers: HealthCheckTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Runs the active health checks that registered instances declare (`healthCheck` in their registration) and
 * publishes the verdict through `registry.setStatus`, so every node sharing the store takes a `critical` instance
 * out of rotation — not only the node that probed it. With a {@link CheckLease} (Redis), each instance is probed by
 * one node at a time: a node probes only while it holds the instance's lease, which it renews every round, and
 * another node takes over within `leaseIntervals` intervals when the holder stops.
 *
 * `unhealthyThreshold` failures in a row turn a `passing` instance `critical`; `healthyThreshold` successes in a
 * row turn it back. Counters start from zero whenever a node takes over, so a flapping instance never changes
 * status on a single probe. Draining instances are not probed into another status.
 *
 * @example
 * const checks = createRegisteredHealthChecks({ registry, lease: createRedisCheckLease({ redis, prefix }) });
 * checks.start();
 * await checks.stop();
 */
export function createRegisteredHealthChecks(options: RegisteredHealthOptions): RegisteredHealthChecks {
  const { registry, lease } = options;
  const nodeId = options.nodeId ?? randomUUID();
  const timers = options.timers ?? realTimers;
  const leaseIntervals = options.leaseIntervals ?? 2.5;
  const onError = options.onError ?? (() => {});
  const tracked = new Map<string, Tracked>();
  let probe = options.probe;
  let agents: ProbeAgents | undefined;
  let detach: (() => void)[] = [];
  let running = false;

  function reconcile(instances: readonly StoredInstance[]): void {
    const seen = new Set<string>();
    for (const instance of instances) {
      seen.add(keyOf(instance));
      observe(instance);
    }
    for (const key of [...tracked.keys()]) if (!seen.has(key)) untrack(key);
  }

  function observe(instance: StoredInstance): void {
    const key = keyOf(instance);
    const check = instance.healthCheck;
    if (check === undefined) {
      untrack(key);
      return;
    }
    const entry = tracked.get(key);
    if (
      entry !== undefined &&
      entry.instance.url === instance.url &&
      entry.instance.protocol === instance.protocol &&
      sameCheck(entry.check, check)
    ) {
      entry.instance = instance;
      return;
    }
    if (entry !== undefined) untrack(key);
    const fresh: Tracked = {
      key,
      instance,
      check,
      failures: 0,
      successes: 0,
      holding: false,
      timer: undefined,
      controller: undefined,
    };
    tracked.set(key, fresh);
    schedule(fresh, 0);
  }

  function untrack(key: string): void {
    const entry = tracked.get(key);
    if (entry === undefined) return;
    tracked.delete(key);
    timers.clearTimeout(entry.timer);
    entry.controller?.abort();
    if (entry.holding && lease !== undefined) lease.release(key, nodeId).catch(onError);
  }

  function schedule(entry: Tracked, delayMs: number): void {
    entry.timer = timers.setTimeout(() => {
      entry.timer = undefined;
      void round(entry);
    }, delayMs);
  }

  async function round(entry: Tracked): Promise<void> {
    const { check } = entry;
    if (lease !== undefined) {
      let held: boolean;
      try {
        held = await lease.tryAcquire(entry.key, nodeId, Math.ceil(check.intervalMs * leaseIntervals));
      } catch (err) {
        // Without the store no verdict could be published anyway; the holder may still be checking.
        held = false;
        onError(err);
      }
      if (tracked.get(entry.key) !== entry) return;
      if (!held) {
        // Another node counts; taking over later starts from zero.
        entry.holding = false;
        entry.failures = entry.successes = 0;
        schedule(entry, check.intervalMs);
        return;
      }
      entry.holding = true;
    }
    const ok = await runProbe(entry);
    if (tracked.get(entry.key) !== entry) return;
    await record(entry, ok);
    if (tracked.get(entry.key) !== entry) return;
    schedule(entry, check.intervalMs);
  }

  async function runProbe(entry: Tracked): Promise<boolean> {
    const controller = new AbortController();
    entry.controller = controller;
    const timeout = timers.setTimeout(
      () => controller.abort(new Error('health check timed out')),
      entry.check.timeoutMs,
    );
    try {
      return await withAbort(
        (probe as RegisteredProbe)(entry.instance, controller.signal),
        controller.signal,
      );
    } catch {
      return false;
    } finally {
      timers.clearTimeout(timeout);
      entry.controller = undefined;
    }
  }

  async function record(entry: Tracked, ok: boolean): Promise<void> {
    const verdict = countStreak(entry, ok, entry.check);
    const next: InstanceStatus | undefined =
      verdict === undefined ? undefined : verdict ? 'passing' : 'critical';
    const current = registry.getInstance(entry.instance.service, entry.instance.id);
    if (
      next === undefined ||
      current === undefined ||
      current.status === 'draining' ||
      current.status === next
    )
      return;
    try {
      const published = await registry.setStatus(current.service, current.id, next);
      if (published.status === next) options.onTransition?.(published, next);
    } catch (err) {
      // The counters stay past the threshold, so the next round publishes again.
      onError(err);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      if (probe === undefined) {
        agents = new ProbeAgents({
          connections: 4,
          keepAliveTimeoutMs: 10_000,
          lookup: options.lookup,
        });
        probe = createProbe(agents);
      }
      // Subscribing and reading the snapshot in one tick: no change falls between them.
      detach = [
        registry.subscribe((change) => {
          if (change.kind === 'upsert') observe(change.instance);
          else untrack(keyOf(change.instance));
        }),
        registry.onResync(() => reconcile(registry.snapshot().instances)),
      ];
      reconcile(registry.snapshot().instances);
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const off of detach) off();
      detach = [];
      const held = [...tracked.values()].filter((entry) => entry.holding).map((entry) => entry.key);
      for (const key of [...tracked.keys()]) {
        const entry = tracked.get(key) as Tracked;
        entry.holding = false;
        untrack(key);
      }
      if (lease !== undefined && held.length > 0) {
        // Handing leases back lets another node take over at once instead of after the lease lapses.
        await Promise.allSettled(held.map((key) => lease.release(key, nodeId)));
      }
      const owned = agents;
      agents = undefined;
      probe = options.probe;
      await owned?.close();
    },
  };
}

/**
 * GET on the check's path over the instance's declared HTTP version, or the standard gRPC health call when the
 * path is the gRPC health method (over HTTP/2 always: h2c for http, h2 for https).
 */
function createProbe(agents: ProbeAgents): RegisteredProbe {
  return async function probeRegistered(instance, signal) {
    const check = instance.healthCheck as InstanceHealthCheck;
    const origin = new URL(instance.url).origin;
    const declared = upstreamProtocolOf(instance) ?? 'http1';
    if (check.path === GRPC_HEALTH_PATH) {
      const protocol = declared !== 'http1' ? declared : origin.startsWith('https:') ? 'h2' : 'h2c';
      const outcome = await checkGrpcHealth(agents.get(protocol), origin, check.grpcService ?? '', signal);
      return outcome.ok;
    }
    const response = await request(origin + check.path, {
      method: 'GET',
      dispatcher: agents.get(declared),
      signal,
      headers: { 'user-agent': 'portico-health-check' },
    });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  };
}

function sameCheck(a: InstanceHealthCheck, b: InstanceHealthCheck): boolean {
  return (
    a.path === b.path &&
    a.grpcService === b.grpcService &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.unhealthyThreshold === b.unhealthyThreshold &&
    a.healthyThreshold === b.healthyThreshold
  );
}

function keyOf(instance: StoredInstance): string {
  return `${instance.service}\n${instance.id}`;
}

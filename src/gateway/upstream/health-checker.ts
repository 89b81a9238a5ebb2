import { request } from 'undici';
import { GRPC_HEALTH_PATH } from '../../http/grpc-health.ts';
import type { UpstreamTls } from './upstream-tls.ts';
import type { Instance } from './instance.ts';
import type { InstanceChange, InstanceSet } from './instance-set.ts';
import { checkGrpcHealth, ProbeAgents } from './probe-agents.ts';

/** Active check settings with durations already parsed to milliseconds. */
export interface HealthCheckSettings {
  /** Path requested with GET on the instance origin. */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that take a healthy instance out of rotation. */
  unhealthyThreshold: number;
  /** Consecutive successes that bring an unhealthy instance back. */
  healthyThreshold: number;
  /** `2xx`-style class or an exact code such as `204`. */
  expectStatus: string;
  /** With the gRPC health path: the service asked about (`HealthCheckRequest.service`); '' for the whole server. */
  grpcService?: string | undefined;
}

/** Consecutive probe outcomes of one instance. */
export interface ProbeStreak {
  failures: number;
  successes: number;
}

/**
 * Counts one probe outcome; answers true (healthy) or false (unhealthy) once its streak reaches the
 * threshold, undefined while it has not. Thresholds damp flapping for config and registered checks alike.
 */
export function countStreak(
  streak: ProbeStreak,
  ok: boolean,
  thresholds: { readonly healthyThreshold: number; readonly unhealthyThreshold: number },
): boolean | undefined {
  if (ok) {
    streak.failures = 0;
    streak.successes++;
    return streak.successes >= thresholds.healthyThreshold ? true : undefined;
  }
  streak.successes = 0;
  streak.failures++;
  return streak.failures >= thresholds.unhealthyThreshold ? false : undefined;
}

/** Outcome of one probe. */
export interface ProbeResult {
  ok: boolean;
  /** Status the instance answered with, when it answered. */
  status?: number;
  /** Why the probe failed: `timeout`, a connection error message, or `unexpected status`. */
  reason?: string;
}

/**
 * Probes one instance. `signal` aborts when the check times out or the checker stops; a probe
 * that rejects counts as failed.
 */
export type Probe = (instance: Instance, signal: AbortSignal) => Promise<ProbeResult>;

/** Timer functions, injectable so tests advance time by hand. */
export interface HealthCheckTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type HealthTransitionListener = (instance: Instance, healthy: boolean, result: ProbeResult) => void;

export interface HealthCheckerOptions {
  instances: InstanceSet;
  check: HealthCheckSettings;
  timers?: HealthCheckTimers;
  /** Replaces the HTTP probe (tests); when set, the checker opens no connections. */
  probe?: Probe;
  /** Called after an instance is ejected or restored. */
  onTransition?: HealthTransitionListener;
  /** TLS settings of the service, so probes of https instances verify as the proxy does. */
  tls?: UpstreamTls | undefined;
}

export interface HealthChecker {
  /** Probes every instance now and then every interval, including instances added later. */
  start(): void;
  /** Clears every timer, aborts probes in flight and closes the checker's own connections. */
  stop(): Promise<void>;
}

interface Tracked {
  readonly instance: Instance;
  failures: number;
  successes: number;
  timer: unknown;
  controller: AbortController | undefined;
}

const realTimers: HealthCheckTimers = {
  setTimeout(callback, ms) {
    // Unref'd: a pending check must not keep a stopping process alive.
    return setTimeout(callback, ms).unref();
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Creates an active health checker for one service's instances. Each instance is probed on its
 * own timer chain (the next probe is scheduled when the previous one ends, so slow instances
 * never pile up probes); `unhealthyThreshold` failures in a row eject it through
 * `InstanceSet.setHealth`, `healthyThreshold` successes in a row restore it.
 *
 * The default probe sends GET `path` to `instance.origin` (or, for the gRPC health path, calls the gRPC health
 * service) over the instance's own HTTP version, through small undici agents owned by the checker, so probes
 * never queue behind proxied traffic in the instance's pool.
 *
 * @example
 * const checker = createHealthChecker({
 *   instances: set,
 *   check: { path: '/health', intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, expectStatus: '2xx' },
 *   onTransition: (instance, healthy) => log.warn({ instance: instance.id, healthy }, 'health changed'),
 * });
 * checker.start();
 * await checker.stop();
 */
export function createHealthChecker(options: HealthCheckerOptions): HealthChecker {
  const { instances, check, onTransition } = options;
  const timers = options.timers ?? realTimers;
  const expected = parseExpectStatus(check.expectStatus);
  const tracked = new Map<Instance, Tracked>();
  let agents: ProbeAgents | undefined;
  let probe: Probe | undefined = options.probe;
  let unsubscribe: (() => void) | undefined;

  function track(instance: Instance): void {
    if (tracked.has(instance)) return;
    const entry: Tracked = { instance, failures: 0, successes: 0, timer: undefined, controller: undefined };
    tracked.set(instance, entry);
    // The first probe runs at once so a dead static instance is found without waiting an interval.
    schedule(entry, 0);
  }

  function untrack(instance: Instance): void {
    const entry = tracked.get(instance);
    if (entry === undefined) return;
    tracked.delete(instance);
    timers.clearTimeout(entry.timer);
    entry.controller?.abort();
  }

  function schedule(entry: Tracked, delayMs: number): void {
    entry.timer = timers.setTimeout(() => {
      entry.timer = undefined;
      void runProbe(entry);
    }, delayMs);
  }

  async function runProbe(entry: Tracked): Promise<void> {
    const controller = new AbortController();
    entry.controller = controller;
    const timeout = timers.setTimeout(() => controller.abort(), check.timeoutMs);
    let result: ProbeResult;
    try {
      result = await withAbort(probe!(entry.instance, controller.signal), controller.signal);
    } catch (error) {
      result = { ok: false, reason: controller.signal.aborted ? 'timeout' : errorMessage(error) };
    } finally {
      timers.clearTimeout(timeout);
      entry.controller = undefined;
    }
    // Removed from the set or checker stopped while the probe was in flight.
    if (tracked.get(entry.instance) !== entry) return;
    record(entry, result);
    schedule(entry, check.intervalMs);
  }

  function record(entry: Tracked, result: ProbeResult): void {
    const verdict = countStreak(entry, result.ok, check);
    if (verdict !== undefined && verdict !== entry.instance.healthy)
      transition(entry.instance, verdict, result);
  }

  function transition(instance: Instance, healthy: boolean, result: ProbeResult): void {
    if (instances.setHealth(instance, healthy)) onTransition?.(instance, healthy, result);
  }

  function onChange(change: InstanceChange): void {
    if (change.type === 'added') track(change.instance);
    else if (change.type === 'removed') untrack(change.instance);
  }

  return {
    start() {
      if (unsubscribe !== undefined) return;
      if (probe === undefined) {
        agents = new ProbeAgents({
          connections: 1,
          connectTimeoutMs: check.timeoutMs,
          keepAliveTimeoutMs: Math.max(check.intervalMs * 2, 1000),
          tls: options.tls,
        });
        probe =
          check.path === GRPC_HEALTH_PATH
            ? createGrpcHealthProbe(agents, check.grpcService ?? '')
            : createHttpProbe(agents, check.path, expected);
      }
      unsubscribe = instances.onChange(onChange);
      for (const instance of instances.all) track(instance);
    },
    async stop() {
      unsubscribe?.();
      unsubscribe = undefined;
      for (const instance of [...tracked.keys()]) untrack(instance);
      const owned = agents;
      agents = undefined;
      if (owned !== undefined) {
        probe = options.probe;
        await owned.close();
      }
    },
  };
}

/** Matches a status against `2xx`-style classes or an exact code. */
export type StatusMatcher = (status: number) => boolean;

/** Parses `expectStatus` (`2xx` or `204`) once into a matcher. */
export function parseExpectStatus(expectStatus: string): StatusMatcher {
  const classMatch = /^([1-5])xx$/.exec(expectStatus);
  if (classMatch !== null) {
    const statusClass = Number(classMatch[1]);
    return (status) => Math.floor(status / 100) === statusClass;
  }
  if (!/^[1-5][0-9][0-9]$/.test(expectStatus)) throw new RangeError(`invalid expectStatus: ${expectStatus}`);
  const exact = Number(expectStatus);
  return (status) => status === exact;
}

function createHttpProbe(agents: ProbeAgents, path: string, expected: StatusMatcher): Probe {
  return async function httpProbe(instance, signal) {
    const response = await request(instance.origin + path, {
      method: 'GET',
      dispatcher: agents.get(instance.protocol),
      signal,
      headers: { 'user-agent': 'portico-health-check' },
    });
    // Drain the body so the socket goes back to the agent for the next probe.
    await response.body.dump();
    const ok = expected(response.statusCode);
    return ok
      ? { ok, status: response.statusCode }
      : { ok, status: response.statusCode, reason: 'unexpected status' };
  };
}

/**
 * The standard gRPC health check (grpc/doc/health-checking.md): `Check` for the whole server, or for one named
 * service, over the instance's own HTTP version.
 */
function createGrpcHealthProbe(agents: ProbeAgents, service: string): Probe {
  return function grpcHealthProbe(instance, signal) {
    return checkGrpcHealth(agents.get(instance.protocol), instance.origin, service, signal);
  };
}

/** Settles with the probe, or rejects with the abort reason as soon as `signal` aborts, even if the probe ignores it. */
export function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBalancer } from '../../balancing/index.ts';
import {
  createHealthChecker,
  parseExpectStatus,
  type HealthCheckSettings,
  type HealthCheckTimers,
  type ProbeResult,
} from './health-checker.ts';
import { Instance } from './instance.ts';
import { InstanceSet } from './instance-set.ts';

/** Manual clock: callbacks run only when the test advances time. */
class FakeTimers implements HealthCheckTimers {
  now = 0;
  #next = 1;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): number {
    const id = this.#next++;
    this.#pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Runs due callbacks in time order, letting probe promises settle between them. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await settle();
      let dueId = -1;
      let dueAt = Infinity;
      for (const [id, timer] of this.#pending) {
        if (timer.at <= until && timer.at < dueAt) [dueId, dueAt] = [id, timer.at];
      }
      if (dueId === -1) break;
      const timer = this.#pending.get(dueId)!;
      this.#pending.delete(dueId);
      this.now = timer.at;
      timer.callback();
    }
    this.now = until;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const check: HealthCheckSettings = {
  path: '/health',
  intervalMs: 1000,
  timeoutMs: 200,
  unhealthyThreshold: 3,
  healthyThreshold: 2,
  expectStatus: '2xx',
};

function setup(script: Record<string, boolean[]> = {}) {
  const timers = new FakeTimers();
  const make = (id: string) =>
    new Instance(
      { id, service: 'users', url: `http://${id}.internal:8080`, source: 'static' },
      { connectTimeoutMs: 100, keepAliveTimeoutMs: 1000 },
    );
  const set = new InstanceSet({
    service: 'users',
    balancer: createBalancer('round-robin'),
    instances: [make('a')],
  });
  const probes: string[] = [];
  const transitions: string[] = [];
  const checker = createHealthChecker({
    instances: set,
    check,
    timers,
    probe: async (instance) => {
      probes.push(`${timers.now}:${instance.id}`);
      const ok = script[instance.id]?.shift() ?? true;
      return ok ? { ok, status: 200 } : { ok, status: 503, reason: 'unexpected status' };
    },
    onTransition: (instance, healthy, result) =>
      transitions.push(`${timers.now}:${instance.id}:${healthy ? 'up' : 'down'}:${result.reason ?? 'ok'}`),
  });
  return { timers, set, checker, probes, transitions, make };
}

describe('health checker', () => {
  it('probes each instance at start and then every interval', async () => {
    const { timers, checker, probes } = setup();
    checker.start();
    await timers.advance(3000);
    assert.deepEqual(probes, ['0:a', '1000:a', '2000:a', '3000:a']);
    await checker.stop();
  });

  it('ejects an instance after 3 failed health checks in a row, not before', async () => {
    const { timers, set, checker, transitions } = setup({ a: [false, false, true, false, false, false] });
    checker.start();
    await timers.advance(4000);
    assert.equal(set.get('a')!.healthy, true, 'a success resets the failure count');
    await timers.advance(1000);
    assert.equal(set.get('a')!.healthy, false);
    assert.equal(set.pick(undefined), undefined);
    assert.deepEqual(transitions, ['5000:a:down:unexpected status']);
    await checker.stop();
  });

  it('restores an ejected instance after 2 passed checks in a row', async () => {
    const { timers, set, checker, transitions } = setup({
      a: [false, false, false, true, false, true, true],
    });
    checker.start();
    await timers.advance(5000);
    assert.equal(set.get('a')!.healthy, false, 'one success is below the healthy threshold');
    await timers.advance(1000);
    assert.equal(set.get('a')!.healthy, true);
    assert.equal(set.pick(undefined), set.get('a'));
    assert.deepEqual(transitions, ['2000:a:down:unexpected status', '6000:a:up:ok']);
    await checker.stop();
  });

  it('fails a probe that does not answer within the timeout and aborts it', async () => {
    const { timers, set } = setup();
    const signals: AbortSignal[] = [];
    const reasons: string[] = [];
    const checker = createHealthChecker({
      instances: set,
      check: { ...check, unhealthyThreshold: 1 },
      timers,
      probe: (_instance, signal) => {
        signals.push(signal);
        return new Promise<ProbeResult>(() => {});
      },
      onTransition: (_instance, _healthy, result) => reasons.push(result.reason ?? ''),
    });
    checker.start();
    await timers.advance(199);
    assert.equal(set.get('a')!.healthy, true);
    await timers.advance(1);
    assert.equal(set.get('a')!.healthy, false);
    assert.deepEqual(reasons, ['timeout']);
    assert.equal(signals[0]!.aborted, true);
    await timers.advance(1000);
    assert.equal(signals.length, 2, 'the next probe starts one interval after the timed-out one');
    await checker.stop();
  });

  it('counts a rejected probe as a failure with its error as the reason', async () => {
    const { timers, set } = setup();
    const reasons: string[] = [];
    const checker = createHealthChecker({
      instances: set,
      check: { ...check, unhealthyThreshold: 1 },
      timers,
      probe: () => Promise.reject(Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' })),
      onTransition: (_instance, _healthy, result) => reasons.push(result.reason ?? ''),
    });
    checker.start();
    await timers.advance(0);
    assert.deepEqual(reasons, ['ECONNREFUSED: connect refused']);
    await checker.stop();
  });

  it('probes instances added after start and stops probing removed ones', async () => {
    const { timers, set, checker, probes, make } = setup();
    checker.start();
    await timers.advance(500);
    set.add(make('b'));
    await timers.advance(1000);
    set.remove('a');
    await timers.advance(2000);
    assert.deepEqual(probes, ['0:a', '500:b', '1000:a', '1500:b', '2500:b', '3500:b']);
    await checker.stop();
  });

  it('clears every timer on stop and probes nothing afterwards', async () => {
    const { timers, set, checker, probes, make } = setup();
    checker.start();
    set.add(make('b'));
    await timers.advance(1000);
    await checker.stop();
    assert.equal(timers.pending, 0);
    const count = probes.length;
    set.add(make('c'));
    await timers.advance(5000);
    assert.equal(probes.length, count);
  });

  it('does not reschedule a probe that was in flight when the checker stopped', async () => {
    const { timers, set } = setup();
    let finish: (result: ProbeResult) => void = () => {};
    const checker = createHealthChecker({
      instances: set,
      check,
      timers,
      probe: () => new Promise<ProbeResult>((resolve) => (finish = resolve)),
    });
    checker.start();
    await timers.advance(0);
    await checker.stop();
    finish({ ok: true });
    await timers.advance(0);
    assert.equal(timers.pending, 0);
  });
});

describe('parseExpectStatus', () => {
  it('matches a status class', () => {
    const match = parseExpectStatus('2xx');
    assert.deepEqual([200, 204, 299, 199, 300, 503].map(match), [true, true, true, false, false, false]);
  });

  it('matches an exact status', () => {
    const match = parseExpectStatus('204');
    assert.deepEqual([204, 200].map(match), [true, false]);
  });

  it('rejects malformed values', () => {
    assert.throws(() => parseExpectStatus('ok'), RangeError);
    assert.throws(() => parseExpectStatus('6xx'), RangeError);
  });
});

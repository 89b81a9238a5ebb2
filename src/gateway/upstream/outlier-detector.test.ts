import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancer } from '../../balancing/index.ts';
import { Instance } from './instance.ts';
import { InstanceSet } from './instance-set.ts';
import { createOutlierDetector, type OutlierSettings } from './outlier-detector.ts';

const poolOptions = { connectTimeoutMs: 1000, keepAliveTimeoutMs: 4000 };
const settings: OutlierSettings = {
  enabled: true,
  consecutiveFailures: 3,
  baseEjectionMs: 1000,
  maxEjectionMs: 5000,
  maxEjectionPercent: 50,
};

function setup(count: number, overrides: Partial<OutlierSettings> = {}) {
  const all = Array.from(
    { length: count },
    (_, i) =>
      new Instance(
        { id: `i${i}`, service: 'orders', url: `http://127.0.0.1:${9000 + i}`, source: 'registry' },
        poolOptions,
      ),
  );
  const set = new InstanceSet({ service: 'orders', balancer: createBalancer('round-robin'), instances: all });
  const clock = { now: 0 };
  const timers = new Map<number, { at: number; callback: () => void }>();
  let nextId = 1;
  const ejections: [string, number][] = [];
  const detector = createOutlierDetector({
    target: (service) =>
      service === 'orders' ? { instances: set, settings: { ...settings, ...overrides } } : undefined,
    clock: () => clock.now,
    timers: {
      setTimeout(callback, ms) {
        const id = nextId++;
        timers.set(id, { at: clock.now + ms, callback });
        return id;
      },
      clearTimeout: (handle) => timers.delete(handle as number),
    },
    onEject: (instance, durationMs) => ejections.push([instance.id, durationMs]),
  });
  const advance = (ms: number): void => {
    clock.now += ms;
    for (const [id, timer] of [...timers]) {
      if (timer.at <= clock.now) {
        timers.delete(id);
        timer.callback();
      }
    }
  };
  return { all, set, detector, advance, ejections, timers };
}

test('ejects an instance after N consecutive failures and restores it after the ejection time', () => {
  const { all, set, detector, advance, ejections } = setup(4);
  const a = all[0] as Instance;
  detector.failure(a);
  detector.failure(a);
  assert.equal(a.healthy, true);
  detector.failure(a);
  assert.equal(a.healthy, false);
  assert.equal(set.available.includes(a), false);
  assert.deepEqual(ejections, [['i0', 1000]]);
  advance(999);
  assert.equal(a.healthy, false);
  advance(1);
  assert.equal(a.healthy, true);
  assert.equal(set.available.includes(a), true);
});

test('a success in between resets the streak', () => {
  const { all, detector } = setup(4);
  const a = all[0] as Instance;
  for (let i = 0; i < 10; i++) {
    detector.failure(a);
    detector.failure(a);
    detector.success(a);
  }
  assert.equal(a.healthy, true);
});

test('each repeated ejection lasts twice as long, capped, and the backoff is forgotten after a quiet period', () => {
  const { all, detector, advance, ejections } = setup(4);
  const a = all[0] as Instance;
  const eject = (): void => {
    for (let i = 0; i < 3; i++) detector.failure(a);
  };
  eject();
  advance(1000);
  eject();
  advance(2000);
  eject();
  advance(4000);
  eject();
  advance(5000);
  assert.deepEqual(
    ejections.map(([, ms]) => ms),
    [1000, 2000, 4000, 5000],
  );
  advance(5001);
  eject();
  assert.deepEqual(ejections.at(-1), ['i0', 1000]);
});

test('never ejects more than the configured share of a service, but always allows one', () => {
  const { all, detector } = setup(4);
  for (const instance of all) for (let i = 0; i < 3; i++) detector.failure(instance);
  assert.equal(all.filter((i) => !i.healthy).length, 2, '50% of 4');

  const single = setup(1);
  for (let i = 0; i < 3; i++) single.detector.failure(single.all[0] as Instance);
  assert.equal(single.all[0]?.healthy, false, 'one instance can always be ejected');

  const off = setup(2, { maxEjectionPercent: 0 });
  for (let i = 0; i < 5; i++) off.detector.failure(off.all[0] as Instance);
  assert.equal(off.all[0]?.healthy, true);
});

test('disabled detection never ejects, and close cancels pending restores', () => {
  const disabled = setup(2, { enabled: false });
  for (let i = 0; i < 10; i++) disabled.detector.failure(disabled.all[0] as Instance);
  assert.equal(disabled.all[0]?.healthy, true);

  const { all, detector, timers } = setup(2);
  for (let i = 0; i < 3; i++) detector.failure(all[0] as Instance);
  assert.equal(timers.size, 1);
  detector.close();
  assert.equal(timers.size, 0);
});

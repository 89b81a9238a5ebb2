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
  stallMs: 0,
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
  const merged = { ...settings, ...overrides };
  const detector = createOutlierDetector({
    target: (service) => (service === 'orders' ? { instances: set, settings: merged } : undefined),
    targets: () => [{ instances: set, settings: merged }],
    sweepMs: 1000,
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

  const three = setup(3);
  for (const instance of three.all) for (let i = 0; i < 3; i++) three.detector.failure(instance);
  assert.equal(three.all.filter((i) => !i.healthy).length, 1, '50% of 3 is one: a second would make 67%');
  const twoOfThree = setup(3, { maxEjectionPercent: 67 });
  for (const instance of twoOfThree.all) for (let i = 0; i < 3; i++) twoOfThree.detector.failure(instance);
  assert.equal(twoOfThree.all.filter((i) => !i.healthy).length, 2, '67% of 3 is two');

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
  assert.equal(timers.size, 2, 'the restore and the sweep');
  detector.close();
  assert.equal(timers.size, 0);
});

test('an instance back from an ejection is on probation: its first failure ejects it again, a success clears it', () => {
  const { all, set, detector, advance, ejections } = setup(4);
  const a = all[0] as Instance;
  for (let i = 0; i < 3; i++) detector.failure(a);
  assert.equal(a.ejected, true);
  advance(1000);
  assert.equal(a.ejected, false);
  assert.equal(a.probation, true);
  assert.equal(set.available.includes(a), true);
  detector.failure(a);
  assert.equal(a.healthy, false, 'one failure on probation is enough');
  assert.deepEqual(
    ejections.map(([, ms]) => ms),
    [1000, 2000],
  );
  advance(2000);
  detector.success(a);
  assert.equal(a.probation, false);
  detector.failure(a);
  assert.equal(a.healthy, true, 'after a success the streak rule applies again');
});

test('ejects an instance that holds tries without settling any while another instance answers', () => {
  const { all, detector, advance, ejections } = setup(4, { stallMs: 3000 });
  const [hung, good, slowAlone, sockets] = all as [Instance, Instance, Instance, Instance];
  hung.awaiting = 3;
  slowAlone.awaiting = 1;
  // Upgraded WebSockets or streaming answers are in flight but wait for nothing.
  sockets.inflight = 10;
  for (let second = 0; second < 3; second++) {
    detector.success(good);
    advance(1000);
  }
  assert.deepEqual(ejections, [], 'three seconds have not passed since the first sweep saw the tries');
  detector.success(good);
  advance(1000);
  assert.deepEqual(ejections, [['i0', 1000]], 'three tries in flight, none settled for 3 s');
  assert.equal(slowAlone.healthy, true, 'one slow try is not a stall');
  assert.equal(sockets.healthy, true, 'open WebSockets are not a stall');
});

test('no stall ejection when no instance of the service answers (a slow service, not a hanging instance)', () => {
  const { all, advance, ejections } = setup(4, { stallMs: 2000 });
  for (const instance of all) instance.awaiting = 5;
  advance(10_000);
  assert.deepEqual(ejections, []);
});

test('forget drops the pending restore of an instance that left', () => {
  const { all, detector, timers } = setup(3);
  const a = all[0] as Instance;
  for (let i = 0; i < 3; i++) detector.failure(a);
  assert.equal(timers.size, 2);
  detector.forget(a);
  assert.equal(timers.size, 1, 'only the sweep is left');
  assert.equal(detector.isEjected(a), false);
});

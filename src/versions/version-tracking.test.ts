import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UsageDelta, UsageRow, VersionPin, VersionStore } from '../store/version-store.ts';
import { PIN_UNKNOWN, VersionTracking } from './version-tracking.ts';

/** A version store in memory that can be taken away, as Redis in an outage (every call rejects). */
function createFlakyStore() {
  const rows = new Map<string, UsageRow>();
  const pins = new Map<string, VersionPin>();
  const state = { down: false };
  const reachable = async (): Promise<void> => {
    if (state.down) throw new Error('store unavailable');
  };
  const store: VersionStore = {
    async addUsage(deltas: readonly UsageDelta[]) {
      await reachable();
      for (const d of deltas) {
        const key = `${d.service}|${d.version}|${d.consumer}|${d.day}`;
        const row = rows.get(key);
        rows.set(key, {
          version: d.version,
          consumer: d.consumer,
          day: d.day,
          requests: (row?.requests ?? 0) + d.requests,
          lastSeenAt: Math.max(row?.lastSeenAt ?? 0, d.lastSeenAt),
        });
      }
    },
    async usage() {
      await reachable();
      return [...rows.values()];
    },
    async getPin(service, consumer) {
      await reachable();
      return pins.get(`${service}|${consumer}`);
    },
    async pinIfAbsent(service, consumer, version, at) {
      await reachable();
      const key = `${service}|${consumer}`;
      const pin = pins.get(key) ?? { consumer, version, pinnedAt: at };
      pins.set(key, pin);
      return pin;
    },
    async setPin(service, consumer, version, at) {
      await reachable();
      const pin = { consumer, version, pinnedAt: at };
      pins.set(`${service}|${consumer}`, pin);
      return pin;
    },
    async removePin(service, consumer) {
      await reachable();
      return pins.delete(`${service}|${consumer}`);
    },
    async pins() {
      await reachable();
      return [...pins.values()];
    },
  };
  return { store, state, rows, pins };
}

const requestsIn = (rows: Map<string, UsageRow>) =>
  [...rows.values()].reduce((sum, r) => sum + r.requests, 0);

test('usage a flush could not write while the store was down is added by the next flush, exactly once, with one warning per outage', async () => {
  const { store, state, rows } = createFlakyStore();
  const warnings: string[] = [];
  const tracking = new VersionTracking({
    store,
    clock: () => Date.UTC(2026, 0, 5),
    onError: (_err, what) => warnings.push(what),
  });
  for (let i = 0; i < 3; i++) tracking.record('users', '1.2.0', 'app');
  state.down = true;
  await tracking.flush();
  assert.equal(requestsIn(rows), 0);
  tracking.record('users', '1.2.0', 'app');
  tracking.record('users', '1.2.0', 'app');
  await tracking.flush();
  state.down = false;
  await tracking.flush();
  assert.equal(requestsIn(rows), 5);
  await tracking.flush();
  assert.equal(requestsIn(rows), 5, 'a later flush adds nothing twice');
  assert.equal(warnings.length, 1, 'two failed flushes, one warning');

  state.down = true;
  tracking.record('users', '1.2.0', 'app');
  await tracking.flush();
  assert.equal(warnings.length, 2, 'the next outage warns again');
});

test('a pin this node has read keeps being served while the store is down, past its TTL', async () => {
  const { store, state } = createFlakyStore();
  let now = 1_000_000;
  const tracking = new VersionTracking({ store, clock: () => now, pinTtlMs: 5_000 });
  await store.setPin('users', 'app', '1', now);
  assert.equal(tracking.pinOf('users', 'app'), PIN_UNKNOWN);
  await tracking.loadPin('users', 'app');
  assert.equal(tracking.pinOf('users', 'app'), '1');

  state.down = true;
  now += 60_000;
  // Past the TTL the pin is read again in the background; the failed read leaves the cached pin in force.
  assert.equal(tracking.pinOf('users', 'app'), '1');
  await tracking.loadPin('users', 'app');
  assert.equal(tracking.pinOf('users', 'app'), '1');
});

test('a consumer first seen while the store is down is served unpinned, and pinned once the store is back', async () => {
  const { store, state, pins } = createFlakyStore();
  let now = 1_000_000;
  const tracking = new VersionTracking({ store, clock: () => now, pinTtlMs: 5_000 });
  state.down = true;
  assert.equal(tracking.pinOf('users', 'new-app'), PIN_UNKNOWN);
  await tracking.loadPin('users', 'new-app');
  assert.equal(tracking.pinOf('users', 'new-app'), undefined);
  tracking.pinServed('users', 'new-app', '2');
  await tracking.loadPin('users', 'new-app');
  assert.equal(pins.size, 0);
  assert.equal(tracking.pinOf('users', 'new-app'), undefined, 'a pin the store refused is not kept');

  state.down = false;
  now += 10_000;
  tracking.pinServed('users', 'new-app', '2');
  await tracking.loadPin('users', 'new-app');
  assert.equal(pins.get('users|new-app')?.version, '2');
  assert.equal(tracking.pinOf('users', 'new-app'), '2');
});

test('usage is dated by the UTC day of each request, not by the flush: requests just before midnight stay on their day', async () => {
  const { store, state, rows } = createFlakyStore();
  let now = Date.parse('2026-01-05T23:59:59.000Z');
  const tracking = new VersionTracking({ store, clock: () => now });
  tracking.record('users', '1.2.0', 'app');
  tracking.record('users', '1.2.0', 'app');
  now = Date.parse('2026-01-06T00:00:01.000Z');
  tracking.record('users', '1.2.0', 'app');
  await tracking.flush();
  const byDay = () =>
    Object.fromEntries([...rows.values()].map((row) => [row.day, [row.requests, row.lastSeenAt]]));
  assert.deepEqual(byDay(), {
    '2026-01-05': [2, Date.parse('2026-01-05T23:59:59.000Z')],
    '2026-01-06': [1, Date.parse('2026-01-06T00:00:01.000Z')],
  });

  // A flush that fails across the next midnight hands its counts back with their days.
  now = Date.parse('2026-01-06T23:59:58.000Z');
  tracking.record('users', '1.2.0', 'app');
  state.down = true;
  await tracking.flush();
  now = Date.parse('2026-01-07T00:00:03.000Z');
  tracking.record('users', '1.2.0', 'app');
  tracking.record('users', '1.2.0', 'app');
  state.down = false;
  await tracking.flush();
  assert.deepEqual(Object.fromEntries(Object.entries(byDay()).map(([day, [requests]]) => [day, requests])), {
    '2026-01-05': 2,
    '2026-01-06': 2,
    '2026-01-07': 2,
  });
  assert.deepEqual(tracking.table.forVersion('users', '1').consumers, [
    { consumer: 'app', requests: 6, lastSeenAt: now },
  ]);
});

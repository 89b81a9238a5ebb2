import type { DatabaseSync } from 'node:sqlite';
import { dayOf, USAGE_RETENTION_DAYS, type VersionPin, type VersionStore } from './version-store.ts';

const DAY_MS = 86_400_000;

interface PinRow {
  consumer: string;
  version: string;
  pinned_at: number;
}

/**
 * The {@link VersionStore} of the embedded store, in the same SQLite file. Every write is one statement or one
 * `BEGIN IMMEDIATE` transaction, so worker processes sharing the file add their usage without losing any.
 * `durable` resolves once what was committed is on disk (the registry store's group fsync, see
 * embedded-store.ts): pin changes wait for it, usage counters do not.
 */
export function createEmbeddedVersionStore(
  db: DatabaseSync,
  durable: () => Promise<void> = () => Promise.resolve(),
): VersionStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS version_usage (
      service TEXT NOT NULL,
      version TEXT NOT NULL,
      consumer TEXT NOT NULL,
      day TEXT NOT NULL,
      requests INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL,
      PRIMARY KEY (service, day, version, consumer)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS version_pins (
      service TEXT NOT NULL,
      consumer TEXT NOT NULL,
      version TEXT NOT NULL,
      pinned_at INTEGER NOT NULL,
      PRIMARY KEY (service, consumer)
    ) WITHOUT ROWID;
  `);
  const addUsage = db.prepare(`
    INSERT INTO version_usage (service, version, consumer, day, requests, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (service, day, version, consumer) DO UPDATE SET
      requests = requests + excluded.requests,
      last_seen_at = max(last_seen_at, excluded.last_seen_at)
  `);
  const trimUsage = db.prepare('DELETE FROM version_usage WHERE day < ?');
  const usage = db.prepare(
    'SELECT version, consumer, day, requests, last_seen_at FROM version_usage WHERE service = ? AND day >= ?',
  );
  const getPin = db.prepare(
    'SELECT consumer, version, pinned_at FROM version_pins WHERE service = ? AND consumer = ?',
  );
  const insertPin = db.prepare(
    'INSERT INTO version_pins (service, consumer, version, pinned_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const setPin = db.prepare(`
    INSERT INTO version_pins (service, consumer, version, pinned_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (service, consumer) DO UPDATE SET version = excluded.version, pinned_at = excluded.pinned_at
  `);
  const removePin = db.prepare('DELETE FROM version_pins WHERE service = ? AND consumer = ?');
  const pins = db.prepare(
    'SELECT consumer, version, pinned_at FROM version_pins WHERE service = ? ORDER BY consumer',
  );
  const toPin = (row: PinRow): VersionPin => ({
    consumer: row.consumer,
    version: row.version,
    pinnedAt: row.pinned_at,
  });

  return {
    async addUsage(deltas) {
      if (deltas.length === 0) return;
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const d of deltas)
          addUsage.run(d.service, d.version, d.consumer, d.day, d.requests, d.lastSeenAt);
        trimUsage.run(dayOf(Date.now() - USAGE_RETENTION_DAYS * DAY_MS));
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    },
    async usage(service, sinceDay) {
      return (
        usage.all(service, sinceDay) as unknown as {
          version: string;
          consumer: string;
          day: string;
          requests: number;
          last_seen_at: number;
        }[]
      ).map((row) => ({
        version: row.version,
        consumer: row.consumer,
        day: row.day,
        requests: row.requests,
        lastSeenAt: row.last_seen_at,
      }));
    },
    async getPin(service, consumer) {
      const row = getPin.get(service, consumer) as PinRow | undefined;
      return row === undefined ? undefined : toPin(row);
    },
    async pinIfAbsent(service, consumer, version, at) {
      insertPin.run(service, consumer, version, at);
      await durable();
      return toPin(getPin.get(service, consumer) as unknown as PinRow);
    },
    async setPin(service, consumer, version, at) {
      setPin.run(service, consumer, version, at);
      await durable();
      return { consumer, version, pinnedAt: at };
    },
    async removePin(service, consumer) {
      const removed = Number(removePin.run(service, consumer).changes) > 0;
      await durable();
      return removed;
    },
    async pins(service) {
      return (pins.all(service) as unknown as PinRow[]).map(toPin);
    },
  };
}

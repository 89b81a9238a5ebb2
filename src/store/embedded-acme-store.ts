import type { DatabaseSync } from 'node:sqlite';
import type { AcmeStore } from './acme-store.ts';

/**
 * The {@link AcmeStore} of the embedded store, in the same SQLite file (tables `acme_records` and
 * `acme_leases`), so the workers of a node and processes sharing the folder see one account, one certificate and
 * one order lease. Each write is one statement: atomic across processes without a transaction. `durable`
 * resolves once what was committed is on disk (the registry store's group fsync); records wait for it, leases
 * do not (a lease lost in a power cut only lets another node order).
 */
export function createEmbeddedAcmeStore(
  db: DatabaseSync,
  clock: () => number = Date.now,
  durable: () => Promise<void> = () => Promise.resolve(),
): AcmeStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS acme_records (
      name TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      expires_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS acme_leases (
      name TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `);
  const get = db.prepare(
    'SELECT value FROM acme_records WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)',
  );
  const put = db.prepare(`
    INSERT INTO acme_records (name, value, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
  `);
  const trim = db.prepare('DELETE FROM acme_records WHERE expires_at IS NOT NULL AND expires_at <= ?');
  const remove = db.prepare(
    'DELETE FROM acme_records WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)',
  );
  // Taken when free, lapsed, or already ours; one statement, so two processes cannot both win.
  const lease = db.prepare(`
    INSERT INTO acme_leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE acme_leases.owner = excluded.owner OR acme_leases.expires_at <= ?4
  `);
  const release = db.prepare('DELETE FROM acme_leases WHERE name = ? AND owner = ?');

  return {
    async get(name) {
      const row = get.get(name, clock()) as { value: string } | undefined;
      return row?.value;
    },
    async put(name, value, ttlMs) {
      const now = clock();
      put.run(name, value, ttlMs === undefined ? null : now + ttlMs);
      trim.run(now);
      await durable();
    },
    async remove(name) {
      const removed = Number(remove.run(name, clock()).changes) > 0;
      await durable();
      return removed;
    },
    async tryLease(name, owner, ttlMs) {
      const now = clock();
      return Number(lease.run(name, owner, now + Math.max(1, Math.ceil(ttlMs)), now).changes) > 0;
    },
    async releaseLease(name, owner) {
      return Number(release.run(name, owner).changes) > 0;
    },
  };
}

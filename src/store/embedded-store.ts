import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createEmbeddedVersionStore } from './embedded-version-store.ts';
import type { VersionStore } from './version-store.ts';
import type {
  ChangeReason,
  RegistryChange,
  RegistrySnapshot,
  RegistryStore,
  StoredInstance,
} from './registry-store.ts';

/** Options of {@link createEmbeddedStore}. */
export interface EmbeddedStoreOptions {
  /** Folder of the database file (`<path>/portico.db`), created when missing; `:memory:` keeps nothing on disk. */
  readonly path: string;
  /** Epoch milliseconds; stamps change-log rows. */
  readonly clock?: () => number;
  /** How many change-log rows are kept for `changesSince`; older revisions get a snapshot instead. */
  readonly changeLogSize?: number;
  /**
   * Several processes share the file (`workers: N`): changes are delivered by polling the change log, so a
   * write made by another process reaches `onChange` too. Default false (this process is the only writer).
   */
  readonly multiProcess?: boolean;
  /** How often the change log is polled in multi-process mode (default 5 ms). */
  readonly pollMs?: number;
}

const DEFAULT_CHANGE_LOG_SIZE = 10_000;
const DEFAULT_POLL_MS = 5;
/** Changes read per poll query, so a long backlog is delivered in bounded steps. */
const POLL_BATCH = 1000;

interface InstanceRow {
  data: string;
  expires_at: number;
}

interface ChangeRow {
  revision: number;
  kind: string;
  reason: string;
  service: string;
  id: string;
  instance: string;
}

/**
 * The default, single-node store: one SQLite file through Node's built-in `node:sqlite`.
 *
 * node:sqlite is synchronous. That is acceptable here: the file is local, every write is a few small rows,
 * and the store is only touched by registry calls on the admin listener, never by a proxied request (the
 * gateway reads the registry's in-memory copy). A blocked event loop for the duration of one fsync is the
 * price of "durable before the 2xx".
 *
 * Durability: WAL journal with `synchronous=FULL`, so every commit fsyncs the WAL before `upsert` resolves;
 * a registration survives `kill -9` and a power cut. (NORMAL would survive `kill -9` only.)
 *
 * Several processes (`workers: N`) may open one file: WAL lets readers run beside the one writer, and every
 * write is one `BEGIN IMMEDIATE` transaction, so lease expiry stays atomic across them. With `multiProcess`,
 * each store polls the change log and delivers every change (its own included) in revision order, once.
 *
 * @example
 * const store = await createEmbeddedStore({ path: './.portico' });
 * const { revision, instances } = await store.snapshot();
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions): Promise<RegistryStore> {
  const inMemory = options.path === ':memory:';
  if (!inMemory) mkdirSync(options.path, { recursive: true });
  const db = new DatabaseSync(inMemory ? ':memory:' : join(options.path, 'portico.db'));
  try {
    const store = new EmbeddedStore(
      db,
      options.clock ?? Date.now,
      options.changeLogSize ?? DEFAULT_CHANGE_LOG_SIZE,
    );
    if (options.multiProcess === true) store.followOtherProcesses(options.pollMs ?? DEFAULT_POLL_MS);
    return store;
  } catch (err) {
    db.close();
    throw err;
  }
}

class EmbeddedStore implements RegistryStore {
  readonly kind = 'embedded';
  readonly versions: VersionStore;
  readonly #db: DatabaseSync;
  readonly #clock: () => number;
  readonly #logSize: number;
  readonly #listeners = new Set<(change: RegistryChange) => void>();
  readonly #resyncListeners = new Set<(snapshot: RegistrySnapshot) => void>();
  /** Set in multi-process mode: the highest revision delivered to listeners. */
  #delivered: number | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #pollAgain = false;
  readonly #sql: {
    revision: StatementSync;
    allInstances: StatementSync;
    getInstance: StatementSync;
    putInstance: StatementSync;
    deleteInstance: StatementSync;
    renew: StatementSync;
    expired: StatementSync;
    insertChange: StatementSync;
    trimChanges: StatementSync;
    oldestChange: StatementSync;
    changesAfter: StatementSync;
    changesAfterLimited: StatementSync;
    putContract: StatementSync;
    getContract: StatementSync;
  };
  #closed = false;

  constructor(db: DatabaseSync, clock: () => number, logSize: number) {
    this.#db = db;
    this.#clock = clock;
    this.#logSize = logSize;
    // Another process holding the file (a worker, or a second Portico on the same path) waits instead of failing
    // at once; set first, so creating the file and switching it to WAL wait too when workers start together.
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    this.versions = createEmbeddedVersionStore(db);
    db.exec(`
      CREATE TABLE IF NOT EXISTS instances (
        service TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (service, id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS instances_expiry ON instances (expires_at);
      CREATE TABLE IF NOT EXISTS changes (
        revision INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        service TEXT NOT NULL,
        id TEXT NOT NULL,
        instance TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS contracts (
        service TEXT NOT NULL,
        version TEXT NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (service, version)
      ) WITHOUT ROWID;
    `);
    this.#sql = {
      // AUTOINCREMENT keeps the highest revision ever used here even after the log is trimmed.
      revision: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`),
      allInstances: db.prepare('SELECT data, expires_at FROM instances'),
      getInstance: db.prepare('SELECT data, expires_at FROM instances WHERE service = ? AND id = ?'),
      putInstance: db.prepare(
        'INSERT OR REPLACE INTO instances (service, id, data, expires_at) VALUES (?, ?, ?, ?)',
      ),
      deleteInstance: db.prepare('DELETE FROM instances WHERE service = ? AND id = ?'),
      renew: db.prepare('UPDATE instances SET expires_at = MAX(expires_at, ?) WHERE service = ? AND id = ?'),
      expired: db.prepare('SELECT data, expires_at FROM instances WHERE expires_at < ? ORDER BY expires_at'),
      insertChange: db.prepare(
        'INSERT INTO changes (kind, reason, service, id, instance, at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      trimChanges: db.prepare('DELETE FROM changes WHERE revision <= ?'),
      oldestChange: db.prepare('SELECT MIN(revision) AS revision FROM changes'),
      changesAfter: db.prepare(
        'SELECT revision, kind, reason, service, id, instance FROM changes WHERE revision > ? ORDER BY revision',
      ),
      changesAfterLimited: db.prepare(
        `SELECT revision, kind, reason, service, id, instance FROM changes WHERE revision > ? ORDER BY revision LIMIT ${POLL_BATCH}`,
      ),
      putContract: db.prepare(
        'INSERT OR REPLACE INTO contracts (service, version, hash, document) VALUES (?, ?, ?, ?)',
      ),
      getContract: db.prepare('SELECT document FROM contracts WHERE service = ? AND version = ?'),
    };
  }

  /** Switches to multi-process delivery: from now on `onChange` is fed by polling the change log. */
  followOtherProcesses(pollMs: number): void {
    this.#delivered = this.#revision();
    this.#pollTimer = setInterval(() => this.#poll(), pollMs).unref();
  }

  async snapshot(): Promise<RegistrySnapshot> {
    this.#assertOpen();
    return this.#snapshotNow();
  }

  async upsert(instance: StoredInstance, reason: ChangeReason): Promise<RegistryChange> {
    this.#assertOpen();
    const change = this.#transaction(() => {
      this.#sql.putInstance.run(instance.service, instance.id, JSON.stringify(instance), instance.expiresAt);
      return this.#appendChange('upsert', reason, instance);
    });
    this.#deliver(change);
    return change;
  }

  async renew(service: string, id: string, expiresAt: number): Promise<boolean> {
    this.#assertOpen();
    return Number(this.#sql.renew.run(expiresAt, service, id).changes) > 0;
  }

  async remove(
    service: string,
    id: string,
    reason: 'deregister' | 'expire',
  ): Promise<RegistryChange | undefined> {
    this.#assertOpen();
    const change = this.#transaction(() => {
      const row = this.#sql.getInstance.get(service, id) as InstanceRow | undefined;
      if (row === undefined) return undefined;
      this.#sql.deleteInstance.run(service, id);
      return this.#appendChange('delete', reason, toInstance(row));
    });
    if (change !== undefined) this.#deliver(change);
    return change;
  }

  async expire(now: number): Promise<RegistryChange[]> {
    this.#assertOpen();
    const changes = this.#transaction(() => {
      const rows = this.#sql.expired.all(now) as unknown as InstanceRow[];
      const out: RegistryChange[] = [];
      for (const row of rows) {
        const instance = toInstance(row);
        this.#sql.deleteInstance.run(instance.service, instance.id);
        out.push(this.#appendChange('delete', 'expire', instance));
      }
      return out;
    });
    if (this.#delivered !== undefined) this.#poll();
    else for (const change of changes) this.#emit(change);
    return changes;
  }

  async changesSince(revision: number): Promise<RegistryChange[] | undefined> {
    this.#assertOpen();
    const head = this.#revision();
    // A revision from the future means the client saw a store that has since lost its data.
    if (revision > head) return undefined;
    if (revision === head) return [];
    const oldest =
      (this.#sql.oldestChange.get() as { revision: number | null } | undefined)?.revision ?? null;
    if (oldest === null || revision < oldest - 1) return undefined;
    const rows = this.#sql.changesAfter.all(revision) as unknown as ChangeRow[];
    return rows.map(toChange);
  }

  async putContract(service: string, version: string, document: string): Promise<string> {
    this.#assertOpen();
    const hash = createHash('sha256').update(document).digest('hex');
    this.#sql.putContract.run(service, version, hash, document);
    return hash;
  }

  async getContract(service: string, version: string): Promise<string | undefined> {
    this.#assertOpen();
    const row = this.#sql.getContract.get(service, version) as { document: string } | undefined;
    return row?.document;
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onResync(listener: (snapshot: RegistrySnapshot) => void): () => void {
    this.#resyncListeners.add(listener);
    return () => this.#resyncListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    this.#listeners.clear();
    this.#resyncListeners.clear();
    this.#db.close();
  }

  #snapshotNow(): RegistrySnapshot {
    // One read transaction: another process may commit between two statements, never inside one snapshot.
    this.#db.exec('BEGIN');
    try {
      const revision = this.#revision();
      const rows = this.#sql.allInstances.all() as unknown as InstanceRow[];
      return { revision, instances: rows.map(toInstance) };
    } finally {
      this.#db.exec('COMMIT');
    }
  }

  /** A committed own write: delivered at once alone, or through the log when other processes write too. */
  #deliver(change: RegistryChange): void {
    // Polling right after the commit delivers whatever other processes committed before it first, so order holds.
    if (this.#delivered !== undefined) this.#poll();
    else this.#emit(change);
  }

  /** Delivers every change after the last delivered one, in revision order; reentrant calls fold into one. */
  #poll(): void {
    if (this.#closed || this.#delivered === undefined) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = true;
    try {
      do {
        this.#pollAgain = false;
        const rows = this.#sql.changesAfterLimited.all(this.#delivered) as unknown as ChangeRow[];
        if (rows.length === 0) break;
        // AUTOINCREMENT inside the writing transaction leaves no holes: a jump means the log was trimmed past us.
        if (Number((rows[0] as ChangeRow).revision) !== this.#delivered + 1) {
          this.#resync();
          continue;
        }
        for (const row of rows) {
          if (this.#closed) return;
          const change = toChange(row);
          this.#delivered = change.revision;
          this.#emit(change);
        }
        if (rows.length === POLL_BATCH) this.#pollAgain = true;
      } while (this.#pollAgain && !this.#closed);
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'PorticoStoreWarning');
    } finally {
      this.#polling = false;
    }
  }

  #resync(): void {
    const snapshot = this.#snapshotNow();
    this.#delivered = snapshot.revision;
    for (const listener of this.#resyncListeners) {
      try {
        listener(snapshot);
      } catch (err) {
        process.emitWarning(
          err instanceof Error ? err : new Error(String(err)),
          'PorticoStoreListenerWarning',
        );
      }
    }
  }

  #revision(): number {
    const row = this.#sql.revision.get() as { seq: number } | undefined;
    return row === undefined ? 0 : Number(row.seq);
  }

  #appendChange(kind: 'upsert' | 'delete', reason: ChangeReason, instance: StoredInstance): RegistryChange {
    const result = this.#sql.insertChange.run(
      kind,
      reason,
      instance.service,
      instance.id,
      JSON.stringify(instance),
      this.#clock(),
    );
    const revision = Number(result.lastInsertRowid);
    if (revision > this.#logSize) this.#sql.trimChanges.run(revision - this.#logSize);
    return { revision, kind, reason, service: instance.service, id: instance.id, instance };
  }

  #transaction<T>(body: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #emit(change: RegistryChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        // One faulty listener must not hide the change from the others, nor fail a write that committed.
        process.emitWarning(
          err instanceof Error ? err : new Error(String(err)),
          'PorticoStoreListenerWarning',
        );
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the embedded store is closed');
  }
}

function toInstance(row: InstanceRow): StoredInstance {
  const instance = JSON.parse(row.data) as StoredInstance;
  // Heartbeats only move the column, so it is the lease end of record.
  return { ...instance, expiresAt: Number(row.expires_at) };
}

function toChange(row: ChangeRow): RegistryChange {
  return {
    revision: Number(row.revision),
    kind: row.kind as RegistryChange['kind'],
    reason: row.reason as ChangeReason,
    service: row.service,
    id: row.id,
    instance: JSON.parse(row.instance) as StoredInstance,
  };
}

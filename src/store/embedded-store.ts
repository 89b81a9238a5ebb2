import { createHash } from 'node:crypto';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, watch, type FSWatcher } from 'node:fs';
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
   * Several processes share the file (`workers: N`): changes are delivered by reading the change log whenever
   * the file changes, so a write made by another process reaches `onChange` too. Default false (this process
   * is the only writer).
   */
  readonly multiProcess?: boolean;
  /**
   * In multi-process mode, a safety net behind the file watch: the change log is also read this often
   * (default 1000 ms). Another process's change normally arrives within a millisecond through the watch.
   */
  readonly pollMs?: number;
  /** Flushes the WAL file to disk (default `fs.fsync`); injectable so tests can count or hold the syncs. */
  readonly fsync?: (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;
}

const DEFAULT_CHANGE_LOG_SIZE = 10_000;
const DEFAULT_POLL_MS = 1000;
/** Changes read per poll query, so a long backlog is delivered in bounded steps. */
const POLL_BATCH = 1000;

const DATABASE_FILE = 'portico.db';

/** One write waiting in {@link EmbeddedStore}'s queue. */
interface QueuedWrite {
  readonly run: () => unknown;
  readonly durable: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  result: unknown;
}

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
 * node:sqlite is synchronous, but the store is only touched by registry calls on the admin listener, never by
 * a proxied request (the gateway reads the registry's in-memory copy), and its writes are small.
 *
 * Group commit (docs/adr/0007-embedded-group-commit.md): writes are queued and the queue is committed as one
 * `BEGIN IMMEDIATE` transaction per event-loop turn (each write in its own savepoint, so one failing write
 * fails alone). The WAL runs with `synchronous=NORMAL` (a commit does not fsync) and the store then fsyncs the
 * WAL file itself on libuv's thread pool: one fsync covers every write of the batches committed before it, and
 * the event loop (and the proxied requests it serves) never waits for the disk. A write that changes routing
 * (`upsert`, `remove`, `expire`, `putContract`) resolves, and its change reaches `onChange`, only after that
 * fsync: a registration answered 2xx survives `kill -9` and a power cut. A heartbeat (`renew`) resolves at its
 * commit without waiting for an fsync: it changes no routing, and a lease loaded at start is extended by the
 * registry's restart grace anyway, so a renewal lost with a power cut costs nothing.
 *
 * Several processes (`workers: N`) may open one file: WAL lets readers run beside the one writer, and every
 * batch is one `BEGIN IMMEDIATE` transaction, so lease expiry stays atomic across them. With `multiProcess`,
 * each store watches the WAL file (inotify) and reads the change log when another process wrote to it,
 * delivering every change (its own included) in revision order, once.
 *
 * @example
 * const store = await createEmbeddedStore({ path: './.portico' });
 * const { revision, instances } = await store.snapshot();
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions): Promise<RegistryStore> {
  const inMemory = options.path === ':memory:';
  if (!inMemory) mkdirSync(options.path, { recursive: true });
  const db = new DatabaseSync(inMemory ? ':memory:' : join(options.path, DATABASE_FILE));
  try {
    const store = new EmbeddedStore(
      db,
      options.clock ?? Date.now,
      options.changeLogSize ?? DEFAULT_CHANGE_LOG_SIZE,
      inMemory ? undefined : options.path,
      options.fsync ?? fsync,
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
  #walWatcher: FSWatcher | undefined;
  #polling = false;
  #pollAgain = false;
  /** Writes waiting for the next batch commit. */
  #queue: QueuedWrite[] = [];
  #flushScheduled: NodeJS.Immediate | undefined;
  /** Committed durable writes waiting for the next WAL fsync, in commit order. */
  #unsynced: QueuedWrite[] = [];
  /** The fsync in flight, if any; settles once its writes were delivered. */
  #syncing: Promise<void> | undefined;
  /** The WAL file, fsynced by the store itself; undefined in memory. */
  readonly #walFd: number | undefined;
  readonly #walPath: string | undefined;
  readonly #fsyncFile: NonNullable<EmbeddedStoreOptions['fsync']>;
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

  constructor(
    db: DatabaseSync,
    clock: () => number,
    logSize: number,
    dir: string | undefined,
    fsyncFile: NonNullable<EmbeddedStoreOptions['fsync']>,
  ) {
    this.#db = db;
    this.#fsyncFile = fsyncFile;
    this.#clock = clock;
    this.#logSize = logSize;
    // Another process holding the file (a worker, or a second Portico on the same path) waits instead of failing
    // at once; set first, so creating the file and switching it to WAL wait too when workers start together.
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL: a commit writes the WAL without fsyncing it; the store fsyncs it after each batch (see above).
    // Checkpoints still fsync the WAL before copying it into the database file.
    db.exec('PRAGMA synchronous = NORMAL');
    // Pins are operator decisions: durable like registrations. Usage counters are not waited for.
    this.versions = createEmbeddedVersionStore(db, () => this.#durable());
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
    if (dir === undefined) return;
    // Reading the schema above opened the WAL (SQLite creates it with the first read in WAL mode); it lives as
    // long as a connection is open, and this one stays open until close(). The folder is fsynced once so a
    // freshly created database and WAL are found after a power cut.
    this.#walPath = join(dir, `${DATABASE_FILE}-wal`);
    this.#walFd = openSync(this.#walPath, 'r');
    try {
      const dirFd = openSync(dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch {
      // Some platforms (Windows) cannot open or fsync a folder; SQLite itself skips that step there too.
    }
  }

  /**
   * Switches to multi-process delivery: from now on `onChange` is fed from the change log, read whenever the WAL
   * file changes (any process's commit writes it) and every `pollMs` as a safety net.
   */
  followOtherProcesses(pollMs: number): void {
    this.#delivered = this.#revision();
    this.#pollTimer = setInterval(() => this.#poll(), pollMs).unref();
    if (this.#walPath === undefined) return;
    try {
      this.#walWatcher = watch(this.#walPath, { persistent: false }, () => this.#poll());
      this.#walWatcher.on('error', () => this.#walWatcher?.close());
    } catch {
      // No file watch here (an unusual filesystem): the poll alone delivers, every pollMs.
    }
  }

  async snapshot(): Promise<RegistrySnapshot> {
    this.#assertOpen();
    return this.#snapshotNow();
  }

  upsert(instance: StoredInstance, reason: ChangeReason): Promise<RegistryChange> {
    return this.#write(true, () => {
      this.#sql.putInstance.run(instance.service, instance.id, JSON.stringify(instance), instance.expiresAt);
      return [this.#appendChange('upsert', reason, instance)];
    }).then(firstChange);
  }

  renew(service: string, id: string, expiresAt: number): Promise<boolean> {
    return this.#write(false, () => Number(this.#sql.renew.run(expiresAt, service, id).changes) > 0);
  }

  remove(service: string, id: string, reason: 'deregister' | 'expire'): Promise<RegistryChange | undefined> {
    return this.#write(true, () => {
      const row = this.#sql.getInstance.get(service, id) as InstanceRow | undefined;
      if (row === undefined) return [];
      this.#sql.deleteInstance.run(service, id);
      return [this.#appendChange('delete', reason, toInstance(row))];
    }).then((changes) => changes[0]);
  }

  expire(now: number): Promise<RegistryChange[]> {
    return this.#write(true, () => {
      const rows = this.#sql.expired.all(now) as unknown as InstanceRow[];
      const out: RegistryChange[] = [];
      for (const row of rows) {
        const instance = toInstance(row);
        this.#sql.deleteInstance.run(instance.service, instance.id);
        out.push(this.#appendChange('delete', 'expire', instance));
      }
      return out;
    });
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

  putContract(service: string, version: string, document: string): Promise<string> {
    const hash = createHash('sha256').update(document).digest('hex');
    return this.#write(true, () => {
      this.#sql.putContract.run(service, version, hash, document);
      return hash;
    });
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
    // Writes already accepted still commit and reach the disk; later calls are refused.
    if (this.#flushScheduled !== undefined) {
      clearImmediate(this.#flushScheduled);
      this.#flush();
    }
    while (this.#syncing !== undefined) await this.#syncing;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    this.#walWatcher?.close();
    this.#listeners.clear();
    this.#resyncListeners.clear();
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#db.close();
  }

  /**
   * Queues one write for the next batch. `durable` writes resolve after the WAL fsync that follows their commit,
   * and their changes are delivered first; the others resolve at the commit.
   */
  #write<T>(durable: boolean, run: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the embedded store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        run,
        durable,
        resolve: resolve as (value: unknown) => void,
        reject,
        result: undefined,
      });
      // setImmediate runs after the poll phase, so every request read in this turn joins the batch.
      this.#flushScheduled ??= setImmediate(() => this.#flush());
    });
  }

  /** Commits every queued write in one transaction, then hands the durable ones to the fsync. */
  #flush(): void {
    this.#flushScheduled = undefined;
    const batch = this.#queue;
    this.#queue = [];
    const committed: QueuedWrite[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      for (const write of batch) write.reject(err);
      return;
    }
    try {
      for (const write of batch) {
        this.#db.exec('SAVEPOINT write');
        try {
          write.result = write.run();
          this.#db.exec('RELEASE write');
          committed.push(write);
        } catch (err) {
          this.#db.exec('ROLLBACK TO write');
          this.#db.exec('RELEASE write');
          write.reject(err);
        }
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      for (const write of committed) write.reject(err);
      return;
    }
    for (const write of committed) {
      if (!write.durable) write.resolve(write.result);
      else this.#unsynced.push(write);
    }
    // #sync awaits before it can finish, so #syncing is set before it is cleared.
    if (this.#unsynced.length > 0) this.#syncing ??= this.#sync();
  }

  /** Fsyncs the WAL for the writes committed so far, delivers their changes, resolves them; repeats while more came. */
  async #sync(): Promise<void> {
    while (this.#unsynced.length > 0) {
      const writes = this.#unsynced;
      this.#unsynced = [];
      const failure = await this.#fsyncWal();
      if (failure !== null) {
        // The commit may or may not be on disk: the caller hears it failed and retries (writes are idempotent).
        for (const write of writes) write.reject(failure);
        continue;
      }
      if (this.#delivered !== undefined) this.#poll();
      for (const write of writes) {
        if (this.#delivered === undefined && Array.isArray(write.result))
          for (const change of write.result as RegistryChange[]) this.#emit(change);
        write.resolve(write.result);
      }
    }
    this.#syncing = undefined;
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

  /** Resolves once everything committed so far is on disk (through the next group fsync). */
  #durable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#unsynced.push({
        run: () => undefined,
        durable: true,
        resolve: () => resolve(),
        reject,
        result: undefined,
      });
      this.#syncing ??= this.#sync();
    });
  }

  /** Resolves with the fsync's error, or null; in memory there is nothing to sync. */
  #fsyncWal(): Promise<NodeJS.ErrnoException | null> {
    const fd = this.#walFd;
    if (fd === undefined) return Promise.resolve(null);
    return new Promise((resolve) => this.#fsyncFile(fd, resolve));
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

function firstChange(changes: RegistryChange[]): RegistryChange {
  return changes[0] as RegistryChange;
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

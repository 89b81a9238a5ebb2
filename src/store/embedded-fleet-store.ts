import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type {
  AddedRevision,
  ConfigRevision,
  ConfigRevisionSummary,
  FleetStore,
  NodeEntry,
  NodeRecord,
} from './fleet-store.ts';

/** Options of {@link createEmbeddedFleetStore}. */
export interface EmbeddedFleetStoreOptions {
  /** The embedded store's folder (`store.path`): the tables live in the same `portico.db`. */
  readonly path: string;
  /** How often the latest revision is read, to hear of revisions written by another process (default 250 ms). */
  readonly pollMs?: number | undefined;
  readonly clock?: (() => number) | undefined;
}

interface RevisionRow {
  revision: number;
  document: string;
  sha256: string;
  created_at: number;
  author: string;
  note: string;
}

/**
 * The fleet store in the embedded SQLite file: the node's own revisions and membership (one node, or the workers of
 * one node, or a `portico config apply --store embedded:PATH` run beside it). Another process's revision is heard
 * by reading the latest revision every `pollMs` (one indexed read); this process's own at once.
 *
 * @example
 * const fleet = await createEmbeddedFleetStore({ path: './.portico' });
 * await fleet.addRevision(text, 'cli', 'apply');
 */
export async function createEmbeddedFleetStore(options: EmbeddedFleetStoreOptions): Promise<FleetStore> {
  const inMemory = options.path === ':memory:';
  if (!inMemory) mkdirSync(options.path, { recursive: true });
  const db = new DatabaseSync(inMemory ? ':memory:' : join(options.path, 'portico.db'));
  try {
    return new EmbeddedFleetStore(db, options.pollMs ?? 250, options.clock ?? Date.now);
  } catch (err) {
    db.close();
    throw err;
  }
}

class EmbeddedFleetStore implements FleetStore {
  readonly #db: DatabaseSync;
  readonly #clock: () => number;
  readonly #sql: Record<
    'latest' | 'get' | 'insert' | 'history' | 'putNode' | 'nodes' | 'forgetNode',
    StatementSync
  >;
  readonly #timer: NodeJS.Timeout;
  #listeners: ((revision: number) => void)[] = [];
  #seen = 0;
  #closed = false;

  constructor(db: DatabaseSync, pollMs: number, clock: () => number) {
    this.#db = db;
    this.#clock = clock;
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL: a node heartbeat every 2 s must not fsync on the event loop (with FULL, each one blocked the loop
    // for 60–140 ms on a busy disk, a latency spike for every request in flight). Revisions switch to FULL for
    // their own commit: an applied config answered 2xx survives a power cut.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS config_revisions (
        revision INTEGER PRIMARY KEY AUTOINCREMENT,
        document TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        author TEXT NOT NULL,
        note TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS nodes (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        last_seen INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    this.#sql = {
      latest: db.prepare('SELECT MAX(revision) AS revision FROM config_revisions'),
      get: db.prepare('SELECT * FROM config_revisions WHERE revision = ?'),
      insert: db.prepare(
        'INSERT INTO config_revisions (document, sha256, created_at, author, note) VALUES (?, ?, ?, ?, ?)',
      ),
      history: db.prepare(
        'SELECT revision, sha256, created_at, author, note FROM config_revisions ORDER BY revision DESC LIMIT ?',
      ),
      putNode: db.prepare('INSERT OR REPLACE INTO nodes (id, data, last_seen) VALUES (?, ?, ?)'),
      nodes: db.prepare('SELECT data, last_seen FROM nodes'),
      forgetNode: db.prepare('DELETE FROM nodes WHERE id = ?'),
    };
    this.#seen = this.#latest();
    this.#timer = setInterval(() => this.#poll(), pollMs).unref();
  }

  async addRevision(document: string, author: string, note: string): Promise<AddedRevision> {
    const sha256 = createHash('sha256').update(document).digest('hex');
    const createdAt = this.#clock();
    this.#db.exec('PRAGMA synchronous = FULL');
    this.#db.exec('BEGIN IMMEDIATE');
    let added: AddedRevision;
    try {
      const latest = this.#get(this.#latest());
      if (latest !== undefined && latest.sha256 === sha256) added = { revision: latest, created: false };
      else {
        const { lastInsertRowid } = this.#sql.insert.run(document, sha256, createdAt, author, note);
        added = {
          revision: { revision: Number(lastInsertRowid), document, sha256, createdAt, author, note },
          created: true,
        };
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    } finally {
      this.#db.exec('PRAGMA synchronous = NORMAL');
    }
    if (added.created) this.#poll();
    return added;
  }

  async revision(revision?: number): Promise<ConfigRevision | undefined> {
    return this.#get(revision ?? this.#latest());
  }

  async history(limit = 50): Promise<ConfigRevisionSummary[]> {
    return (this.#sql.history.all(limit) as unknown as Omit<RevisionRow, 'document'>[]).map((row) => ({
      revision: row.revision,
      sha256: row.sha256,
      createdAt: row.created_at,
      author: row.author,
      note: row.note,
    }));
  }

  onRevision(listener: (revision: number) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  async heartbeat(node: NodeRecord): Promise<void> {
    this.#sql.putNode.run(node.id, JSON.stringify(node), this.#clock());
  }

  async nodes(): Promise<{ now: number; nodes: NodeEntry[] }> {
    const rows = this.#sql.nodes.all() as unknown as { data: string; last_seen: number }[];
    return {
      now: this.#clock(),
      nodes: rows.map((row) => ({ ...(JSON.parse(row.data) as NodeRecord), lastSeen: row.last_seen })),
    };
  }

  async forgetNode(id: string): Promise<void> {
    this.#sql.forgetNode.run(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners = [];
    this.#db.close();
  }

  #latest(): number {
    return Number((this.#sql.latest.get() as { revision: number | null }).revision ?? 0);
  }

  #get(revision: number): ConfigRevision | undefined {
    const row = this.#sql.get.get(revision) as RevisionRow | undefined;
    if (row === undefined) return undefined;
    return {
      revision: row.revision,
      document: row.document,
      sha256: row.sha256,
      createdAt: row.created_at,
      author: row.author,
      note: row.note,
    };
  }

  #poll(): void {
    if (this.#closed) return;
    const latest = this.#latest();
    if (latest <= this.#seen) return;
    this.#seen = latest;
    for (const listener of this.#listeners) {
      try {
        listener(latest);
      } catch (err) {
        process.emitWarning(err instanceof Error ? err : String(err), 'PorticoStoreListenerError');
      }
    }
  }
}

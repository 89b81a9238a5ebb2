/**
 * What the nodes sharing a store keep about themselves: the configuration they all run (as numbered revisions)
 * and who they are (membership with heartbeats). Two implementations (embedded SQLite, Redis) pass one contract
 * suite (`fleet-store.contract.ts`).
 */

/** One stored configuration. Revisions only grow; a rollback stores an older document again as a new revision. */
export interface ConfigRevision {
  readonly revision: number;
  /** The document as applied (YAML or JSON), `${VAR}` references not replaced: each node interpolates its own. */
  readonly document: string;
  /** sha256 of `document`, hex. */
  readonly sha256: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Who stored it (the admin token's name, or `cli` for a direct write). */
  readonly author: string;
  /** What it was: `apply`, or `rollback to 3`. */
  readonly note: string;
}

/** A revision without its document, as history lists it. */
export type ConfigRevisionSummary = Omit<ConfigRevision, 'document'>;

/** A node's configuration state, as it reports it. */
export interface NodeConfigState {
  /** `file`: the node reads its own file; `store`: it follows the store's revisions. */
  readonly source: 'file' | 'store';
  /** The revision the node runs (store mode), or null (file mode, or none applied yet). */
  readonly revision: number | null;
  /** The last revision the node refused, with why; the node keeps running `revision`. */
  readonly failed?: { readonly revision: number; readonly errors: readonly string[] } | undefined;
}

/** One node as it registers itself. */
export interface NodeRecord {
  /** Stable across restarts of the same node (`--node-id`, default `hostname:adminPort`). */
  readonly id: string;
  /** The admin API's URL. */
  readonly admin: string;
  /** The client listeners (`host:port`). */
  readonly listen: readonly string[];
  /** Portico's version. */
  readonly version: string;
  readonly pid: number;
  readonly startedAt: number;
  /** How often the node heartbeats (ms): a node silent for three of these is gone. */
  readonly heartbeatMs: number;
  readonly config: NodeConfigState;
  /** Set by the node's last heartbeat when it shut down cleanly. */
  readonly stopped?: boolean | undefined;
}

/** A node as stored, with when it was last heard of (by the store's clock). */
export interface NodeEntry extends NodeRecord {
  readonly lastSeen: number;
}

/** The outcome of {@link FleetStore.addRevision}. */
export interface AddedRevision {
  readonly revision: ConfigRevision;
  /** False when the document equals the latest revision's (nothing stored, the latest returned). */
  readonly created: boolean;
}

export interface FleetStore {
  /** Stores `document` as the next revision and tells every node; an unchanged document stores nothing. */
  addRevision(document: string, author: string, note: string): Promise<AddedRevision>;
  /** One revision, or the latest when `revision` is omitted; undefined when there is none. */
  revision(revision?: number): Promise<ConfigRevision | undefined>;
  /** Stored revisions, newest first. */
  history(limit?: number): Promise<ConfigRevisionSummary[]>;
  /**
   * Called with the latest revision number after a revision was stored by any node, and after a reconnect (a
   * revision may have been missed meanwhile). Duplicates are possible: consumers compare with what they run.
   */
  onRevision(listener: (revision: number) => void): () => void;
  /** Creates or refreshes this node's entry; `lastSeen` becomes the store's now. */
  heartbeat(node: NodeRecord): Promise<void>;
  /** Every node entry, with the store's clock for judging `lastSeen`. */
  nodes(): Promise<{ readonly now: number; readonly nodes: readonly NodeEntry[] }>;
  /** Forgets a node entry. */
  forgetNode(id: string): Promise<void>;
  close(): Promise<void>;
}

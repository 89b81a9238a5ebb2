/**
 * Records of automatic certificates (ACME) shared by every node of a store: the account key, the certificates
 * and the challenge answers, plus the lease that lets one node order at a time. Values are opaque strings: the
 * ACME manager seals secrets (AES-256-GCM) before they reach the store, so neither implementation sees them in
 * the clear.
 */
export interface AcmeStore {
  /** The value of a record, or undefined (never written, removed, or its TTL ran out). */
  get(name: string): Promise<string | undefined>;
  /** Writes a record; with `ttlMs` it disappears after that long (challenge answers). Durable before it resolves. */
  put(name: string, value: string, ttlMs?: number): Promise<void>;
  /** Resolves true when there was a record to remove. */
  remove(name: string): Promise<boolean>;
  /**
   * True when `owner` now holds the lease `name` for `ttlMs` (newly taken, taken over after it lapsed, or
   * extended because `owner` held it already).
   */
  tryLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up early; false when `owner` did not hold it. */
  releaseLease(name: string, owner: string): Promise<boolean>;
}

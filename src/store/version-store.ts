/** Requests one node served for one service version and consumer on one day, since its last flush. */
export interface UsageDelta {
  readonly service: string;
  readonly version: string;
  readonly consumer: string;
  /** UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  readonly requests: number;
  /** Epoch ms of the latest of these requests. */
  readonly lastSeenAt: number;
}

/** Usage summed over every node, per version, consumer and day. */
export interface UsageRow {
  readonly version: string;
  readonly consumer: string;
  readonly day: string;
  readonly requests: number;
  readonly lastSeenAt: number;
}

/** The major version a consumer is pinned to (docs/versioning.md, "Pinned consumers"). */
export interface VersionPin {
  readonly consumer: string;
  /** A major version, such as `"1"`. */
  readonly version: string;
  /** Epoch ms of the pin (the first call, or the operator's move). */
  readonly pinnedAt: number;
}

/**
 * Version usage and consumer pins, shared by every node of the store. Usage is kept in daily buckets that
 * nodes add their counts to; a pin is written once (the first node wins) and moved only by an operator.
 */
export interface VersionStore {
  /** Adds every delta to its day's bucket (requests summed, last seen kept at the latest). */
  addUsage(deltas: readonly UsageDelta[]): Promise<void>;
  /** Every bucket of a service from `sinceDay` (inclusive) on. */
  usage(service: string, sinceDay: string): Promise<UsageRow[]>;
  getPin(service: string, consumer: string): Promise<VersionPin | undefined>;
  /** Pins the consumer unless it is pinned already; resolves with the pin in force either way. */
  pinIfAbsent(service: string, consumer: string, version: string, at: number): Promise<VersionPin>;
  /** Moves (or first pins) a consumer: the operator's call. */
  setPin(service: string, consumer: string, version: string, at: number): Promise<VersionPin>;
  /** Resolves true when there was a pin to remove. */
  removePin(service: string, consumer: string): Promise<boolean>;
  pins(service: string): Promise<VersionPin[]>;
}

/** Days of usage a store keeps; older buckets are dropped. */
export const USAGE_RETENTION_DAYS = 400;

/** The UTC day of an epoch ms, `YYYY-MM-DD`. */
export function dayOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

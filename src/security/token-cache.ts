/**
 * A bounded map of verified tokens to what they proved, each entry valid until its own expiry. When full, the
 * oldest insert is dropped (Map keeps insertion order), which is enough for a cache whose entries all expire.
 */
export interface TokenCache<T> {
  get(key: string, now: number): T | undefined;
  set(key: string, value: T, expiresAt: number): void;
  readonly size: number;
}

/** Creates a {@link TokenCache} holding at most `capacity` entries (0 disables it). */
export function createTokenCache<T>(capacity: number): TokenCache<T> {
  const entries = new Map<string, { value: T; expiresAt: number }>();
  return {
    get size() {
      return entries.size;
    },
    get(key, now) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (now < entry.expiresAt) return entry.value;
      entries.delete(key);
      return undefined;
    },
    set(key, value, expiresAt) {
      if (capacity === 0) return;
      if (entries.size >= capacity) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(key, { value, expiresAt });
    },
  };
}

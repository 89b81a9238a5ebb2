import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConsumerConfig } from '../config/schema.ts';
import { createIdentity, type Identity } from './identity.ts';

/** A configured consumer with its identity built once. */
export interface Consumer {
  readonly id: string;
  readonly identity: Identity;
}

/** The consumers of one config, looked up by API key. */
export interface ConsumerTable {
  /** The consumer owning this clear-text API key, or undefined. */
  byApiKey(key: string): Consumer | undefined;
}

/** SHA-256 of an API key as stored in config, without the `sha256:` prefix. */
function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Indexes consumers by the digest of their keys. A presented key is hashed, the digest looked up,
 * and the stored digest compared with `timingSafeEqual`: the lookup's timing can only reveal something about a
 * SHA-256 digest, which says nothing usable about any key.
 *
 * @example
 * const table = createConsumerTable([{ id: 'app', apiKeys: ['sha256:' + sha256hex('k')] }]);
 * table.byApiKey('k')?.id; // 'app'
 */
export function createConsumerTable(consumers: readonly ConsumerConfig[]): ConsumerTable {
  const keys = new Map<string, { digest: Buffer; consumer: Consumer }>();
  for (const config of consumers) {
    const consumer: Consumer = {
      id: config.id,
      identity: createIdentity(config.id, undefined, config.scopes ?? []),
    };
    for (const stored of config.apiKeys ?? []) {
      const hex = stored.slice('sha256:'.length).toLowerCase();
      keys.set(hex, { digest: Buffer.from(hex, 'hex'), consumer });
    }
  }
  return {
    byApiKey(key) {
      const digest = hashApiKey(key);
      const entry = keys.get(digest.toString('hex'));
      if (entry === undefined || !timingSafeEqual(entry.digest, digest)) return undefined;
      return entry.consumer;
    },
  };
}

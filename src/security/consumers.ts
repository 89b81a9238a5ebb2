import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
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
  /**
   * The consumer a verified client certificate identifies: by SHA-256 fingerprint first, then by subject DN,
   * then by any subject alternative name; undefined when none matches.
   */
  byCertificate(cert: X509Certificate): Consumer | undefined;
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
  const certificates = new Map<string, Consumer>();
  for (const config of consumers) {
    const consumer: Consumer = {
      id: config.id,
      identity: createIdentity(config.id, undefined, config.scopes ?? []),
    };
    for (const stored of config.apiKeys ?? []) {
      const hex = stored.slice('sha256:'.length).toLowerCase();
      keys.set(hex, { digest: Buffer.from(hex, 'hex'), consumer });
    }
    for (const entry of config.certificates ?? []) certificates.set(certificateKey(entry), consumer);
  }
  return {
    byApiKey(key) {
      const digest = hashApiKey(key);
      const entry = keys.get(digest.toString('hex'));
      if (entry === undefined || !timingSafeEqual(entry.digest, digest)) return undefined;
      return entry.consumer;
    },
    byCertificate(cert) {
      if (certificates.size === 0) return undefined;
      const byFingerprint = certificates.get(
        `sha256:${cert.fingerprint256.replaceAll(':', '').toLowerCase()}`,
      );
      if (byFingerprint !== undefined) return byFingerprint;
      const bySubject = certificates.get(`subject:${cert.subject.replaceAll('\n', ', ')}`);
      if (bySubject !== undefined) return bySubject;
      for (const name of (cert.subjectAltName ?? '').split(', ')) {
        const consumer = certificates.get(
          `san:${name.startsWith('IP Address:') ? `IP:${name.slice(11)}` : name}`,
        );
        if (consumer !== undefined) return consumer;
      }
      return undefined;
    },
  };
}

/** A configured certificate reference in the form lookups use: fingerprints as lower-case hex without colons. */
function certificateKey(entry: string): string {
  if (!entry.startsWith('sha256:')) return entry;
  return `sha256:${entry.slice(7).replaceAll(':', '').toLowerCase()}`;
}

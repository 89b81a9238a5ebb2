import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

/** Seals and opens the secrets of automatic certificates before they reach the store. */
export interface RecordSealer {
  /** `v1.` + base64url(IV ‖ tag ‖ ciphertext); the record's name is bound as associated data. */
  seal(name: string, plaintext: string): string;
  /** Throws when the value was sealed under another key or name, or was altered. */
  open(name: string, sealed: string): string;
}

const VERSION = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Fixed salt: the key must be derivable by every node from the shared secret alone. */
const SALT = 'portico acme records v1';

/**
 * AES-256-GCM (node:crypto) with a key derived from the configured secret by scrypt, so a passphrase-like secret
 * still gives a full-strength key. Each value gets a random 96-bit IV (NIST SP 800-38D: safe far beyond the
 * number of certificates a node ever stores). The record's name is the associated data: a value copied under
 * another name (the account key as a certificate, one domain's key as another's) does not open.
 *
 * @example
 * const sealer = createRecordSealer(process.env.PORTICO_ACME_KEY);
 * await store.acme.put(name, sealer.seal(name, pem));
 */
export function createRecordSealer(secret: string): RecordSealer {
  const key = scryptSync(secret, SALT, 32);
  return {
    seal(name, plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(name));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(name, sealed) {
      if (!sealed.startsWith(VERSION))
        throw new Error(`record ${name} is not sealed by this Portico version`);
      const raw = Buffer.from(sealed.slice(VERSION.length), 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES) throw new Error(`record ${name} is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new Error(`record ${name} does not open with tls.acme.encryptionKey (another key, or altered)`);
      }
    },
  };
}

import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AcmeStore } from '../../store/acme-store.ts';
import type { RecordSealer } from './sealed-records.ts';

/** The challenge kinds whose answers another process of the fleet may have to give. */
export type AcmeChallengeKind = 'http-01' | 'tls-alpn-01';

/**
 * Where an {@link AcmeManager} keeps its account key, its certificate, the answers of pending challenges and its
 * order lock: a folder (one machine) or the shared store (every node of the fleet).
 */
export interface AcmeStorage {
  /** Shown by `GET /v1/certificates` as the certificate's files. */
  readonly certLabel: string;
  readonly keyLabel: string;
  /** The stored certificate and key, whatever their dates; undefined when none (or it does not open). */
  readCertificate(): Promise<{ cert: string; key: string } | undefined>;
  writeCertificate(cert: string, key: string): Promise<void>;
  /** The account key, created with `create` and stored when there is none. */
  accountKey(create: () => Promise<Buffer>): Promise<Buffer>;
  /** True when this process may order now; held until `unlock`. */
  lock(): Promise<boolean>;
  unlock(): Promise<void>;
  putChallenge(kind: AcmeChallengeKind, id: string, keyAuthorization: string): Promise<void>;
  removeChallenge(kind: AcmeChallengeKind, id: string): Promise<void>;
  readChallenge(kind: AcmeChallengeKind, id: string): Promise<string | undefined>;
}

/** Challenge answers outlive no order: RFC 8555 orders are validated within minutes. */
const CHALLENGE_TTL_MS = 10 * 60_000;
/** The order lease lapses this long after its holder stopped renewing it (it died). */
const LEASE_TTL_MS = 60_000;
const LEASE_RENEW_MS = 20_000;

/**
 * The folder storage (no `encryptionKey`): files mode 0600 replaced by rename, a lock file naming the pid of the
 * process ordering, taken over when that process is gone. Shared only by processes of one machine.
 */
export function createFolderAcmeStorage(folder: string): AcmeStorage {
  const lockFile = join(folder, 'order.lock');
  const challengeFile = (kind: AcmeChallengeKind, id: string): string =>
    join(folder, 'challenges', kind === 'http-01' ? id : `alpn-${id}`);
  return {
    certLabel: join(folder, 'cert.pem'),
    keyLabel: join(folder, 'key.pem'),
    async readCertificate() {
      try {
        const cert = await readFile(join(folder, 'cert.pem'), 'utf8');
        const key = await readFile(join(folder, 'key.pem'), 'utf8');
        return { cert, key };
      } catch {
        return undefined;
      }
    },
    async writeCertificate(cert, key) {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      // Key before certificate, each replaced whole by rename: a crash never leaves a torn file.
      await writeAtomic(join(folder, 'key.pem'), key);
      await writeAtomic(join(folder, 'cert.pem'), cert);
    },
    async accountKey(create) {
      const file = join(folder, '..', 'account.key');
      try {
        return await readFile(file);
      } catch {
        const key = await create();
        await mkdir(join(folder, '..'), { recursive: true, mode: 0o700 });
        await writeAtomic(file, key.toString());
        return key;
      }
    },
    async lock() {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      try {
        await writeFile(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
        return true;
      } catch {
        const owner = Number(await readFile(lockFile, 'utf8').catch(() => ''));
        if (owner > 0 && owner !== process.pid && isAlive(owner)) return false;
        await writeFile(lockFile, String(process.pid), { mode: 0o600 });
        return true;
      }
    },
    async unlock() {
      await rm(lockFile, { force: true });
    },
    async putChallenge(kind, id, keyAuthorization) {
      await mkdir(join(folder, 'challenges'), { recursive: true, mode: 0o700 });
      await writeAtomic(challengeFile(kind, id), keyAuthorization);
    },
    async removeChallenge(kind, id) {
      await rm(challengeFile(kind, id), { force: true });
    },
    async readChallenge(kind, id) {
      return readFile(challengeFile(kind, id), 'utf8').catch(() => undefined);
    },
  };
}

/**
 * The store storage (`encryptionKey` set): every record sealed with AES-256-GCM before it is written, and an
 * order lease with a TTL that the holder renews while it orders, so a node that dies mid-order frees it within
 * a minute. `account` names the account (per directory), `name` the certificate (per directory and domains).
 */
export function createStoreAcmeStorage(
  store: AcmeStore,
  sealer: RecordSealer,
  account: string,
  name: string,
): AcmeStorage {
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  const certName = `cert:${name}`;
  const accountName = `account:${account}`;
  const leaseName = `order:${name}`;
  let renewal: NodeJS.Timeout | undefined;
  let last: { sealed: string; parsed: { cert: string; key: string } } | undefined;
  const read = async (record: string): Promise<string | undefined> => {
    const sealed = await store.get(record);
    return sealed === undefined ? undefined : sealer.open(record, sealed);
  };
  return {
    certLabel: `store:${certName}`,
    keyLabel: `store:${certName}`,
    async readCertificate() {
      // Polled every few seconds by every node: opened only when the sealed value changed.
      const sealed = await store.get(certName);
      if (sealed === undefined) return undefined;
      if (sealed === last?.sealed) return last.parsed;
      const parsed = JSON.parse(sealer.open(certName, sealed)) as { cert: string; key: string };
      new X509Certificate(parsed.cert);
      last = { sealed, parsed };
      return parsed;
    },
    async writeCertificate(cert, key) {
      await store.put(certName, sealer.seal(certName, JSON.stringify({ cert, key })));
    },
    async accountKey(create) {
      const stored = await read(accountName);
      if (stored !== undefined) return Buffer.from(stored);
      const key = await create();
      await store.put(accountName, sealer.seal(accountName, key.toString()));
      return key;
    },
    async lock() {
      if (!(await store.tryLease(leaseName, owner, LEASE_TTL_MS))) return false;
      clearInterval(renewal);
      renewal = setInterval(() => {
        store.tryLease(leaseName, owner, LEASE_TTL_MS).catch(() => undefined);
      }, LEASE_RENEW_MS);
      renewal.unref();
      return true;
    },
    async unlock() {
      clearInterval(renewal);
      renewal = undefined;
      await store.releaseLease(leaseName, owner);
    },
    async putChallenge(kind, id, keyAuthorization) {
      const record = `${kind}:${id}`;
      await store.put(record, sealer.seal(record, keyAuthorization), CHALLENGE_TTL_MS);
    },
    async removeChallenge(kind, id) {
      await store.remove(`${kind}:${id}`);
    },
    async readChallenge(kind, id) {
      return read(`${kind}:${id}`);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

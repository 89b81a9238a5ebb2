import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join, resolve } from 'node:path';
import type AcmeModule from 'acme-client';
import type { Client as AcmeClient } from 'acme-client';
import type { ListenerTlsConfig } from '../../config/schema.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ListenerCertificates } from './listener-certificates.ts';

type AcmeConfig = NonNullable<ListenerTlsConfig['acme']>;

/** Where an ACME certificate stands, for `GET /v1/certificates`. */
export interface AcmeStatus {
  readonly domains: readonly string[];
  readonly directory: string;
  /** When the next order (renewal, or retry after a failure) is due. */
  readonly nextOrderAt: string | undefined;
  readonly lastOrderAt: string | undefined;
  readonly lastError: string | undefined;
  readonly failures: number;
}

export interface AcmeManagerOptions {
  readonly listener: string;
  readonly config: AcmeConfig;
  readonly baseDir: string;
  readonly certificates: ListenerCertificates;
  readonly logger: Logger;
  /** First delay after a failed order; it doubles up to an hour (default 1 minute). */
  readonly retryBaseMs?: number | undefined;
}

/** Longest setTimeout delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_RETRY_MS = 3_600_000;
const MIN_RENEWAL_DELAY_MS = 1000;
const LOCKED_RECHECK_MS = 1000;
/** An ACME token (RFC 8555 §8.3: base64url); anything else never names a file. */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Obtains and renews one certificate for a TLS listener over ACME (RFC 8555), with the protocol handled by
 * acme-client. A certificate kept in `storage` from an earlier run is served at once; otherwise one is ordered
 * at start. Renewal is due at two thirds of the certificate's lifetime; a failed order is retried with a
 * doubling delay and counted. HTTP-01 tokens are answered by the plain listeners through `challenge()`.
 *
 * @example
 * const manager = new AcmeManager({ listener: '0.0.0.0:443', config, baseDir, certificates, logger });
 * manager.start();
 */
export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  readonly #folder: string;
  readonly #tokens = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #nextOrderAt: number | undefined;
  #lastOrderAt: number | undefined;
  #lastError: string | undefined;
  #failures = 0;
  #closed = false;
  #ordering: Promise<void> | undefined;
  #client: AcmeClient | undefined;
  #accountReady = false;
  /** The certificate currently served. */
  #served: string | undefined;
  /** Told after every order: whether it succeeded. */
  onOrder: ((ok: boolean) => void) | undefined;

  constructor(options: AcmeManagerOptions) {
    this.#options = options;
    const config = options.config;
    const key = createHash('sha256')
      .update(`${config.directory}\n${config.domains.join(',')}`)
      .digest('hex');
    this.#folder = join(resolve(options.baseDir, config.storage ?? './.portico/acme'), key.slice(0, 16));
  }

  /** The key authorization of an HTTP-01 token being validated, or undefined. */
  challenge(token: string): string | undefined {
    const answer = this.#tokens.get(token);
    if (answer !== undefined || !TOKEN.test(token)) return answer;
    // Another process of this node (workers: N) or sharing the folder may be the one ordering.
    try {
      return readFileSync(join(this.#folder, 'challenges', token), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Serves the stored certificate when it is still good, and schedules the next order. */
  start(): void {
    if (this.#adoptStored()) return;
    // A stored certificate due for renewal is still served while its successor is ordered.
    const stored = this.#readStored();
    if (stored !== undefined) {
      try {
        this.#serve(stored.cert, stored.key);
      } catch (err) {
        this.#options.logger.warn({ err, folder: this.#folder }, 'stored ACME certificate ignored');
      }
    }
    this.#schedule(0);
  }

  /**
   * Serves the stored certificate when it differs from the one served and is not yet due for renewal (another
   * process renewed it); true when it did.
   */
  #adoptStored(): boolean {
    const stored = this.#readStored();
    if (stored === undefined || stored.cert === this.#served || renewalAt(stored.cert) <= Date.now())
      return false;
    try {
      this.#serve(stored.cert, stored.key);
    } catch (err) {
      this.#options.logger.warn({ err, folder: this.#folder }, 'stored ACME certificate ignored');
      return false;
    }
    this.#scheduleRenewal(stored.cert);
    return true;
  }

  /**
   * One order at a time per storage folder, across the workers of a node: a lock file naming the owner's pid,
   * taken over when that process is gone.
   */
  #lock(): boolean {
    const file = join(this.#folder, 'order.lock');
    mkdirSync(this.#folder, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      const owner = Number(readFileSafe(file));
      if (owner > 0 && owner !== process.pid && isAlive(owner)) return false;
      writeFileSync(file, String(process.pid), { mode: 0o600 });
      return true;
    }
  }

  #unlock(): void {
    rmSync(join(this.#folder, 'order.lock'), { force: true });
  }

  status(): AcmeStatus {
    return {
      domains: this.#options.config.domains,
      directory: this.#options.config.directory,
      nextOrderAt: this.#nextOrderAt === undefined ? undefined : new Date(this.#nextOrderAt).toISOString(),
      lastOrderAt: this.#lastOrderAt === undefined ? undefined : new Date(this.#lastOrderAt).toISOString(),
      lastError: this.#lastError,
      failures: this.#failures,
    };
  }

  /** Orders a certificate now (also used by renewal); resolves when the order ended, well or not. */
  order(): Promise<void> {
    this.#ordering ??= this.#order().finally(() => (this.#ordering = undefined));
    return this.#ordering;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#ordering;
  }

  async #order(): Promise<void> {
    const { config, logger, listener } = this.#options;
    if (this.#adoptStored()) return;
    if (!this.#lock()) {
      // Another process orders: look for its certificate again shortly.
      this.#schedule(LOCKED_RECHECK_MS);
      return;
    }
    this.#lastOrderAt = Date.now();
    try {
      const acme = await loadAcme();
      this.#client ??= new acme.Client({
        directoryUrl: config.directory,
        accountKey: await this.#accountKey(),
      });
      const client = this.#client;
      const [key, csr] = await acme.crypto.createCsr(
        { altNames: [...config.domains] },
        await acme.crypto.createPrivateEcdsaKey(),
      );
      const cert = await withDirectoryCa(this.#directoryCa(), async () => {
        if (!this.#accountReady) {
          // Look the account key up first: re-registering an existing account without a change is refused
          // by some CAs (an "empty update"), which would fail every order after a restart.
          try {
            await client.createAccount({ onlyReturnExisting: true });
          } catch {
            await client.createAccount({
              termsOfServiceAgreed: true,
              ...(config.email === undefined ? {} : { contact: [`mailto:${config.email}`] }),
            });
          }
          this.#accountReady = true;
        }
        return client.auto({
          csr,
          ...(config.email === undefined ? {} : { email: config.email }),
          termsOfServiceAgreed: true,
          challengePriority: ['http-01'],
          // Portico answers the challenge itself; a self-check through public DNS would only add a failure mode.
          skipChallengeVerification: true,
          challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
            this.#tokens.set(challenge.token, keyAuthorization);
            mkdirSync(join(this.#folder, 'challenges'), { recursive: true, mode: 0o700 });
            writeAtomic(join(this.#folder, 'challenges', challenge.token), keyAuthorization);
          },
          challengeRemoveFn: async (_authz, challenge) => {
            this.#tokens.delete(challenge.token);
            rmSync(join(this.#folder, 'challenges', challenge.token), { force: true });
          },
        });
      });
      if (this.#closed) return;
      this.#store(cert, key.toString());
      this.#serve(cert, key.toString());
      this.#lastError = undefined;
      this.#failures = 0;
      logger.info({ listener, domains: config.domains }, 'ACME certificate obtained');
      this.onOrder?.(true);
      this.#scheduleRenewal(cert);
    } catch (err) {
      if (this.#closed) return;
      this.#failures++;
      this.#lastError = err instanceof Error ? err.message : String(err);
      const retryMs = Math.min(
        (this.#options.retryBaseMs ?? 60_000) * 2 ** (this.#failures - 1),
        MAX_RETRY_MS,
      );
      logger.error(
        { listener, domains: config.domains, error: this.#lastError, retryMs },
        'ACME order failed; the running certificate stays',
      );
      this.onOrder?.(false);
      this.#schedule(retryMs);
    } finally {
      this.#unlock();
    }
  }

  #serve(cert: string, key: string): void {
    this.#served = cert;
    this.#options.certificates.setAcmeCertificate(cert, key, {
      certFile: join(this.#folder, 'cert.pem'),
      keyFile: join(this.#folder, 'key.pem'),
    });
  }

  /** Renewal at two thirds of the lifetime (Let's Encrypt's advice for 90-day certificates). */
  #scheduleRenewal(cert: string): void {
    // The floor keeps a certificate issued already past two thirds of its life (a backdated start) from
    // turning renewal into a tight loop against the CA.
    this.#schedule(Math.max(MIN_RENEWAL_DELAY_MS, renewalAt(cert) - Date.now()));
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#nextOrderAt = Date.now() + delayMs;
    const step = Math.min(delayMs, MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      const left = (this.#nextOrderAt ?? 0) - Date.now();
      if (left > 0) this.#schedule(left);
      else void this.order();
    }, step);
    this.#timer.unref();
  }

  #readStored(): { cert: string; key: string } | undefined {
    try {
      const cert = readFileSync(join(this.#folder, 'cert.pem'), 'utf8');
      const key = readFileSync(join(this.#folder, 'key.pem'), 'utf8');
      const x509 = new X509Certificate(cert);
      if (Date.parse(x509.validTo) <= Date.now()) return undefined;
      return { cert, key };
    } catch {
      return undefined;
    }
  }

  #store(cert: string, key: string): void {
    mkdirSync(this.#folder, { recursive: true, mode: 0o700 });
    // Key before certificate, each replaced whole by rename: a crash never leaves a torn file.
    writeAtomic(join(this.#folder, 'key.pem'), key);
    writeAtomic(join(this.#folder, 'cert.pem'), cert);
  }

  async #accountKey(): Promise<Buffer> {
    const file = join(this.#folder, '..', 'account.key');
    try {
      return readFileSync(file);
    } catch {
      const key = await (await loadAcme()).crypto.createPrivateEcdsaKey();
      mkdirSync(join(this.#folder, '..'), { recursive: true, mode: 0o700 });
      writeAtomic(file, key.toString());
      return key;
    }
  }

  #directoryCa(): string | undefined {
    const file = this.#options.config.directoryCa;
    return file === undefined ? undefined : readFileSync(resolve(this.#options.baseDir, file), 'utf8');
  }
}

/** Two thirds into the certificate's lifetime (Let's Encrypt's advice for 90-day certificates). */
function renewalAt(cert: string): number {
  const x509 = new X509Certificate(cert);
  const from = Date.parse(x509.validFrom);
  const to = Date.parse(x509.validTo);
  return from + ((to - from) * 2) / 3;
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/**
 * acme-client sends its requests through one shared axios instance: a private directory CA is set on it for
 * the length of an order. Orders of several listeners with different CAs would race here; one CA per node is
 * the supported case.
 */
async function withDirectoryCa<T>(ca: string | undefined, run: () => Promise<T>): Promise<T> {
  if (ca === undefined) return run();
  const defaults = (await loadAcme()).axios.defaults as { httpsAgent?: unknown };
  const previous = defaults.httpsAgent;
  defaults.httpsAgent = new Agent({ ca });
  try {
    return await run();
  } finally {
    defaults.httpsAgent = previous;
  }
}

/**
 * acme-client with its axios, node-forge and x509 dependencies costs about 40 MB of RSS: loaded on the first
 * order, so a node without ACME never loads it.
 */
async function loadAcme(): Promise<typeof AcmeModule> {
  return (await import('acme-client')).default;
}

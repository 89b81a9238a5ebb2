import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type AcmeModule from 'acme-client';
import type { Client as AcmeClient } from 'acme-client';
import type { ListenerTlsConfig } from '../../config/schema.ts';
import type { Logger } from '../../observability/logger.ts';
import type { AcmeStorage } from './acme-storage.ts';
import type { ListenerCertificates } from './listener-certificates.ts';

type AcmeConfig = NonNullable<ListenerTlsConfig['acme']>;

/** Where an ACME certificate stands, for `GET /v1/certificates`. */
export interface AcmeStatus {
  readonly domains: readonly string[];
  readonly directory: string;
  readonly challenge: 'http-01' | 'tls-alpn-01';
  /** `store` (sealed, shared by the fleet) or `folder`. */
  readonly storage: 'store' | 'folder';
  /** When the next order (renewal, or retry after a failure) is due. */
  readonly nextOrderAt: string | undefined;
  readonly lastOrderAt: string | undefined;
  readonly lastError: string | undefined;
  readonly failures: number;
  /** Orders this process made (first issuance, renewals, after a revocation); other nodes' are not counted. */
  readonly orders: number;
  readonly lastRevokedAt: string | undefined;
}

export interface AcmeManagerOptions {
  readonly listener: string;
  readonly config: AcmeConfig;
  /** Names of the certificate ordered: `config.domains`, or one name asked for on demand. */
  readonly domains: readonly string[];
  readonly baseDir: string;
  readonly certificates: ListenerCertificates;
  readonly storage: AcmeStorage;
  readonly storageKind: 'store' | 'folder';
  readonly logger: Logger;
  /** First delay after a failed order; it doubles up to an hour (default 1 minute). */
  readonly retryBaseMs?: number | undefined;
  /** How often the stored certificate is read for one another process renewed (default 2 s). */
  readonly pollMs?: number | undefined;
}

/** Longest setTimeout delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_RETRY_MS = 3_600_000;
const MIN_RENEWAL_DELAY_MS = 1000;
const LOCKED_RECHECK_MS = 1000;
const DEFAULT_POLL_MS = 2000;
/** An ACME token (RFC 8555 §8.3: base64url); anything else is never looked up. */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
/** The ALPN protocol of TLS-ALPN-01 validations (RFC 8737 §6.2). */
export const ACME_TLS_ALPN = 'acme-tls/1';

/**
 * Obtains and renews one certificate for a TLS listener over ACME (RFC 8555), with the protocol handled by
 * acme-client. A certificate kept in the storage (a folder, or the shared store sealed with AES-256-GCM) is
 * served at once; otherwise one is ordered at start. One process orders at a time (the storage's lock or lease);
 * the others read the stored certificate every `pollMs` and serve it when it changed. Renewal is due at two
 * thirds of the certificate's lifetime; a failed order is retried with a doubling delay and counted. HTTP-01
 * answers go out through `challenge()` on the plain listeners, TLS-ALPN-01 certificates (RFC 8737) through
 * `alpnContext()` on the TLS listener.
 *
 * @example
 * const manager = new AcmeManager({ listener: '0.0.0.0:443', config, baseDir, certificates, storage, storageKind: 'store', logger });
 * await manager.start();
 */
export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  readonly #storage: AcmeStorage;
  readonly #tokens = new Map<string, string>();
  readonly #domains: ReadonlySet<string>;
  /** TLS-ALPN-01 certificates made for a key authorization, by domain. */
  readonly #alpn = new Map<string, { keyAuthorization: string; context: Promise<SecureContext> }>();
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #nextOrderAt: number | undefined;
  #lastOrderAt: number | undefined;
  #lastError: string | undefined;
  #lastRevokedAt: number | undefined;
  #failures = 0;
  #orders = 0;
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
    this.#storage = options.storage;
    this.#domains = new Set(options.domains.map((domain) => domain.toLowerCase()));
  }

  get challengeType(): 'http-01' | 'tls-alpn-01' {
    return this.#options.config.challenge ?? 'http-01';
  }

  /**
   * The key authorization of an HTTP-01 token being validated: at once when this process ordered it, else a
   * promise of the storage's answer (another process or node orders), else undefined (not a token).
   */
  challenge(token: string): string | Promise<string | undefined> | undefined {
    const answer = this.#tokens.get(token);
    if (answer !== undefined || !TOKEN.test(token)) return answer;
    return this.#storage.readChallenge('http-01', token).catch(() => undefined);
  }

  /**
   * The TLS-ALPN-01 certificate (RFC 8737) for a name under validation, or undefined when none is pending. The
   * key authorization comes from the storage, so any node the CA reaches answers; the certificate is made once
   * per key authorization.
   */
  async alpnContext(servername: string): Promise<SecureContext | undefined> {
    const name = servername.toLowerCase();
    if (!this.#domains.has(name)) return undefined;
    const keyAuthorization = await this.#storage.readChallenge('tls-alpn-01', name).catch(() => undefined);
    if (keyAuthorization === undefined) return undefined;
    let made = this.#alpn.get(name);
    if (made === undefined || made.keyAuthorization !== keyAuthorization) {
      const context = loadAcme()
        .then((acme) =>
          acme.crypto.createAlpnCertificate(
            { identifier: { type: 'dns', value: name } } as Parameters<
              typeof AcmeModule.crypto.createAlpnCertificate
            >[0],
            keyAuthorization,
          ),
        )
        .then(([key, cert]) => createSecureContext({ key, cert }));
      made = { keyAuthorization, context };
      this.#alpn.set(name, made);
    }
    return made.context;
  }

  /** Serves the stored certificate when it is still good, schedules the next order and starts following the storage. */
  async start(): Promise<void> {
    if (!(await this.#adoptStored())) {
      // A stored certificate due for renewal is still served while its successor is ordered.
      const stored = await this.#readStored();
      if (stored !== undefined) this.#tryServe(stored.cert, stored.key);
      this.#schedule(0);
    }
    this.#poll = setInterval(() => {
      if (this.#ordering === undefined) void this.#adoptStored();
    }, this.#options.pollMs ?? DEFAULT_POLL_MS);
    this.#poll.unref();
  }

  /**
   * Serves the stored certificate when it differs from the one served and is not yet due for renewal (another
   * process renewed it); true when it did.
   */
  async #adoptStored(): Promise<boolean> {
    const stored = await this.#readStored();
    if (stored === undefined || stored.cert === this.#served || renewalAt(stored.cert) <= Date.now())
      return false;
    if (!this.#tryServe(stored.cert, stored.key)) return false;
    this.#options.logger.info(
      { listener: this.#options.listener, domains: this.#options.domains },
      'ACME certificate taken from storage',
    );
    this.#scheduleRenewal(stored.cert);
    return true;
  }

  status(): AcmeStatus {
    return {
      domains: this.#options.domains,
      directory: this.#options.config.directory,
      challenge: this.challengeType,
      storage: this.#options.storageKind,
      nextOrderAt: isoOf(this.#nextOrderAt),
      lastOrderAt: isoOf(this.#lastOrderAt),
      lastError: this.#lastError,
      failures: this.#failures,
      orders: this.#orders,
      lastRevokedAt: isoOf(this.#lastRevokedAt),
    };
  }

  /** Orders a certificate now (also used by renewal); resolves when the order ended, well or not. */
  order(): Promise<void> {
    this.#ordering ??= this.#order(false).finally(() => (this.#ordering = undefined));
    return this.#ordering;
  }

  /**
   * Revokes the certificate served (RFC 8555 §7.6, signed with the account key) and starts ordering a new one;
   * resolves once revoked, with the new order running (`order()` resolves when it ended). Throws when there is
   * nothing to revoke or the CA refused.
   */
  async revoke(): Promise<void> {
    await this.#ordering;
    const served = this.#served;
    if (served === undefined) throw new Error('no ACME certificate is served yet');
    const client = await this.#clientReady();
    await withDirectoryCa(this.#directoryCa(), () => client.revokeCertificate(served));
    this.#lastRevokedAt = Date.now();
    this.#options.logger.warn(
      { listener: this.#options.listener, domains: this.#options.domains },
      'ACME certificate revoked; ordering a new one',
    );
    this.#ordering ??= this.#order(true).finally(() => (this.#ordering = undefined));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#poll);
    await this.#ordering;
  }

  async #clientReady(): Promise<AcmeClient> {
    const { config } = this.#options;
    const acme = await loadAcme();
    this.#client ??= new acme.Client({
      directoryUrl: config.directory,
      accountKey: await this.#storage.accountKey(() => acme.crypto.createPrivateEcdsaKey()),
    });
    const client = this.#client;
    if (!this.#accountReady)
      await withDirectoryCa(this.#directoryCa(), async () => {
        // Look the account key up first: re-registering an existing account without a change is refused by
        // some CAs (an "empty update"), which would fail every order after a restart.
        try {
          await client.createAccount({ onlyReturnExisting: true });
        } catch {
          await client.createAccount({
            termsOfServiceAgreed: true,
            ...(config.email === undefined ? {} : { contact: [`mailto:${config.email}`] }),
          });
        }
        this.#accountReady = true;
      });
    return client;
  }

  /** `replace`: after a revocation, order even when the stored certificate is still good. */
  async #order(replace: boolean): Promise<void> {
    const { config, logger, listener } = this.#options;
    if (!replace && (await this.#adoptStored())) return;
    let locked = false;
    try {
      locked = await this.#storage.lock();
    } catch (err) {
      logger.warn({ err, listener }, 'ACME order lock could not be taken; trying again');
    }
    if (!locked) {
      // Another process orders: look for its certificate again shortly.
      this.#schedule(LOCKED_RECHECK_MS);
      return;
    }
    try {
      // Taken while another process held the lock: its certificate may have just arrived.
      if (!replace && (await this.#adoptStored())) return;
      this.#lastOrderAt = Date.now();
      this.#orders++;
      const client = await this.#clientReady();
      const acme = await loadAcme();
      const [key, csr] = await acme.crypto.createCsr(
        { altNames: [...this.#options.domains] },
        await acme.crypto.createPrivateEcdsaKey(),
      );
      const type = this.challengeType;
      const cert = await withDirectoryCa(this.#directoryCa(), () =>
        client.auto({
          csr,
          ...(config.email === undefined ? {} : { email: config.email }),
          termsOfServiceAgreed: true,
          challengePriority: [type],
          // Portico answers the challenge itself; a self-check through public DNS would only add a failure mode.
          skipChallengeVerification: true,
          challengeCreateFn: async (authz, challenge, keyAuthorization) => {
            if (type === 'http-01') {
              this.#tokens.set(challenge.token, keyAuthorization);
              await this.#storage.putChallenge('http-01', challenge.token, keyAuthorization);
            } else {
              await this.#storage.putChallenge('tls-alpn-01', authz.identifier.value, keyAuthorization);
            }
          },
          challengeRemoveFn: async (authz, challenge) => {
            if (type === 'http-01') {
              this.#tokens.delete(challenge.token);
              await this.#storage.removeChallenge('http-01', challenge.token);
            } else {
              this.#alpn.delete(authz.identifier.value);
              await this.#storage.removeChallenge('tls-alpn-01', authz.identifier.value);
            }
          },
        }),
      );
      if (this.#closed) return;
      await this.#storage.writeCertificate(cert, key.toString());
      this.#serve(cert, key.toString());
      this.#lastError = undefined;
      this.#failures = 0;
      logger.info({ listener, domains: this.#options.domains }, 'ACME certificate obtained');
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
        { listener, domains: this.#options.domains, error: this.#lastError, retryMs },
        'ACME order failed; the running certificate stays',
      );
      this.onOrder?.(false);
      this.#schedule(retryMs);
    } finally {
      await this.#storage
        .unlock()
        .catch((err: unknown) => logger.warn({ err, listener }, 'ACME order lock not released'));
    }
  }

  #tryServe(cert: string, key: string): boolean {
    try {
      this.#serve(cert, key);
      return true;
    } catch (err) {
      this.#options.logger.warn({ err, listener: this.#options.listener }, 'stored ACME certificate ignored');
      return false;
    }
  }

  #serve(cert: string, key: string): void {
    this.#options.certificates.setAcmeCertificate(cert, key, {
      certFile: this.#storage.certLabel,
      keyFile: this.#storage.keyLabel,
    });
    this.#served = cert;
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

  /** The stored certificate when it has not expired; storage errors (a store away, a wrong key) are logged. */
  async #readStored(): Promise<{ cert: string; key: string } | undefined> {
    try {
      const stored = await this.#storage.readCertificate();
      if (stored === undefined) return undefined;
      if (Date.parse(new X509Certificate(stored.cert).validTo) <= Date.now()) return undefined;
      return stored;
    } catch (err) {
      this.#options.logger.warn(
        { err, listener: this.#options.listener },
        'stored ACME certificate could not be read',
      );
      return undefined;
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

function isoOf(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
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

/** acme-client (and axios under it) is loaded on first use: a node without `tls.acme` never pays for it. */
async function loadAcme(): Promise<typeof AcmeModule> {
  return (await import('acme-client')).default;
}

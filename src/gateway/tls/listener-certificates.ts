import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ListenerTlsConfig } from '../../config/schema.ts';
import type { Logger } from '../../observability/logger.ts';

/** What one loaded certificate is, for the admin API and logs. */
export interface CertificateInfo {
  /** Names the certificate is chosen for by SNI. */
  readonly names: readonly string[];
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly fingerprint256: string;
  /** Where the certificate comes from: files of `certificates`, or obtained through ACME (`keyFile` then names its storage). */
  readonly source: 'file' | 'acme';
  readonly certFile: string;
  readonly keyFile: string;
}

/** The state of a listener's certificates: what is served, and why the last reload failed if it did. */
export interface CertificateStatus {
  readonly listener: string;
  readonly certificates: readonly CertificateInfo[];
  readonly loadedAt: string;
  /** Set when the files changed into something that does not load; the previous certificates stay. */
  readonly lastError: string | undefined;
  readonly lastErrorAt: string | undefined;
}

interface CertificateSet {
  readonly exact: ReadonlyMap<string, SecureContext>;
  /** Keyed by the parent domain of `*.parent`. */
  readonly wildcard: ReadonlyMap<string, SecureContext>;
  readonly fallback: SecureContext;
  /** Options of the fallback, for `setSecureContext` (clients without SNI). */
  readonly fallbackOptions: SecureContextOptions;
  readonly infos: readonly CertificateInfo[];
}

/** Settled time after the last file event before reloading: a rotation writes cert and key one after the other. */
const SETTLE_MS = 150;

/**
 * The certificates of one TLS listener, chosen by SNI (exact names first, then `*.parent` wildcards, then the
 * first certificate) from a table that a reload swaps in one step. Open connections keep the context they
 * were accepted with; new handshakes get the new table. A set of files that does not load (unreadable, not
 * PEM, key not matching) leaves the running table in place and is reported through `onReload`.
 *
 * @example
 * const certs = new ListenerCertificates('0.0.0.0:8443', tlsConfig, '/etc/portico', logger);
 * const server = https.createServer({ ...certs.serverOptions() }, handler);
 * certs.attach(server); // setSecureContext on reload, for clients without SNI
 */
export class ListenerCertificates {
  readonly listener: string;
  readonly #config: ListenerTlsConfig;
  readonly #baseDir: string;
  readonly #logger: Logger;
  #set: CertificateSet;
  #loadedAt = new Date().toISOString();
  #lastError: string | undefined;
  #lastErrorAt: string | undefined;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #servers: { setSecureContext(options: SecureContextOptions): void }[] = [];
  #onReload: ((ok: boolean) => void) | undefined;
  /** The certificate obtained through ACME, served after the file certificates. */
  readonly #acme = new Map<string, { cert: string; key: string; certFile: string; keyFile: string }>();

  /** Loads every file once; throws when one does not load (start-up refuses a broken listener). */
  constructor(listener: string, config: ListenerTlsConfig, baseDir: string, logger: Logger) {
    this.listener = listener;
    this.#config = config;
    this.#baseDir = baseDir;
    this.#logger = logger;
    this.#set = this.#load();
  }

  /** TLS options of the https server: the fallback certificate, SNI, ALPN and the listener's policy. */
  serverOptions(): SecureContextOptions & {
    SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
    ALPNProtocols: string[];
    requestCert: boolean;
    rejectUnauthorized: boolean;
  } {
    const clientAuth = this.#config.clientAuth;
    const tlsAlpnChallenges = this.#config.acme?.challenge === 'tls-alpn-01';
    return {
      ...this.#set.fallbackOptions,
      SNICallback: tlsAlpnChallenges
        ? this.#sniWithChallenges()
        : (name, cb) => cb(null, this.contextFor(name)),
      // http/1.1 only for now; h2 joins this list when the HTTP/2 listener lands. acme-tls/1 is only ever offered
      // by a CA validating TLS-ALPN-01 (RFC 8737 §6.2), so listing it changes nothing for other clients.
      ALPNProtocols: tlsAlpnChallenges ? ['http/1.1', 'acme-tls/1'] : ['http/1.1'],
      requestCert: clientAuth !== undefined,
      rejectUnauthorized: clientAuth !== undefined && (clientAuth.mode ?? 'optional') === 'required',
    };
  }

  /**
   * Answers TLS-ALPN-01 validations: a handshake that negotiated `acme-tls/1` gets the challenge certificate of
   * its server name (`alpnChallenge`), every other one the usual certificate. OpenSSL selects ALPN before it
   * asks for the certificate, so the protocol is known here; Node exposes it on the socket's handle only (no
   * public API gives the offered protocols to SNICallback), which test/gateway/acme-shared.test.ts guards.
   */
  #sniWithChallenges(): (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
    const contextFor = (name: string): SecureContext => this.contextFor(name);
    const challengeOf = (name: string): Promise<SecureContext | undefined> | undefined =>
      this.alpnChallenge?.(name);
    // A function, not an arrow: Node calls it with the TLS socket as `this`.
    return function sniWithAcmeChallenges(this: unknown, name, cb) {
      const handle = (this as { _handle?: { getALPNNegotiatedProtocol?: () => unknown } } | undefined)
        ?._handle;
      const pending = handle?.getALPNNegotiatedProtocol?.() === 'acme-tls/1' ? challengeOf(name) : undefined;
      if (pending === undefined) {
        cb(null, contextFor(name));
        return;
      }
      pending.then(
        (context) => cb(null, context ?? contextFor(name)),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    };
  }

  /** Told of every SNI name no certificate covers (set when `tls.acme.onDemand` is configured). */
  onUnknownName: ((name: string) => void) | undefined;

  /** Set by the listener's ACME manager when it answers TLS-ALPN-01. */
  alpnChallenge: ((servername: string) => Promise<SecureContext | undefined>) | undefined;

  /** The context for a server name sent by SNI. */
  contextFor(name: string): SecureContext {
    const set = this.#set;
    const lower = name.toLowerCase();
    const exact = set.exact.get(lower);
    if (exact !== undefined) return exact;
    const dot = lower.indexOf('.');
    if (dot > 0) {
      const wildcard = set.wildcard.get(lower.slice(dot + 1));
      if (wildcard !== undefined) return wildcard;
    }
    // A name no certificate covers: on-demand ACME may order one (it checks its allow-list).
    this.onUnknownName?.(lower);
    return set.fallback;
  }

  /** Servers whose fallback certificate follows reloads. */
  attach(server: { setSecureContext(options: SecureContextOptions): void }): void {
    this.#servers.push(server);
  }

  status(): CertificateStatus {
    return {
      listener: this.listener,
      certificates: this.#set.infos,
      loadedAt: this.#loadedAt,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
    };
  }

  /**
   * Serves a certificate obtained through ACME (in addition to the file ones, or as the only one). Throws when it
   * does not load; the running certificates then stay.
   */
  setAcmeCertificate(cert: string, key: string, storedAt: { certFile: string; keyFile: string }): void {
    // Keyed by where it is stored: one entry per ACME certificate (the listener's, and each one on demand).
    const previous = this.#acme.get(storedAt.certFile);
    this.#acme.set(storedAt.certFile, { cert, key, ...storedAt });
    try {
      this.#set = this.#load();
    } catch (err) {
      if (previous === undefined) this.#acme.delete(storedAt.certFile);
      else this.#acme.set(storedAt.certFile, previous);
      throw err;
    }
    for (const server of this.#servers) server.setSecureContext(this.#set.fallbackOptions);
    this.#loadedAt = new Date().toISOString();
  }

  /** Reads the files again; on failure the running certificates stay and the error is kept for `status()`. */
  reload(): boolean {
    let next: CertificateSet;
    try {
      next = this.#load();
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      this.#lastErrorAt = new Date().toISOString();
      this.#logger.error(
        { listener: this.listener, error: this.#lastError },
        'certificate reload rejected; the running certificates stay',
      );
      this.#onReload?.(false);
      return false;
    }
    this.#set = next;
    for (const server of this.#servers) server.setSecureContext(next.fallbackOptions);
    this.#loadedAt = new Date().toISOString();
    this.#lastError = undefined;
    this.#lastErrorAt = undefined;
    this.#logger.info(
      { listener: this.listener, names: next.infos.flatMap((info) => info.names) },
      'certificates reloaded',
    );
    this.#onReload?.(true);
    return true;
  }

  /**
   * Reloads once a burst of changes to the certificate files settled. Folders are watched, not files:
   * rotations replace files by rename (and Kubernetes swaps a `..data` symlink), which ends a watch on a file.
   */
  watch(onReload?: (ok: boolean) => void): void {
    this.#onReload = onReload;
    const byFolder = new Map<string, Set<string>>();
    for (const file of this.#files()) {
      const folder = dirname(file);
      let names = byFolder.get(folder);
      if (names === undefined) byFolder.set(folder, (names = new Set()));
      names.add(basename(file));
    }
    for (const [folder, names] of byFolder) {
      const watcher = watch(folder, (_event, changed) => {
        if (changed !== null && !names.has(changed) && !changed.startsWith('..')) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.reload(), SETTLE_MS);
      });
      watcher.on('error', (err) => this.#logger.warn({ err, folder }, 'certificate watch failed'));
      this.#watchers.push(watcher);
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }

  #files(): string[] {
    const files: string[] = [];
    for (const c of this.#config.certificates ?? []) {
      files.push(this.#path(c.cert), this.#path(c.key));
      if (c.chain !== undefined) files.push(this.#path(c.chain));
    }
    if (this.#config.clientAuth !== undefined) files.push(this.#path(this.#config.clientAuth.ca));
    return files;
  }

  #path(file: string): string {
    return resolve(this.#baseDir, file);
  }

  #load(): CertificateSet {
    const config = this.#config;
    const ca =
      config.clientAuth === undefined ? undefined : readPem(this.#path(config.clientAuth.ca), 'CA bundle');
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    const infos: CertificateInfo[] = [];
    let fallback: { context: SecureContext; options: SecureContextOptions } | undefined;
    const sources: { cert: string; key: string; certFile: string; keyFile: string; names?: string[] }[] = [];
    for (const entry of config.certificates ?? []) {
      const certFile = this.#path(entry.cert);
      const keyFile = this.#path(entry.key);
      let cert = readPem(certFile, 'certificate');
      if (entry.chain !== undefined) cert = `${cert.trimEnd()}\n${readPem(this.#path(entry.chain), 'chain')}`;
      sources.push({
        cert,
        key: readPem(keyFile, 'key'),
        certFile,
        keyFile,
        ...(entry.names ? { names: entry.names } : {}),
      });
    }
    const acme = new Set(this.#acme.values());
    sources.push(...acme);
    for (const entry of sources) {
      const { cert, key, certFile, keyFile } = entry;
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(cert);
      } catch (err) {
        throw new Error(`${certFile}: not a PEM certificate (${(err as Error).message})`, { cause: err });
      }
      if (!leaf.checkPrivateKey(privateKeyOf(key, keyFile)))
        throw new Error(`${keyFile}: the key does not match the certificate ${certFile}`);
      const options: SecureContextOptions = {
        cert,
        key,
        minVersion: config.minVersion ?? 'TLSv1.2',
        ...(config.ciphers === undefined ? {} : { ciphers: config.ciphers }),
        ...(ca === undefined ? {} : { ca }),
      };
      let context: SecureContext;
      try {
        context = createSecureContext(options);
      } catch (err) {
        throw new Error(`${certFile}: ${(err as Error).message}`, { cause: err });
      }
      fallback ??= { context, options };
      const names = entry.names ?? namesOf(leaf);
      for (const name of names) {
        const lower = name.toLowerCase();
        if (lower.startsWith('*.')) {
          if (!wildcard.has(lower.slice(2))) wildcard.set(lower.slice(2), context);
        } else if (!exact.has(lower)) exact.set(lower, context);
      }
      infos.push({
        names,
        subject: leaf.subject.replaceAll('\n', ', '),
        issuer: leaf.issuer.replaceAll('\n', ', '),
        notAfter: new Date(leaf.validTo).toISOString(),
        fingerprint256: leaf.fingerprint256,
        certFile,
        keyFile,
        source: acme.has(entry as never) ? 'acme' : 'file',
      });
    }
    // An ACME listener before its first certificate: handshakes fail until one is obtained.
    const options: SecureContextOptions = {
      minVersion: config.minVersion ?? 'TLSv1.2',
      ...(ca === undefined ? {} : { ca }),
    };
    const first = fallback ?? { context: createSecureContext(options), options };
    return { exact, wildcard, fallback: first.context, fallbackOptions: first.options, infos };
  }
}

function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: err,
    });
  }
  if (!text.includes('-----BEGIN ')) throw new Error(`${what} ${file} is not PEM`);
  return text;
}

function privateKeyOf(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${file}: not a PEM private key (${(err as Error).message})`, { cause: err });
  }
}

/** DNS names of the certificate's subject alternative names, or its common name when it has none. */
export function namesOf(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) names.push(part.slice(4));
  }
  if (names.length === 0) {
    const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
    if (cn !== undefined) names.push(cn);
  }
  return names;
}

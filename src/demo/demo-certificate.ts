import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A certificate and key written as PEM files. */
export interface DemoCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const VALID_MS = 30 * 86_400_000;

/**
 * Makes a self-signed certificate for `localhost` and 127.0.0.1 (EC P-256, 30 days) in `dir`, for the demo's
 * HTTPS listener; clients trust it with `curl --cacert`. Built with @peculiar/x509 over WebCrypto: node:crypto
 * reads certificates but cannot make one, and the demo must not need the openssl CLI.
 *
 * @example
 * const { certFile, keyFile } = await createDemoCertificate(dir);
 */
export async function createDemoCertificate(dir: string): Promise<DemoCertificate> {
  const x509 = await import('@peculiar/x509');
  // Node's WebCrypto is the standard one; only its TypeScript type differs from the DOM's.
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // RFC 5280 §4.1.2.2: positive, at most 20 octets.
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    name: 'CN=Portico demo',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + VALID_MS),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new x509.BasicConstraintsExtension(false),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  });
  const certFile = join(dir, 'demo.crt');
  const keyFile = join(dir, 'demo.key');
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  await writeFile(certFile, cert.toString('pem'));
  return { certFile, keyFile };
}

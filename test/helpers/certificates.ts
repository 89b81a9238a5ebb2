import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files on disk, and their text for clients that take PEM directly. */
export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCa extends IssuedCertificate {
  /**
   * Issues a leaf signed by this CA with the given DNS names (the first is also the CN). `client: true` makes a
   * client certificate; `san` adds other subject alternative names (`email:…`).
   */
  issue(
    name: string,
    options?: { names?: string[]; client?: boolean; san?: string[]; subject?: string },
  ): IssuedCertificate;
}

/** A folder of test certificates, made with the `openssl` CLI; `remove()` in the test's teardown. */
export interface CertificateFolder {
  readonly dir: string;
  /** A new self-signed CA (EC P-256). */
  createCa(name: string): TestCa;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createCertificateFolder(): CertificateFolder {
  const dir = mkdtempSync(join(tmpdir(), 'portico-certs-'));
  let serial = 1;
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    dir,
    createCa(name) {
      openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.crt`,
          '-days',
          '2',
          '-subj',
          `/CN=${name}`,
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        dir,
      );
      const ca: TestCa = {
        certFile: join(dir, `${name}.crt`),
        keyFile: join(dir, `${name}.key`),
        cert: read(`${name}.crt`),
        key: read(`${name}.key`),
        issue(leaf, options = {}) {
          const names = options.names ?? [leaf];
          const san = [...names.map((n) => `DNS:${n}`), ...(options.san ?? [])];
          const ext = [
            'basicConstraints=CA:FALSE',
            `extendedKeyUsage=${options.client === true ? 'clientAuth' : 'serverAuth'}`,
            ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
          ].join('\n');
          writeFileSync(join(dir, `${leaf}.ext`), ext);
          openssl(
            [
              'req',
              '-newkey',
              'ec',
              '-pkeyopt',
              'ec_paramgen_curve:P-256',
              '-nodes',
              '-keyout',
              `${leaf}.key`,
              '-out',
              `${leaf}.csr`,
              '-subj',
              options.subject ?? `/CN=${names[0] ?? leaf}`,
            ],
            dir,
          );
          openssl(
            [
              'x509',
              '-req',
              '-in',
              `${leaf}.csr`,
              '-CA',
              `${name}.crt`,
              '-CAkey',
              `${name}.key`,
              '-out',
              `${leaf}.crt`,
              '-extfile',
              `${leaf}.ext`,
              '-days',
              '2',
              '-set_serial',
              String(serial++),
            ],
            dir,
          );
          return {
            certFile: join(dir, `${leaf}.crt`),
            keyFile: join(dir, `${leaf}.key`),
            cert: read(`${leaf}.crt`),
            key: read(`${leaf}.key`),
          };
        },
      };
      return ca;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

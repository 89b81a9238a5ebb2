import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createCertificateFolder } from './certificates.ts';
import { eventually } from './eventually.ts';
import { freePort } from './portico-process.ts';

/** A running pebble ACME test server (Debian's `pebble` package) with its mock DNS resolving every name to 127.0.0.1. */
export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** PEM file of the CA of pebble's own HTTPS (for `directoryCa`). */
  readonly directoryCaFile: string;
  /** The root that signs the certificates pebble issues (new at every pebble start). */
  root(): Promise<string>;
  /** Everything pebble logged. */
  output(): string;
  stop(): Promise<void>;
}

/** Whether the pebble binaries are installed (`apt-get install pebble`). */
export function pebbleInstalled(): boolean {
  return spawnSync('pebble', ['-help'], { stdio: 'ignore' }).error === undefined;
}

/**
 * Starts pebble-challtestsrv (DNS only) and pebble on free ports. HTTP-01 validations connect to
 * `127.0.0.1:httpPort`, where the test puts Portico's plain listener.
 */
export async function startPebble(
  httpPort: number,
  options: { validitySeconds?: number; /** Where TLS-ALPN-01 validations connect. */ tlsPort?: number } = {},
): Promise<Pebble> {
  const certs = createCertificateFolder();
  const ca = certs.createCa('pebble-wfe-ca');
  const wfe = ca.issue('pebble-wfe', { names: ['localhost'], san: ['IP:127.0.0.1'] });
  const [port, managementPort, dnsPort, dnsManagementPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const configFile = join(certs.dir, 'pebble.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: wfe.certFile,
        privateKey: wfe.keyFile,
        httpPort,
        tlsPort: options.tlsPort ?? (await freePort()),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds === undefined
          ? {}
          : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  let log = '';
  const children: ChildProcess[] = [];
  const run = (command: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    children.push(child);
  };
  run('pebble-challtestsrv', [
    '-defaultIPv4',
    '127.0.0.1',
    '-defaultIPv6',
    '',
    '-dns01',
    `127.0.0.1:${dnsPort}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `127.0.0.1:${dnsManagementPort}`,
  ]);
  // No sleep before validations, no nonce rejections: the tests stay quick and deterministic.
  run('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
  });
  const agent = new Agent({ connect: { ca: ca.cert } });
  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
    await agent.close();
    certs.remove();
  };
  const directory = `https://127.0.0.1:${port}/dir`;
  try {
    await eventually(async () => {
      const res = await request(directory, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`pebble directory ${res.statusCode}`);
    }, 10_000);
  } catch (err) {
    await stop();
    throw new Error(`pebble did not start:\n${log}`, { cause: err });
  }
  return {
    directory,
    directoryCaFile: ca.certFile,
    async root() {
      const res = await request(`https://127.0.0.1:${managementPort}/roots/0`, { dispatcher: agent });
      return res.body.text();
    },
    output: () => log,
    stop,
  };
}

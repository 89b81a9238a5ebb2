import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { pebbleInstalled, startPebble, type Pebble } from '../helpers/pebble.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const domain = 'shop.acme.test';

/** The SHA-256 fingerprint of the certificate served for `domain`, verified against `root`. */
async function servedFingerprint(port: number, root: string): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, servername: domain, ca: root });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

async function certificatesOf(portico: PorticoProcess) {
  const res = await request(`${portico.adminUrl}/v1/certificates`);
  return (await res.body.json()) as {
    listeners: {
      acme?: { lastError?: string; failures: number; lastOrderAt?: string; nextOrderAt?: string };
    }[];
  };
}

describe(
  'ACME certificates (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    let pebble: Pebble;
    let upstream: TestUpstream;
    let httpPort: number;
    let storage: string;
    const running: PorticoProcess[] = [];

    const start = async (plainPort: number, tlsPort: number) => {
      const portico = await startPortico(
        ({ adminPort }) => `
listen:
  - { address: 127.0.0.1:${plainPort}, redirectToHttps: true }
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { directory: "${pebble.directory}", directoryCa: ${pebble.directoryCaFile}, email: ops@example.test, domains: [${domain}], storage: ${storage} }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
services:
  echo: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: echo, match: { path: /** }, service: echo }
`,
      );
      running.push(portico);
      return portico;
    };

    before(async () => {
      httpPort = await freePort();
      pebble = await startPebble(httpPort);
      upstream = await startUpstream('acme-echo');
      storage = mkdtempSync(join(tmpdir(), 'portico-acme-'));
    });

    after(async () => {
      for (const portico of running) await portico.stop();
      await upstream?.close();
      await pebble?.stop();
      if (storage !== undefined) rmSync(storage, { recursive: true, force: true });
    });

    test('a failed HTTP-01 challenge is reported, counted and retried later', async () => {
      // Pebble validates on httpPort, where nothing listens: the challenge cannot be answered.
      const portico = await start(await freePort(), await freePort());
      await eventually(async () => {
        const acme = (await certificatesOf(portico)).listeners[0]?.acme;
        assert.ok(acme !== undefined && acme.failures >= 1, JSON.stringify(acme));
        assert.match(String(acme.lastError), /.+/);
        assert.ok(Date.parse(String(acme.nextOrderAt)) > Date.now());
      }, 20_000);
      const metrics = await (await request(`${portico.adminUrl}/metrics`)).body.text();
      assert.match(metrics, /portico_tls_acme_orders_total\{[^}]*result="failed"[^}]*\} [1-9]/);
      await portico.stop();
    });

    let issued: string;
    let tlsPort: number;

    test('orders a certificate at start, answering HTTP-01 on the plain listener, and serves it', async () => {
      tlsPort = await freePort();
      const portico = await start(httpPort, tlsPort);
      const root = await pebble.root();
      issued = await eventually(() => servedFingerprint(tlsPort, root), 20_000);
      const agent = new Agent({ connect: { ca: root, servername: domain } });
      const res = await request(`https://127.0.0.1:${tlsPort}/hello`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      await agent.close();
      const acme = (await certificatesOf(portico)).listeners[0]?.acme;
      assert.equal(acme?.lastError, undefined);
      // Renewal is scheduled at two thirds of the lifetime: far in the future, not now.
      assert.ok(Date.parse(String(acme?.nextOrderAt)) > Date.now() + 86_400_000);
      // Other requests on the plain listener are still redirected.
      const plain = await request(`http://127.0.0.1:${httpPort}/x`, { headers: { host: domain } });
      assert.equal(plain.statusCode, 308);
      await plain.body.dump();
      await portico.stop();
    });

    test('a restart serves the stored certificate without a new order', async () => {
      assert.ok(issued !== undefined);
      const portico = await start(httpPort, tlsPort);
      const root = await pebble.root();
      assert.equal(await servedFingerprint(tlsPort, root), issued);
      const acme = (await certificatesOf(portico)).listeners[0]?.acme;
      assert.equal(acme?.lastOrderAt, undefined);
      await portico.stop();
    });
  },
);

describe(
  'ACME renewal (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    let pebble: Pebble;
    let portico: PorticoProcess;
    let storage: string;
    let tlsPort: number;

    before(async () => {
      const httpPort = await freePort();
      // Certificates that live 12 s: renewal is due 8 s after issuance.
      pebble = await startPebble(httpPort, { validitySeconds: 12 });
      storage = mkdtempSync(join(tmpdir(), 'portico-acme-'));
      tlsPort = await freePort();
      portico = await startPortico(
        ({ adminPort }) => `
listen:
  - { address: 127.0.0.1:${httpPort} }
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { directory: "${pebble.directory}", directoryCa: ${pebble.directoryCaFile}, domains: [${domain}], storage: ${storage} }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
`,
      );
    });

    after(async () => {
      await portico?.stop();
      await pebble?.stop();
      if (storage !== undefined) rmSync(storage, { recursive: true, force: true });
    });

    test('renews the certificate at two thirds of its lifetime', async () => {
      const root = await pebble.root();
      const first = await eventually(() => servedFingerprint(tlsPort, root), 20_000);
      const issuedAt = Date.now();
      await eventually(
        async () => assert.notEqual(await servedFingerprint(tlsPort, root), first),
        20_000,
        200,
      );
      // Not before about two thirds of the 12 s (the first handshake came some time after issuance).
      assert.ok(Date.now() - issuedAt >= 4000, `renewed after ${Date.now() - issuedAt} ms`);
      const metrics = await (await request(`${portico.adminUrl}/metrics`)).body.text();
      assert.match(metrics, /portico_tls_acme_orders_total\{[^}]*result="issued"[^}]*\} [2-9]/);
    });
  },
);

describe(
  'ACME with workers (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    test('workers: 2 make one order and every worker serves its certificate', async (t) => {
      const httpPort = await freePort();
      const pebble = await startPebble(httpPort);
      t.after(() => pebble.stop());
      const storage = mkdtempSync(join(tmpdir(), 'portico-acme-'));
      t.after(() => rmSync(storage, { recursive: true, force: true }));
      const tlsPort = await freePort();
      const portico = await startPortico(
        ({ adminPort }) => `
workers: 2
listen:
  - { address: 127.0.0.1:${httpPort} }
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { directory: "${pebble.directory}", directoryCa: ${pebble.directoryCaFile}, domains: [${domain}], storage: ${storage} }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
`,
      );
      t.after(() => portico.stop());
      const root = await pebble.root();
      const first = await eventually(() => servedFingerprint(tlsPort, root), 30_000);
      // New connections are spread over the workers: every one must serve the same certificate.
      await eventually(async () => {
        for (let i = 0; i < 10; i++) assert.equal(await servedFingerprint(tlsPort, root), first);
      }, 15_000);
      assert.equal(pebble.output().match(/Added order/g)?.length, 1, pebble.output());
    });
  },
);

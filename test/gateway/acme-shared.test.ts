import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { createCertificateFolder } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { pebbleInstalled, startPebble, type Pebble } from '../helpers/pebble.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';

const domain = 'shared.acme.test';
const encryptionKey = 'test-acme-sealing-key-0123456789abcdefghij';

/** The certificate served for `domain` (verified against `root`), offering `alpn` when given. */
async function served(port: number, root: string, alpn?: string[]) {
  const socket = connect({ host: '127.0.0.1', port, servername: domain, ca: root, ALPNProtocols: alpn });
  try {
    await once(socket, 'secureConnect');
    const cert = socket.getPeerCertificate();
    return { fingerprint: cert.fingerprint256, serial: cert.serialNumber, alpn: socket.alpnProtocol };
  } finally {
    socket.destroy();
  }
}

interface AcmeView {
  orders: number;
  storage: string;
  challenge: string;
  lastError?: string;
}

async function acmeOf(portico: PorticoProcess): Promise<AcmeView> {
  const res = await request(`${portico.adminUrl}/v1/certificates`);
  const body = (await res.body.json()) as {
    listeners: { acme?: AcmeView; certificates: { source: string; issuer: string; notAfter: string }[] }[];
  };
  const listener = body.listeners[0];
  const acme = listener?.acme;
  assert.ok(acme !== undefined);
  for (const certificate of listener?.certificates ?? []) {
    assert.equal(certificate.source, 'acme');
    assert.match(certificate.issuer, /Pebble/);
    assert.ok(Date.parse(certificate.notAfter) > Date.now());
  }
  return acme;
}

describe(
  'ACME certificates shared through Redis by two nodes (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    let pebble: Pebble;
    let folder: string;
    const prefix = `portico-test:${randomUUID()}:`;
    const nodes: PorticoProcess[] = [];
    const tlsPorts: number[] = [];

    const startNode = async (plainPort: number, tlsPort: number) =>
      startPortico(
        ({ adminPort }) => `
listen:
  - { address: 127.0.0.1:${plainPort} }
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme:
        directory: "${pebble.directory}"
        directoryCa: ${pebble.directoryCaFile}
        domains: [${domain}]
        storage: ${folder}
        encryptionKey: \${PORTICO_ACME_KEY}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}" }
logging: { level: info, accessLog: false }
`,
        { env: { PORTICO_ACME_KEY: encryptionKey } },
      );

    before(async () => {
      // Pebble validates HTTP-01 on node A's plain listener only: when node B orders, A answers from the store.
      const httpPort = await freePort();
      pebble = await startPebble(httpPort);
      folder = join(mkdtempSync(join(tmpdir(), 'portico-acme-')), 'unused');
      tlsPorts.push(await freePort(), await freePort());
      // Node A is up before node B starts (without waiting for A's order): whichever orders, the CA's
      // validation finds A listening. Both started at once, B could order before A listens and fail once.
      nodes.push(await startNode(httpPort, tlsPorts[0] as number));
      nodes.push(await startNode(await freePort(), tlsPorts[1] as number));
    });

    after(async () => {
      for (const node of nodes) await node.stop();
      await pebble?.stop();
      await deleteRedisKeys(sharedRedisUrl, prefix);
      if (folder !== undefined) rmSync(join(folder, '..'), { recursive: true, force: true });
    });

    test('two nodes make one order and serve the same certificate', async () => {
      const root = await pebble.root();
      const [a, b] = await eventually(async () => {
        const both = await Promise.all(tlsPorts.map((port) => served(port, root)));
        assert.equal(both[0]?.fingerprint, both[1]?.fingerprint);
        return both;
      }, 30_000);
      assert.ok(a !== undefined && b !== undefined);
      const views = await Promise.all(nodes.map(acmeOf));
      assert.deepEqual(
        views.map((view) => view.storage),
        ['store', 'store'],
      );
      assert.equal(views[0]!.orders + views[1]!.orders, 1, JSON.stringify(views));
      // Pebble saw one certificate finalized, not two.
      assert.equal(pebble.output().match(/POST \/finalize-order\//g)?.length, 1, pebble.output());
      assert.equal(existsSync(folder), false, 'nothing written to the storage folder');
    });

    test('the account key and the certificate are sealed in Redis, never in the clear', async () => {
      const redis = new Redis(sharedRedisUrl);
      try {
        const keys = await redis.keys(`${prefix}acme:*`);
        assert.ok(
          keys.some((key) => key.startsWith(`${prefix}acme:cert:`)),
          keys.join(),
        );
        assert.ok(
          keys.some((key) => key.startsWith(`${prefix}acme:account:`)),
          keys.join(),
        );
        for (const key of keys) {
          const value = (await redis.get(key)) ?? '';
          assert.match(value, /^v1\./);
          assert.doesNotMatch(value, /BEGIN|PRIVATE/);
        }
      } finally {
        redis.disconnect();
      }
    });

    test('a revocation through one node orders a new certificate that both nodes then serve', async () => {
      const root = await pebble.root();
      const before = await served(tlsPorts[0] as number, root);
      // Node B revokes and orders: pebble's HTTP-01 validation reaches node A, which answers from the store.
      const res = await request(
        `${nodes[1]!.adminUrl}/v1/certificates/${encodeURIComponent(`127.0.0.1:${tlsPorts[1]}`)}/revoke`,
        { method: 'POST' },
      );
      assert.equal(res.statusCode, 202, await res.body.text());
      await eventually(async () => {
        const both = await Promise.all(tlsPorts.map((port) => served(port, root)));
        assert.notEqual(both[0]?.fingerprint, before.fingerprint);
        assert.equal(both[0]?.fingerprint, both[1]?.fingerprint);
      }, 30_000);
      const views = await Promise.all(nodes.map(acmeOf));
      assert.equal(views[0]!.orders + views[1]!.orders, 2, JSON.stringify(views));
      assert.equal(views[1]!.lastError, undefined);
      assert.equal(pebble.output().match(/POST \/revoke-cert/g)?.length, 1);
    });

    test('revoking on a listener without ACME is a 404 problem', async () => {
      const res = await request(`${nodes[0]!.adminUrl}/v1/certificates/127.0.0.1:1/revoke`, {
        method: 'POST',
      });
      assert.equal(res.statusCode, 404);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      await res.body.dump();
    });
  },
);

describe(
  'ACME TLS-ALPN-01 (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    test('a listener with no plain listener beside it obtains its certificate over TLS-ALPN-01', async (t) => {
      const tlsPort = await freePort();
      // HTTP-01 validations would go to a port where nothing listens: only TLS-ALPN-01 can succeed.
      const pebble = await startPebble(await freePort(), { tlsPort });
      t.after(() => pebble.stop());
      const storeDir = mkdtempSync(join(tmpdir(), 'portico-acme-store-'));
      t.after(() => rmSync(storeDir, { recursive: true, force: true }));
      const portico = await startPortico(
        ({ adminPort }) => `
listen:
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme:
        directory: "${pebble.directory}"
        directoryCa: ${pebble.directoryCaFile}
        domains: [${domain}]
        challenge: tls-alpn-01
        encryptionKey: \${PORTICO_ACME_KEY}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: embedded, path: ${storeDir} }
logging: { level: info, accessLog: false }
`,
        { env: { PORTICO_ACME_KEY: encryptionKey } },
      );
      t.after(() => portico.stop());
      const root = await pebble.root();
      const issued = await eventually(() => served(tlsPort, root, ['http/1.1']), 30_000);
      assert.equal(issued.alpn, 'http/1.1');
      const view = await acmeOf(portico);
      assert.equal(view.challenge, 'tls-alpn-01');
      assert.equal(view.storage, 'store');
      assert.equal(view.orders, 1);
      // With no validation pending, a client offering acme-tls/1 gets the ordinary certificate.
      const probe = await served(tlsPort, root, ['acme-tls/1']);
      assert.equal(probe.fingerprint, issued.fingerprint);
    });
  },
);

describe(
  'ACME on demand (against pebble)',
  { skip: pebbleInstalled() ? false : 'pebble is not installed' },
  () => {
    test('a first handshake for an allowed name orders its certificate; other names keep the default', async (t) => {
      const httpPort = await freePort();
      const pebble = await startPebble(httpPort);
      t.after(() => pebble.stop());
      const certs = createCertificateFolder();
      t.after(() => certs.remove());
      const fallback = certs.createCa('Default CA').issue('default.test', { names: ['default.test'] });
      const tlsPort = await freePort();
      const portico = await startPortico(
        ({ adminPort }) => `
listen:
  - { address: 127.0.0.1:${httpPort} }
  - address: 127.0.0.1:${tlsPort}
    tls:
      certificates: [{ cert: ${fallback.certFile}, key: ${fallback.keyFile} }]
      acme:
        directory: "${pebble.directory}"
        directoryCa: ${pebble.directoryCaFile}
        onDemand: { allow: ["*.ondemand.test"] }
        storage: ${certs.dir}/acme
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
`,
      );
      t.after(() => portico.stop());
      const issuerOf = async (servername: string) => {
        const socket = connect({ host: '127.0.0.1', port: tlsPort, servername, rejectUnauthorized: false });
        try {
          await once(socket, 'secureConnect');
          return socket.getPeerCertificate().issuer.CN;
        } finally {
          socket.destroy();
        }
      };
      // The first handshake gets the default certificate and starts the order.
      assert.equal(await issuerOf('shop.ondemand.test'), 'Default CA');
      await eventually(
        async () => assert.match(String(await issuerOf('shop.ondemand.test')), /Pebble/),
        30_000,
      );
      // Not allowed: a name outside the list, and two labels under the allowed parent.
      assert.equal(await issuerOf('other.test'), 'Default CA');
      assert.equal(await issuerOf('a.b.ondemand.test'), 'Default CA');
      const res = await request(`${portico.adminUrl}/v1/certificates`);
      const body = (await res.body.json()) as {
        listeners: { onDemand?: { domains: string[]; orders: number }[]; acme?: unknown }[];
      };
      const listener = body.listeners[0];
      assert.equal(listener?.acme, undefined);
      assert.deepEqual(
        listener?.onDemand?.map((status) => [status.domains, status.orders]),
        [[['shop.ondemand.test'], 1]],
      );
    });
  },
);

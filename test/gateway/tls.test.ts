import assert from 'node:assert/strict';
import { once } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { createCertificateFolder, type CertificateFolder, type TestCa } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** Opens a TLS connection and resolves with the socket once the handshake is done (or rejects). */
async function handshake(
  port: number,
  options: {
    servername?: string;
    ca: string;
    minVersion?: 'TLSv1' | 'TLSv1.2';
    maxVersion?: 'TLSv1.1' | 'TLSv1.2';
    ciphers?: string;
  },
): Promise<TLSSocket> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    ca: options.ca,
    ALPNProtocols: ['h2', 'http/1.1'],
    // Names are checked by the tests themselves: a socket without SNI is verified against no name.
    checkServerIdentity: () => undefined,
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
    ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
    ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
  });
  try {
    await once(socket, 'secureConnect');
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return socket;
}

function commonNameOf(socket: TLSSocket): string {
  const cn = socket.getPeerCertificate().subject.CN;
  socket.destroy();
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

describe('HTTPS listeners', () => {
  let certs: CertificateFolder;
  let ca: TestCa;
  let portico: PorticoProcess;
  let upstream: TestUpstream;
  let tlsPort: number;
  let strictPort: number;
  let redirectPort: number;
  let agent: Agent;

  before(async () => {
    certs = createCertificateFolder();
    ca = certs.createCa('test-ca');
    const site = ca.issue('site', { names: ['api.example.test', 'www.example.test'] });
    const wild = ca.issue('wild', { names: ['*.wild.test'] });
    upstream = await startUpstream('tls-echo');
    tlsPort = await freePort();
    strictPort = await freePort();
    redirectPort = await freePort();
    agent = new Agent({ connect: { ca: ca.cert, servername: 'api.example.test' } });
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - address: 127.0.0.1:${tlsPort}
    tls:
      certificates:
        - { cert: ${site.certFile}, key: ${site.keyFile} }
        - { cert: ${wild.certFile}, key: ${wild.keyFile} }
      hsts: { maxAge: 1d, includeSubDomains: true }
  - address: 127.0.0.1:${strictPort}
    tls:
      certificates: [{ cert: ${wild.certFile}, key: ${wild.keyFile} }]
      minVersion: TLSv1.3
    http2: { enabled: false }
  - { address: 127.0.0.1:${redirectPort}, redirectToHttps: true }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
services:
  echo: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: echo, match: { path: /** }, service: echo }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await agent?.close();
    await upstream?.close();
    certs?.remove();
  });

  test('SNI picks the exact certificate, the wildcard one, and the first one without SNI or for an unknown name', async () => {
    assert.equal(
      commonNameOf(await handshake(tlsPort, { servername: 'www.example.test', ca: ca.cert })),
      'api.example.test',
    );
    assert.equal(
      commonNameOf(await handshake(tlsPort, { servername: 'a.wild.test', ca: ca.cert })),
      '*.wild.test',
    );
    assert.equal(commonNameOf(await handshake(tlsPort, { ca: ca.cert })), 'api.example.test');
    assert.equal(
      commonNameOf(await handshake(tlsPort, { servername: 'other.test', ca: ca.cert })),
      'api.example.test',
    );
    // A wildcard covers one label only.
    assert.equal(
      commonNameOf(await handshake(tlsPort, { servername: 'a.b.wild.test', ca: ca.cert })),
      'api.example.test',
    );
  });

  test('ALPN picks h2 first, and http/1.1 only on a listener with http2 off', async () => {
    const socket = await handshake(tlsPort, { servername: 'api.example.test', ca: ca.cert });
    assert.equal(socket.alpnProtocol, 'h2');
    socket.destroy();
    const strict = await handshake(strictPort, { servername: 'a.wild.test', ca: ca.cert });
    assert.equal(strict.alpnProtocol, 'http/1.1');
    strict.destroy();
  });

  test('refuses TLS 1.0/1.1 clients by default and TLS 1.2 where minVersion is TLSv1.3', async () => {
    await assert.rejects(
      handshake(tlsPort, {
        ca: ca.cert,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
    );
    await assert.rejects(handshake(strictPort, { ca: ca.cert, maxVersion: 'TLSv1.2' }));
    const ok = await handshake(tlsPort, { ca: ca.cert, maxVersion: 'TLSv1.2' });
    assert.equal(ok.getProtocol(), 'TLSv1.2');
    ok.destroy();
    const strict = await handshake(strictPort, { ca: ca.cert });
    assert.equal(strict.getProtocol(), 'TLSv1.3');
    strict.destroy();
  });

  test('proxies over HTTPS with X-Forwarded-Proto and Forwarded proto=https, and HSTS on TLS answers only', async () => {
    const res = await request(`https://127.0.0.1:${tlsPort}/hello?x=1`, { dispatcher: agent });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=86400; includeSubDomains');
    await res.body.dump();
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.url, '/hello?x=1');
    assert.equal(seen?.headers['x-forwarded-proto'], 'https');
    assert.match(String(seen?.headers.forwarded), /proto=https/);
    // Errors the gateway answers itself carry it too.
    const missing = await request(`https://127.0.0.1:${tlsPort}/`, { dispatcher: agent, method: 'TRACE' });
    assert.equal(missing.headers['strict-transport-security'], 'max-age=86400; includeSubDomains');
    await missing.body.dump();

    const plain = await request(`${portico.url}/hello`);
    assert.equal(plain.headers['strict-transport-security'], undefined);
    await plain.body.dump();
    assert.equal(upstream.requests.at(-1)?.headers['x-forwarded-proto'], 'http');
  });

  test('a redirect listener answers 308 to the https URL with path and query kept', async () => {
    const seen = upstream.requests.length;
    const res = await request(`http://127.0.0.1:${redirectPort}/a/b?c=d&e`, {
      method: 'POST',
      headers: { host: 'shop.example.test:8080' },
      body: 'ignored',
    });
    assert.equal(res.statusCode, 308);
    assert.equal(res.headers.location, `https://shop.example.test:${tlsPort}/a/b?c=d&e`);
    await res.body.dump();
    assert.equal(upstream.requests.length, seen);
  });

  test('rotates certificate files under load without a failed request; a bad file keeps the old certificate', async (t) => {
    const next = ca.issue('site-next', { names: ['api.example.test', 'next.example.test'] });
    const fingerprint = async () => {
      const socket = await handshake(tlsPort, { servername: 'api.example.test', ca: ca.cert });
      const value = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      return value;
    };
    const old = await fingerprint();
    // A kept-alive connection opened before the rotation keeps working after it.
    const keptAlive = new Agent({ connect: { ca: ca.cert, servername: 'api.example.test' }, connections: 1 });
    const first = await request(`https://127.0.0.1:${tlsPort}/kept`, { dispatcher: keptAlive });
    await first.body.dump();

    let failures = 0;
    let done = 0;
    let stop = false;
    const load = (async () => {
      // Fresh handshakes (one connection per request) and kept-alive requests both run through the swap.
      while (!stop && done < 5000) {
        const fresh = new Agent({ connect: { ca: ca.cert, servername: 'api.example.test' } });
        try {
          const [a, b] = await Promise.all([
            request(`https://127.0.0.1:${tlsPort}/load`, { dispatcher: fresh }),
            request(`https://127.0.0.1:${tlsPort}/load`, { dispatcher: keptAlive }),
          ]);
          if (a.statusCode !== 200 || b.statusCode !== 200) failures++;
          await Promise.all([a.body.dump(), b.body.dump()]);
        } catch {
          failures++;
        }
        done++;
        await fresh.close();
      }
    })();
    // Key first, then the certificate: in between, the pair does not match and the old one must stay.
    writeFileSync(join(certs.dir, 'site.crt.tmp'), next.cert);
    renameSync(join(certs.dir, 'site.crt.tmp'), join(certs.dir, 'site.crt'));
    await eventually(async () => {
      const res = await request(`${portico.adminUrl}/v1/certificates`);
      const body = (await res.body.json()) as { listeners: { lastError?: string }[] };
      assert.match(String(body.listeners[0]?.lastError), /does not match/);
    }, 10_000);
    assert.equal(await fingerprint(), old);
    writeFileSync(join(certs.dir, 'site.key'), next.key);
    await eventually(async () => assert.notEqual(await fingerprint(), old), 10_000);
    // Keep the load going a while on the new certificate too.
    const target = done + 100;
    await eventually(() => assert.ok(done >= target), 30_000);
    stop = true;
    await load;
    await keptAlive.close();
    assert.equal(failures, 0);
    assert.ok(done > 0);
    t.diagnostic(`${done * 2} requests (${done} new handshakes) during the rotation, ${failures} failed`);

    const status = await request(`${portico.adminUrl}/v1/certificates`);
    const body = (await status.body.json()) as {
      listeners: { listener: string; lastError?: string; certificates: { names: string[] }[] }[];
    };
    assert.equal(body.listeners[0]?.lastError, undefined);
    assert.deepEqual(body.listeners[0]?.certificates[0]?.names, ['api.example.test', 'next.example.test']);
    const metrics = await (await request(`${portico.adminUrl}/metrics`)).body.text();
    assert.match(metrics, /portico_tls_certificate_reloads_total\{[^}]*result="rejected"[^}]*\} [1-9]/);
    assert.match(metrics, /portico_tls_certificate_reloads_total\{[^}]*result="applied"[^}]*\} [1-9]/);
  });
});

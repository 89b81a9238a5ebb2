import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { createCertificateFolder, type CertificateFolder } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

describe('TLS to upstreams', () => {
  let certs: CertificateFolder;
  let portico: PorticoProcess;
  let server: Server;
  let wss: WebSocketServer;
  /** Client certificate CN of each request the upstream served, by path. */
  const seen: { path: string; client: string | undefined }[] = [];

  before(async () => {
    certs = createCertificateFolder();
    const upstreamCa = certs.createCa('upstream-ca');
    const gatewayCa = certs.createCa('gateway-ca');
    const site = upstreamCa.issue('upstream', { names: ['upstream.test'] });
    const gatewayClient = gatewayCa.issue('gateway-client', { names: ['portico.test'], client: true });
    server = createServer(
      { cert: site.cert, key: site.key, ca: gatewayCa.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const cn = socket.authorized ? socket.getPeerCertificate().subject.CN : undefined;
        seen.push({ path: req.url ?? '', client: Array.isArray(cn) ? cn[0] : cn });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, client: cn ?? null }));
      },
    );
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${String(data)}`)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  secure:
    instances: [{ url: "${url}" }]
    tls: { ca: ${upstreamCa.certFile}, cert: ${gatewayClient.certFile}, key: ${gatewayClient.keyFile}, serverName: upstream.test }
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s }
  untrusted:
    instances: [{ url: "${url}" }]
  wrong-name:
    instances: [{ url: "${url}" }]
    tls: { ca: ${upstreamCa.certFile}, serverName: other.test }
  unverified:
    instances: [{ url: "${url}" }]
    tls: { rejectUnauthorized: false }
routes:
  - { name: secure, match: { path: /secure/** }, service: secure, stripPrefix: /secure }
  - { name: untrusted, match: { path: /untrusted/** }, service: untrusted }
  - { name: wrong-name, match: { path: /wrong-name/** }, service: wrong-name }
  - { name: unverified, match: { path: /unverified/** }, service: unverified }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    certs?.remove();
  });

  test('proxies to an https instance signed by a private CA, presenting the client certificate', async () => {
    const res = await request(`${portico.url}/secure/hello`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { path: '/hello', client: 'portico.test' });
  });

  test('an instance certificate that is not trusted or names another host gives 502 upstream_tls_error', async () => {
    for (const path of ['/untrusted/x', '/wrong-name/x']) {
      const res = await request(`${portico.url}${path}`);
      assert.equal(res.statusCode, 502, path);
      const body = (await res.body.json()) as { code: string };
      assert.equal(body.code, 'upstream_tls_error', path);
    }
    assert.equal(
      seen.some((s) => s.path === '/untrusted/x' || s.path === '/wrong-name/x'),
      false,
    );
  });

  test('rejectUnauthorized: false accepts any certificate', async () => {
    const res = await request(`${portico.url}/unverified/x`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.match(portico.output(), /does not verify the certificates of its https instances/);
  });

  test('health checks use the same TLS settings', async () => {
    await eventually(() => assert.ok(seen.some((s) => s.path === '/healthz' && s.client === 'portico.test')));
  });

  test('WebSocket upgrades reach an https instance (wss) with the same TLS settings', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${portico.port}/secure/ws`);
    await once(client, 'open');
    client.send('hi');
    const [data] = (await once(client, 'message')) as [Buffer];
    assert.equal(String(data), 'echo:hi');
    client.close();
  });
});
